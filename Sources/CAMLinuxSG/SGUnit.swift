#if canImport(Glibc)
import Glibc
#endif
import CAM
import CCAMLinuxSG

/// An sg descriptor that the submitting threads and the poller's thread share.
final class SGFile: Sendable {
    let sg: SGDescriptor
    /// Which of its unit's descriptors this is: its pack_ids are `index * 16 ..< index * 16 + 16`.
    let index: Int
    init(path: String, index: Int) throws(LinuxSGError) {
        sg = try SGDescriptor(path: path)
        self.index = index
    }
}

/// One sg device as the SIM drives it: its descriptors, its command slots, what is in flight.
///
/// Depth above the driver's 16 per descriptor: the unit opens several descriptors and the SIM
/// offers 16 slots for each, so that many commands reach the kernel (and the device's own
/// queue) at once; the XPT keeps anything beyond in the device's pending queue, where CAM's
/// fair sharing between handles applies. A slot number is the command's pack_id.
final class SGUnit: @unchecked Sendable {
    // @unchecked: `files`, `slots`, `free`, `outstanding`, `removed`, `abandoned` and
    // `hangupAt` are guarded by `lock`; `info` is set in init.
    let info: SGDeviceInfo
    /// Emptied once a removed unit has drained, which closes the descriptors: the kernel
    /// keeps a removed device's sg number taken while any descriptor on it is open, and a
    /// device that comes back should get its old number.
    private var files: [SGFile]
    let lock = CAMLock()
    private var slots: [CCB?]
    private var free: [Int32]
    private(set) var outstanding = 0
    /// The device went away (POLLHUP, ENODEV): start refuses, completions say not there.
    private(set) var removed = false
    /// Given up on: what is still out was completed as not there; never read again.
    private var abandoned = false
    private var hangupAt: UInt64 = 0

    var devicePath: String { info.devicePath }

    init(info: SGDeviceInfo, descriptors: Int) throws(LinuxSGError) {
        self.info = info
        var files: [SGFile] = []
        for i in 0..<max(1, descriptors) {
            files.append(try SGFile(path: info.devicePath, index: i))
        }
        self.files = files
        let n = files.count * SGDescriptor.maxOutstanding
        slots = [CCB?](repeating: nil, count: n)
        // Lowest slots first, so one descriptor fills before the next is used.
        free = (0..<Int32(n)).reversed().map { $0 }
    }

    /// Takes a slot for `ccb` and the descriptor it belongs to; nil when the unit is removed
    /// or (never, with the XPT counting slots) full.
    func claim(_ ccb: CCB) -> (slot: Int32, file: SGFile)? {
        lock.lock()
        defer { lock.unlock() }
        guard !removed, let slot = free.popLast() else { return nil }
        slots[Int(slot)] = ccb
        outstanding += 1
        return (slot, files[Int(slot) / SGDescriptor.maxOutstanding])
    }

    /// The descriptors now (none once a removed unit has drained).
    var currentFiles: [SGFile] { lock.withLock { files } }

    /// Drops the descriptors; each closes when the last user lets go of it.
    func closeFiles() -> [SGFile] {
        lock.withLock {
            let f = files
            files = []
            return f
        }
    }

    /// Gives back the slot of a command that did not start.
    func unclaim(_ slot: Int32) {
        lock.lock()
        slots[Int(slot)] = nil
        free.append(slot)
        outstanding -= 1
        lock.unlock()
    }

    /// The command in `slot`, which completed; nil for a slot not in use (an abandoned one).
    func release(_ slot: Int32) -> (CCB, removed: Bool)? {
        lock.lock()
        defer { lock.unlock() }
        guard slot >= 0, Int(slot) < slots.count, let ccb = slots[Int(slot)], !abandoned else { return nil }
        slots[Int(slot)] = nil
        free.append(slot)
        outstanding -= 1
        return (ccb, removed)
    }

    /// Marks the unit removed; true the first time.
    func markRemoved(now: UInt64) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if removed { return false }
        removed = true
        hangupAt = now
        return true
    }

    /// After removal: true when nothing is outstanding any more or the grace period is over;
    /// in the latter case returns the commands to complete as not there, and the unit is
    /// never read again (the kernel copies data into user memory only when we read).
    func finishDraining(now: UInt64, graceNanoseconds: UInt64) -> (done: Bool, leftovers: [CCB]) {
        lock.lock()
        defer { lock.unlock() }
        if abandoned { return (true, []) }
        if outstanding == 0 { return (true, []) }
        guard now &- hangupAt >= graceNanoseconds else { return (false, []) }
        abandoned = true
        let left = slots.compactMap { $0 }
        for i in slots.indices { slots[i] = nil }
        outstanding = 0
        return (true, left)
    }

    /// Everything outstanding, taken away (shutdown).
    func abandonAll() -> [CCB] {
        lock.lock()
        defer { lock.unlock() }
        abandoned = true
        removed = true
        let left = slots.compactMap { $0 }
        for i in slots.indices { slots[i] = nil }
        outstanding = 0
        return left
    }

    var isRemoved: Bool { lock.withLock { removed } }
}
