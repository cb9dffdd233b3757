#if canImport(Glibc)
import Glibc
#endif
import CAM
import CCAM

/// A disk's completions while a pass handle polls it (`CAMPollingSIM`): the emulator's timer
/// and I/O threads park finished CCBs here and make the eventfd readable, and the polling
/// thread completes them in `drain`. When nobody polls, `offer` completes at once as before.
///
/// Its lock is a leaf, taken after none of the emulator's other locks and held while calling
/// nothing but eventfd reads and writes.
final class PolledCompletions: @unchecked Sendable {
    // @unchecked: `active`, `parked` and `descriptor` are guarded by `lock`.
    private let lock = CAMLock()
    private var active = false
    private var parked: [(CCB, CAMBus)] = []
    /// Readable while CCBs are parked; made on the first `start`, closed with the disk.
    private var descriptor: Int32 = -1

    deinit { if descriptor >= 0 { close(descriptor) } }

    /// Polling starts: completions park from now on. Returns the descriptor to watch.
    func start() -> Int32? {
        lock.lock()
        defer { lock.unlock() }
        if descriptor < 0 {
            descriptor = ccam_eventfd_nonblocking(0)
            if descriptor < 0 { return nil }
        }
        active = true
        return descriptor
    }

    /// The descriptor, once `start` made it.
    var descriptorIfActive: Int32? { lock.withLock { descriptor >= 0 ? descriptor : nil } }

    /// Polling ends: what is parked is completed now, and later completions go straight on.
    func stop() {
        lock.lock()
        active = false
        let taken = takeLocked()
        lock.unlock()
        for (ccb, bus) in taken { bus.complete(ccb, direct: true) }
    }

    /// A finished CCB: parked while polled, else handed to CAM (`direct` as the caller would).
    func offer(_ ccb: CCB, bus: CAMBus, direct: Bool) {
        lock.lock()
        if active {
            if parked.isEmpty {
                var one: UInt64 = 1
                while write(descriptor, &one, 8) < 0 && errno == EINTR {}
            }
            parked.append((ccb, bus))
            lock.unlock()
            return
        }
        lock.unlock()
        bus.complete(ccb, direct: direct)
    }

    /// Completes what is parked, on the calling thread. Returns how many.
    func drain() -> Int {
        lock.lock()
        let taken = takeLocked()
        lock.unlock()
        for (ccb, bus) in taken { bus.complete(ccb, direct: true) }
        return taken.count
    }

    private func takeLocked() -> [(CCB, CAMBus)] {
        guard !parked.isEmpty else { return [] }
        let taken = parked
        parked.removeAll(keepingCapacity: true)
        var v: UInt64 = 0
        while read(descriptor, &v, 8) < 0 && errno == EINTR {}
        return taken
    }
}
