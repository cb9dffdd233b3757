#if canImport(Glibc)
import Glibc
#endif
import CAM
import CCAMSystem

/// An sg descriptor that the submitting threads and the poller's thread share.
final class SGFile: Sendable {
    let sg: SGDescriptor
    /// Which of its unit's descriptors this is: its pack_ids are `index * n ..< index * n + n`
    /// for a unit of n commands per descriptor.
    let index: Int
    init(path: String, index: Int) throws(LinuxSGError) {
        sg = try SGDescriptor(path: path)
        self.index = index
    }
}

/// One sg device as the SIM drives it: its descriptors, its command slots, what is in flight.
///
/// Depth above the driver's 16 per descriptor: the unit opens several descriptors and the SIM
/// offers up to 16 slots for each, so that many commands reach the kernel (and the device's own
/// queue) at once; the XPT keeps anything beyond in the device's pending queue, where CAM's
/// fair sharing between handles applies. A slot number is the command's pack_id.
///
/// Per-command cost: the driver moves data through a kernel buffer. A descriptor's reserved
/// buffer (SG_SET_RESERVED_SIZE) serves one command at a time with no allocation; any other
/// command gets pages allocated and zeroed for it. So a command goes to the least busy
/// descriptor (up to a depth of the descriptor count, each command has one to itself), and an
/// idle descriptor's reserved buffer grows to the largest transfer it has been given (the
/// driver caps it at the queue's max_sectors): memory follows use, and a unit that is only
/// scanned keeps the driver's default.
///
/// Polled completion (`LinuxSGSIM.poll`): `polled` says the application's threads collect;
/// reads of the descriptors are serialized by `readLock`, which also keeps a collector from
/// reading (the kernel copies data into the CCB's memory at read time) once the unit's
/// commands were given up on.
final class SGUnit: @unchecked Sendable {
    // @unchecked: `files`, `slots`, `freeByFile`, `busy`, `busyMask`, `reserved`, `outstanding`,
    // `removed`, `abandoned`, `hangupAt`, `polled`, `closeDeferred` and `lastHangupCheck` are
    // guarded by `lock`; `info` is set in init. Lock order: `readLock` before `lock`.
    let info: SGDeviceInfo
    /// Emptied once a removed unit has drained, which closes the descriptors: the kernel
    /// keeps a removed device's sg number taken while any descriptor on it is open, and a
    /// device that comes back should get its old number.
    private var files: [SGFile]
    let lock = CAMLock()
    /// Held around each read(2) of a completion and the release of its slot.
    let readLock = CAMLock()
    private var slots: [CCB?]
    /// Free slots of each descriptor, lowest on top.
    private var freeByFile: [[Int32]]
    /// Commands out on each descriptor, and a bit per descriptor that has any.
    private var busy: [Int]
    /// Bit f of word f / 64: descriptors 0..<128 (64 general, the rest mapped).
    private var busyMask: SGDescriptorMask = SGDescriptorMask()
    /// The reserved buffer size each descriptor has or was asked for.
    private var reserved: [Int]
    private(set) var outstanding = 0
    /// The device went away (POLLHUP, ENODEV): start refuses, completions say not there.
    private(set) var removed = false
    /// Given up on: what is still out was completed as not there; never read again.
    private var abandoned = false
    private var hangupAt: UInt64 = 0
    /// Completions are collected by `LinuxSGSIM.poll` on the application's threads.
    private(set) var polled = false
    /// The unit drained after a removal while polled: the descriptors close when polling
    /// stops (the poller promised them valid until then).
    private var closeDeferred = false
    /// When a collector last asked the driver whether the device hung up (`shouldCheckHangup`).
    private var lastHangupCheck: UInt64 = 0

    var devicePath: String { info.devicePath }

    /// Commands each descriptor takes (at most the driver's 16).
    let perFile: Int
    /// The descriptors opened for commands in general; those after them each serve one
    /// mapped buffer (`addMapped`), one command at a time, with slots after the general ones.
    let generalFiles: Int
    /// Start address and size of each mapped descriptor's buffer, by index past
    /// `generalFiles`; 0 once its owner let it go.
    private var mappedBases: [UInt] = []
    private var mappedSizes: [Int] = []

    init(info: SGDeviceInfo, descriptors: Int, commandsEach: Int) throws(LinuxSGError) {
        self.info = info
        perFile = min(SGDescriptor.maxOutstanding, max(1, commandsEach))
        var files: [SGFile] = []
        var initialReserve: [Int] = []
        for i in 0..<min(64, max(1, descriptors)) {
            let file = try SGFile(path: info.devicePath, index: i)
            // The driver gives each descriptor a 32 KiB reserved buffer at open; a unit's
            // grow to what its commands move (`claim`), so they start at the least (a page).
            try? file.sg.setReservedSize(0)
            files.append(file)
            // What the driver gave (a page), so a command that fits asks for nothing.
            initialReserve.append((try? file.sg.reservedSize()) ?? 0)
        }
        self.files = files
        generalFiles = files.count
        let n = files.count * perFile
        slots = [CCB?](repeating: nil, count: n)
        let per = perFile
        freeByFile = (0..<files.count).map { f in (0..<per).reversed().map { Int32(f * per + $0) } }
        busy = [Int](repeating: 0, count: files.count)
        reserved = initialReserve
    }

    /// Takes a slot for `ccb`, which moves `length` bytes, and the descriptor it belongs to;
    /// nil when the unit is removed or (never, with the XPT counting slots) full.
    /// `growReserve`: the descriptor is idle and its reserved buffer smaller than `length`, so
    /// the caller should ask for that size before starting the command (once per size: a
    /// failure or a smaller buffer is not retried). `mapped`: the data is the descriptor's own
    /// mapped reserved buffer, to start with SG_FLAG_MMAP_IO.
    func claim(_ ccb: CCB, length: Int) -> (slot: Int32, file: SGFile, growReserve: Int?, mapped: Bool)? {
        lock.lock()
        defer { lock.unlock() }
        guard !removed, !files.isEmpty else { return nil }
        // Data in a mapped buffer whose descriptor is idle: that descriptor, mmap-ed I/O.
        if !mappedBases.isEmpty, case .buffer(let b) = ccb.data, let base = b.baseAddress {
            let address = UInt(bitPattern: base)
            for m in mappedBases.indices where mappedBases[m] == address && b.count <= mappedSizes[m] {
                let f = generalFiles + m
                guard busy[f] == 0, let slot = freeByFile[f].popLast() else { break }
                slots[Int(slot)] = ccb
                outstanding += 1
                busy[f] = 1
                busyMask.insert(f)
                return (slot, files[f], nil, true)
            }
        }
        // The least busy descriptor, the first of equals: up to one command per descriptor
        // each has a reserved buffer to itself. An idle one is the least busy: found at once,
        // lowest first.
        let idle = ~busyMask.low & (generalFiles == 64 ? ~0 : (1 << UInt64(generalFiles)) - 1)
        var f = idle != 0 ? idle.trailingZeroBitCount : -1
        if f < 0 {
            var most = 0
            for i in 0..<generalFiles where freeByFile[i].count > most {
                f = i
                most = freeByFile[i].count
            }
        }
        guard f >= 0, let slot = freeByFile[f].popLast() else { return nil }
        slots[Int(slot)] = ccb
        outstanding += 1
        var grow: Int?
        if busy[f] == 0 && length > reserved[f] {
            reserved[f] = length
            grow = length
        }
        busy[f] += 1
        busyMask.insert(f)
        return (slot, files[f], grow, false)
    }

    /// The descriptor of `slot`.
    private func fileIndex(_ slot: Int32) -> Int {
        let s = Int(slot)
        let general = generalFiles * perFile
        return s < general ? s / perFile : generalFiles + (s - general)
    }

    /// Adds a descriptor whose reserved buffer is mapped at `base` (`size` bytes): commands
    /// whose data is exactly that buffer go to it with SG_FLAG_MMAP_IO. Its index past the
    /// general descriptors, or nil when the unit is removed, polled (the pollers' descriptor
    /// list is fixed) or has 64 descriptors.
    func addMapped(_ file: SGFile, base: UnsafeMutableRawPointer, size: Int) -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard !removed, !polled, !files.isEmpty, files.count < SGDescriptorMask.capacity, file.index == files.count else { return nil }
        let slot = Int32(slots.count)
        files.append(file)
        slots.append(nil)
        freeByFile.append([slot])
        busy.append(0)
        reserved.append(size)
        mappedBases.append(UInt(bitPattern: base))
        mappedSizes.append(size)
        return mappedBases.count - 1
    }

    /// The next descriptor index, for a descriptor about to be added.
    var nextFileIndex: Int { lock.withLock { files.count } }

    /// A mapped descriptor whose buffer was let go, with a reserved buffer of at least
    /// `size` bytes: its index and descriptor, to map again (the driver fixes a descriptor's
    /// reserved buffer once it is mapped).
    func unusedMapping(size: Int) -> (index: Int, file: SGFile, size: Int)? {
        lock.withLock {
            guard !removed, !polled else { return nil }
            for m in mappedBases.indices where mappedBases[m] == 0 && mappedSizes[m] >= size {
                mappedBases[m] = 1 // taken; `remap` puts the address in
                return (m, files[generalFiles + m], mappedSizes[m])
            }
            return nil
        }
    }

    /// Routes mapped descriptor `m` to its new mapping at `base` (0: leaves it unused).
    func remap(_ m: Int, base: UnsafeMutableRawPointer?) {
        lock.withLock { mappedBases[m] = UInt(bitPattern: base) }
    }

    /// A mapped buffer's owner let it go: commands in that memory are no longer sent to it.
    func forgetMapping(_ m: Int) {
        lock.withLock { if m < mappedBases.count { mappedBases[m] = 0 } }
    }

    /// The descriptors now (none once a removed unit has drained).
    var currentFiles: [SGFile] { lock.withLock { files } }

    /// Drops the descriptors; each closes when the last user lets go of it. While polled
    /// (and `evenIfPolled` is false) nothing closes until `stopPolling`.
    func closeFiles(evenIfPolled: Bool = true) -> [SGFile] {
        lock.withLock {
            if polled && !evenIfPolled {
                closeDeferred = true
                return []
            }
            let f = files
            files = []
            return f
        }
    }

    /// Gives back the slot of a command that did not start.
    func unclaim(_ slot: Int32) {
        lock.lock()
        freeSlotLocked(slot)
        lock.unlock()
    }

    private func freeSlotLocked(_ slot: Int32) {
        slots[Int(slot)] = nil
        let f = fileIndex(slot)
        freeByFile[f].append(slot)
        outstanding -= 1
        busy[f] -= 1
        if busy[f] == 0 { busyMask.remove(f) }
    }

    /// The command in `slot`, which completed; nil for a slot not in use (an abandoned one).
    /// `drained`: its descriptor has nothing else out, so a further read would find nothing.
    func release(_ slot: Int32) -> (ccb: CCB, removed: Bool, drained: Bool)? {
        lock.lock()
        defer { lock.unlock() }
        guard slot >= 0, Int(slot) < slots.count, let ccb = slots[Int(slot)], !abandoned else { return nil }
        freeSlotLocked(slot)
        return (ccb, removed, busy[fileIndex(slot)] == 0)
    }

    /// The descriptors that have commands out (`file(at:)`) while polled; empty when not
    /// polled or once the unit was given up on.
    var polledBusyFiles: SGDescriptorMask { lock.withLock { polled && !abandoned ? busyMask : SGDescriptorMask() } }

    /// Descriptor `index`, while the unit has it.
    func file(at index: Int) -> SGFile? {
        lock.withLock { index < files.count ? files[index] : nil }
    }

    /// Whether descriptor `index` may be read now; call with `readLock` held.
    func mayRead(_ index: Int) -> Bool {
        lock.withLock { !abandoned && index < busy.count && busy[index] > 0 }
    }

    /// Marks the unit removed; true the first time. `polled`: whether collectors poll it.
    func markRemoved(now: UInt64) -> (first: Bool, polled: Bool) {
        lock.lock()
        defer { lock.unlock() }
        if removed { return (false, polled) }
        removed = true
        hangupAt = now
        return (true, polled)
    }

    /// After removal: true when nothing is outstanding any more or the grace period is over;
    /// in the latter case returns the commands to complete as not there, and the unit is
    /// never read again (the kernel copies data into user memory only when we read).
    func finishDraining(now: UInt64, graceNanoseconds: UInt64) -> (done: Bool, leftovers: [CCB]) {
        readLock.lock()
        lock.lock()
        defer {
            lock.unlock()
            readLock.unlock()
        }
        if abandoned { return (true, []) }
        if outstanding == 0 { return (true, []) }
        guard now &- hangupAt >= graceNanoseconds else { return (false, []) }
        return (true, abandonLocked())
    }

    /// Everything outstanding, taken away (shutdown).
    func abandonAll() -> [CCB] {
        readLock.lock()
        lock.lock()
        defer {
            lock.unlock()
            readLock.unlock()
        }
        removed = true
        return abandonLocked()
    }

    private func abandonLocked() -> [CCB] {
        abandoned = true
        let left = slots.compactMap { $0 }
        for i in slots.indices { slots[i] = nil }
        outstanding = 0
        for i in busy.indices { busy[i] = 0 }
        busyMask = SGDescriptorMask()
        return left
    }

    var isRemoved: Bool { lock.withLock { removed } }

    /// Whether collectors poll the unit (`startPolling` and no `stopPolling` since).
    var isPolled: Bool { lock.withLock { polled } }

    // MARK: polling

    /// Polling starts: returns the descriptors, or nil when the unit is removed or closed.
    func startPolling() -> [SGFile]? {
        lock.withLock {
            guard !removed, !files.isEmpty, !polled else { return nil }
            polled = true
            return files
        }
    }

    /// Polling stops: returns the descriptors to close (the unit drained meanwhile after a
    /// removal), or nil when the SIM's thread should take them back.
    func stopPolling() -> [SGFile]? {
        lock.withLock {
            guard polled else { return [] }
            polled = false
            guard closeDeferred else { return nil }
            closeDeferred = false
            let f = files
            files = []
            return f
        }
    }

    /// A collector found nothing with commands out: whether to ask the driver if the device
    /// hung up (a non-blocking read never says so). At most every `intervalNanoseconds`, so
    /// a collector that is called often pays for it rarely.
    func shouldCheckHangup(now: UInt64, intervalNanoseconds: UInt64) -> Bool {
        lock.withLock {
            guard !removed, outstanding > 0, now &- lastHangupCheck >= intervalNanoseconds else { return false }
            lastHangupCheck = now
            return true
        }
    }
}

/// A set of a unit's descriptors by index, 0..<128, in two words.
struct SGDescriptorMask: Sendable {
    static let capacity = 128
    var low: UInt64 = 0
    var high: UInt64 = 0

    var isEmpty: Bool { low | high == 0 }

    mutating func insert(_ i: Int) {
        if i < 64 { low |= 1 << UInt64(i) } else { high |= 1 << UInt64(i - 64) }
    }

    mutating func remove(_ i: Int) {
        if i < 64 { low &= ~(1 << UInt64(i)) } else { high &= ~(1 << UInt64(i - 64)) }
    }

    /// Takes the lowest member out and returns it; nil when empty.
    mutating func popFirst() -> Int? {
        if low != 0 {
            let i = low.trailingZeroBitCount
            low &= low - 1
            return i
        }
        if high != 0 {
            let i = high.trailingZeroBitCount
            high &= high - 1
            return 64 + i
        }
        return nil
    }
}
