#if canImport(Glibc)
import Glibc
#endif
import CAM
import CAMSystem

/// A disk's completions for pass handles that poll (`CAMPollingSIM`): the emulator's timer
/// and I/O threads park a finished CCB here when its device is polled (`CCB.isDevicePolled`)
/// and make the eventfd readable; the polling thread completes them in `drain`. Other CCBs
/// complete at once, as without polling. When polling stops, CAM polls once more, so nothing
/// stays parked for a device nobody polls.
///
/// Its lock is a leaf, held while calling nothing but eventfd reads and writes.
final class PolledCompletions: @unchecked Sendable {
    // @unchecked: `parked` and `event` are guarded by `lock`.
    private let lock = CAMLock()
    private var parked: [(CCB, CAMBus)] = []
    /// Readable while CCBs are parked; made by the first `descriptorForPolling`, closed with
    /// the disk (the SIM keeps polled disks, so it stays valid while anyone may watch it).
    private var event: EventFD?

    /// The descriptor pollers watch (made on first use), or nil when eventfd fails.
    func descriptorForPolling() -> Int32? {
        lock.lock()
        defer { lock.unlock() }
        if event == nil { event = try? EventFD(for: "an emulated disk's polled completions") }
        return event?.descriptor
    }

    /// A finished CCB: parked while its device is polled, else handed to CAM.
    func offer(_ ccb: CCB, bus: CAMBus) {
        lock.lock()
        // Checked under the lock: CAM marks the device unpolled before its flushing poll takes
        // this lock, so a CCB parked here is always seen by that poll or a later one.
        if event != nil && ccb.isDevicePolled {
            if parked.isEmpty { event?.signal() }
            parked.append((ccb, bus))
            lock.unlock()
            return
        }
        lock.unlock()
        bus.complete(ccb)
    }

    /// Completes what is parked, on the calling thread. Returns how many.
    func drain() -> Int {
        lock.lock()
        guard !parked.isEmpty else { lock.unlock(); return 0 }
        let taken = parked
        parked.removeAll(keepingCapacity: true)
        event?.drain()
        lock.unlock()
        for (ccb, bus) in taken { bus.complete(ccb) }
        return taken.count
    }
}
