import CAM
import SCSI

/// One target on the emulator's bus: its LUNs, and the lock that guards them and their state.
/// The command path takes this lock and no other.
final class TargetSlot: @unchecked Sendable {
    // @unchecked: `disks`, `bus` and `weakBus` are guarded by `lock`; `target` never changes.
    let target: Int
    let lock = CAMLock()
    /// Sorted by LUN; a target usually has one, so a linear search beats hashing.
    var disks: [EmulatedDisk] = []
    /// Strong until shutdown (the bus and the SIM keep each other; shutdown breaks the cycle).
    var bus: CAMBus?
    /// For commands that still arrive after shutdown: completed as device-not-there while the
    /// XPT (which owns the bus) lives.
    weak var weakBus: CAMBus?

    init(target: Int) { self.target = target }

    @inline(__always)
    func diskLocked(_ lun: UInt64) -> EmulatedDisk? {
        for d in disks where d.lun == lun { return d }
        return nil
    }
}

/// The emulated SCSI bus: a SIM whose targets are emulated direct-access disks (RAM or file
/// backed), for quick starts, tests and benchmarks. FreeBSD has no direct counterpart; it
/// plays the part of a `cam_sim` such as ahci(4) or mpr(4), with the disk itself emulated.
///
/// On a RAM disk with no latency a command completes inside `start`, on the queuing thread,
/// with one lock taken (the target's) and nothing allocated. A file-backed disk runs its
/// commands on its own I/O thread (`queue()` never waits for the file system). With latency,
/// a timer thread completes a command when due, so queue depth matters and random latency
/// returns completions out of order.
///
/// Locks, in order: the XPT's topology lock (held when CAM asks `deviceName`), then
/// `configuration` (adding, removing, scanning), then a target's lock. The locks of timers
/// and I/O threads are leaves, never held with a target's lock. No lock of the emulator is
/// held while calling CAM.
public final class EmulatorSIM: CAMSIMDriver, @unchecked Sendable {
    // @unchecked: `attachedBus`, `scanned` and `isShutDown` are guarded by `configuration`;
    // `slots` and `timers` are fixed at init; each slot guards itself; `polledDisks` is
    // guarded by `pollRegistry`.
    private let slots: [TargetSlot]
    private let timers: [CompletionTimer]
    private let configuration = CAMLock()
    private var attachedBus: CAMBus?
    private var scanned = false
    private var isShutDown = false
    private var nextTimer = 0
    /// Disks ever polled (a leaf lock; kept, with their descriptors, until the SIM goes).
    private let pollRegistry = CAMLock()
    private var polledDisks: [EmulatedDisk] = []

    /// Largest data transfer of one CCB (path inquiry's maxio; the block limits page reports
    /// it as MAXIMUM TRANSFER LENGTH).
    public let maxIO: Int
    /// Commands the XPT starts at once per device. Set above a disk's task slots to see TASK
    /// SET FULL.
    public let commandSlots: Int
    /// Completions go through CAM's completion threads rather than the emulator's own.
    public let completeOnWorkers: Bool

    /// Targets 0...255 and LUNs 0...16383 (the single-level flat addressing limit).
    public static let maxTarget = 255
    public static let maxLUN: UInt64 = 16383

    /// An emulator bus with no disks yet: add them with `addDisk`, then register it with an XPT.
    /// `completionThreads` timer threads complete delayed commands (disks are spread over them).
    /// `completeOnWorkers`: the timer threads hand delayed completions to the XPT's completion
    /// workers (hashed by bus:target:lun) instead of processing them on their own thread.
    public init(maxIO: Int = 1 << 20, commandSlots: Int = 256, completionThreads: Int = 1, completeOnWorkers: Bool = false) {
        self.completeOnWorkers = completeOnWorkers
        self.maxIO = max(4096, maxIO)
        self.commandSlots = max(1, commandSlots)
        slots = (0...Self.maxTarget).map { TargetSlot(target: $0) }
        timers = (0..<max(1, completionThreads)).map { CompletionTimer(name: "emu-timer\($0)") }
    }

    deinit {
        for t in timers { for e in t.stop() { CompletionTimer.fire(e, overrideStatus: .deviceNotThere) } }
    }

    // MARK: CAMSIM

    /// XPT_PATH_INQ: SIM "emu", transport "Emulated", this bus's maxio and command slots.
    public var pathInquiry: PathInquiry {
        PathInquiry(maxIO: maxIO, commandSlots: commandSlots, simName: "emu", transport: "Emulated",
                    maxTarget: Self.maxTarget, maxLUN: Self.maxLUN, hbaVendor: "SwiftCAM",
                    completesDirectly: !completeOnWorkers)
    }

    /// Keeps the bus to complete commands on (set once, before any command).
    package func attached(to bus: CAMBus) {
        configuration.withLock { attachedBus = bus }
        for s in slots {
            s.lock.withLock {
                s.bus = bus
                s.weakBus = bus
            }
        }
    }

    /// XPT_SCAN_BUS: the targets with disks. From now on `addDisk` is a hot add.
    package func discover() throws(CAMError) -> [SIMTarget] {
        configuration.withLock {
            scanned = true
            var out: [SIMTarget] = []
            for s in slots where s.lock.withLock({ !s.disks.isEmpty }) {
                // LUNs nil: the XPT asks the target with REPORT LUNS, as it would a real one.
                out.append(SIMTarget(target: s.target, luns: nil))
            }
            return out
        }
    }

    /// Runs an XPT_SCSI_IO (or XPT_RESET_DEV) CCB on the disk at `path`: inline when a RAM
    /// disk has no latency, on the disk's I/O thread when it is file-backed, and completed by
    /// a timer thread when due when it has latency. Never waits for I/O or another command.
    package func start(_ ccb: CCB, at path: CAMPath) {
        guard path.target >= 0 && path.target < slots.count else {
            guard let bus = configuration.withLock({ attachedBus }) else { return }
            ccb.complete(status: .targetIDInvalid, residual: ccb.data.length)
            bus.complete(ccb)
            return
        }
        let slot = slots[path.target]
        slot.lock.lock()
        guard let bus = slot.bus else {
            let late = slot.weakBus
            slot.lock.unlock()
            ccb.complete(status: .deviceNotThere, residual: ccb.data.length)
            late?.complete(ccb)
            return
        }
        guard ccb.function == .scsiIO else {
            slot.lock.unlock()
            if ccb.function == .resetDevice {
                resetDevice(target: path.target, lun: path.lun)
                ccb.complete(status: .requestComplete)
            } else {
                // XPT_ATA_IO, XPT_NVME_*, XPT_SMP_IO: an emulated SCSI disk does not carry them.
                ccb.transportDetail = TransportDetail(text: "\(ccb.function) is not an emulated SCSI disk function")
                ccb.complete(status: .functionNotAvailable, residual: ccb.data.length)
            }
            bus.complete(ccb)
            return
        }
        guard let disk = slot.diskLocked(path.lun) else {
            if slot.disks.isEmpty {
                slot.lock.unlock()
                ccb.complete(status: .deviceNotThere, residual: ccb.data.length)
            } else {
                slot.runWithoutLUNLocked(ccb)
                slot.lock.unlock()
            }
            bus.complete(ccb)
            return
        }
        disk.stats.commands += 1
        // SAM-5 5.3.1: a full task set refuses the command with TASK SET FULL, no sense.
        if disk.tasks >= disk.taskSlots {
            disk.stats.taskSetFull += 1
            slot.lock.unlock()
            ccb.complete(status: .scsiStatusError, scsiStatus: .taskSetFull, residual: ccb.data.length)
            ccb.senseLength = 0
            bus.complete(ccb)
            return
        }
        // INQUIRY, REPORT LUNS and REQUEST SENSE come from the firmware, not the medium: they
        // answer at once, so scanning a slow disk does not wait for its latency.
        var delay = EmulatedDisk.isFirmwareCommand(ccb.cdb.opcode) ? 0 : disk.drawLatencyLocked()
        if delay == 0 && disk.io == nil {
            disk.runLocked(ccb, slot: slot)
            slot.lock.unlock()
            bus.complete(ccb)
            return
        }
        // Delayed: the command runs now (so a later command sees its effect, as with ordered
        // execution), and completes when its latency has passed, or with a time-out first.
        let timeout = ccb.timeoutNanoseconds   // CCB.noTimeout (UInt64.max): none
        let timedOut = delay > timeout
        if timedOut { delay = timeout }
        var due: UInt64 = 0
        if delay > 0 {
            disk.tasks += 1
            if disk.tasks > disk.stats.maxTasks { disk.stats.maxTasks = disk.tasks }
            let now = camMonotonicNanoseconds()
            due = delay > UInt64.max - now ? UInt64.max : now + delay
        }
        let timer = timers[disk.timerIndex]
        if let io = disk.io, !timedOut {
            // File-backed: the I/O thread runs it, in order with the disk's other commands.
            slot.lock.unlock()
            let queued = QueuedCommand(ccb: ccb, disk: disk, slot: slot, bus: bus, due: due, timer: timer)
            if !io.submit(queued) { queued.finish(.deviceNotThere) }
            return
        }
        if !timedOut { disk.runLocked(ccb, slot: slot) }
        slot.lock.unlock()
        let entry = TimedCompletion(due: due, sequence: 0, ccb: ccb, disk: disk, bus: bus, timedOut: timedOut)
        if !timer.schedule(entry) { CompletionTimer.fire(entry, overrideStatus: .deviceNotThere) }
    }

    /// XPT_ABORT of a delayed or queued command: it completes at once as aborted. A command
    /// that already ran to completion (or is being run or completed) cannot be aborted.
    package func abort(_ ccb: CCB, at path: CAMPath) -> Bool {
        // The I/O queue first: a command moves from there to a timer, never back.
        if let queued = disk(target: path.target, lun: path.lun)?.io?.remove(where: { $0.ccb === ccb }), !queued.isEmpty {
            for c in queued { c.finish(.requestAborted) }
            return true
        }
        var found: [TimedCompletion] = []
        for t in timers {
            found = t.remove { $0.ccb === ccb }
            if !found.isEmpty { break }
        }
        for e in found { CompletionTimer.fire(e, overrideStatus: .requestAborted) }
        return !found.isEmpty
    }

    /// The device specifier of the disk at `path` (see `specifier(for:)`).
    public func deviceName(at path: CAMPath) -> String {
        guard path.target >= 0 && path.target < slots.count else { return "emu:disk" }
        let slot = slots[path.target]
        let config: EmulatedDiskConfiguration? = slot.lock.withLock { slot.diskLocked(path.lun)?.configuration }
        guard let config else { return "emu:disk" }
        return Self.specifier(for: config)
    }

    /// The device specifier that makes this disk again ("emu:disk:size=64m",
    /// "emu:disk:file=/path:size=1g", with ":sector=4096" when not 512).
    public static func specifier(for config: EmulatedDiskConfiguration) -> String {
        var s = "emu:disk"
        if let file = config.file { s += ":file=" + file }
        s += ":size=" + EmulatedDiskConfiguration.formatSize(config.blockCount * UInt64(config.sectorSize))
        if config.sectorSize != 512 { s += ":sector=\(config.sectorSize)" }
        return s
    }

    /// Stops the timer and I/O threads; commands they held complete with device-not-there.
    package func shutdown() {
        let first: Bool = configuration.withLock {
            if isShutDown { return false }
            isShutDown = true
            return true
        }
        guard first else { return }
        for s in slots {
            for d in s.lock.withLock({ s.disks }) {
                for c in d.io?.stop() ?? [] { c.finish(.deviceNotThere) }
            }
        }
        for t in timers {
            for e in t.stop() { CompletionTimer.fire(e, overrideStatus: .deviceNotThere) }
        }
        for s in slots { s.lock.withLock { s.bus = nil } }
        // The bus holds this SIM: let go of it, or neither is ever freed.
        configuration.withLock { attachedBus = nil }
    }

    // MARK: disks

    /// Adds a disk at `target`:`lun`. Before the bus is scanned, the scan finds it; after, this
    /// is a hot add: the XPT is told (AC_FOUND_DEVICE after it probes the disk).
    public func addDisk(target: Int, lun: UInt64 = 0, _ config: EmulatedDiskConfiguration) throws(CAMError) {
        guard target >= 0 && target <= Self.maxTarget else {
            throw CAMError(.invalidRequest, "emulated disk: target \(target) is outside 0...\(Self.maxTarget)")
        }
        guard lun <= Self.maxLUN else {
            throw CAMError(.invalidRequest, "emulated disk: LUN \(lun) is outside 0...\(Self.maxLUN)")
        }
        let slot = slots[target]
        configuration.lock()
        if isShutDown {
            configuration.unlock()
            throw CAMError(.invalidRequest, "emulated disk \(target):\(lun): the emulator is shut down")
        }
        if slot.lock.withLock({ slot.diskLocked(lun) != nil }) {
            configuration.unlock()
            throw CAMError(.invalidRequest, "emulated disk: there is already a disk at target \(target) LUN \(lun)")
        }
        let disk: EmulatedDisk
        do {
            disk = try EmulatedDisk(target: target, lun: lun, configuration: config, lock: slot.lock,
                                    maxIO: maxIO, timerIndex: nextTimer)
        } catch {
            configuration.unlock()
            throw error
        }
        nextTimer = (nextTimer + 1) % timers.count
        slot.lock.withLock {
            slot.disks.append(disk)
            slot.disks.sort { $0.lun < $1.lun }
        }
        let announce = scanned ? attachedBus : nil
        configuration.unlock()
        announce?.deviceArrived(target: target, lun: lun)
    }

    /// Hot removal: the disk leaves the bus; commands it holds complete with device-not-there,
    /// new ones find no device, and the XPT is told (AC_LOST_DEVICE).
    public func removeDisk(target: Int, lun: UInt64 = 0) {
        guard target >= 0 && target <= Self.maxTarget else { return }
        let slot = slots[target]
        let (disk, bus): (EmulatedDisk?, CAMBus?) = configuration.withLock {
            let d: EmulatedDisk? = slot.lock.withLock {
                guard let i = slot.disks.firstIndex(where: { $0.lun == lun }) else { return nil }
                let d = slot.disks.remove(at: i)
                d.removed = true
                return d
            }
            return (d, attachedBus)
        }
        guard let disk else { return }
        for c in disk.io?.stop() ?? [] { c.finish(.deviceNotThere) }
        for t in timers {
            for e in t.remove(where: { $0.disk === disk }) { CompletionTimer.fire(e, overrideStatus: .deviceNotThere) }
        }
        bus?.deviceLost(target: target, lun: lun)
    }

    /// The disk at `target`:`lun`, to read statistics, flush, or turn knobs.
    public func disk(target: Int, lun: UInt64 = 0) -> EmulatedDisk? {
        guard target >= 0 && target <= Self.maxTarget else { return nil }
        let slot = slots[target]
        return slot.lock.withLock { slot.diskLocked(lun) }
    }

    /// Replaces the LBAs of a disk that fail with MEDIUM ERROR.
    public func setMediumErrors(target: Int, lun: UInt64 = 0, _ lbas: [ClosedRange<UInt64>]) {
        disk(target: target, lun: lun)?.setMediumErrors(lbas)
    }

    /// Queues a UNIT ATTENTION (default 29/00) for the next command to a disk.
    public func injectUnitAttention(target: Int, lun: UInt64 = 0, asc: UInt8 = 0x29, ascq: UInt8 = 0x00) {
        disk(target: target, lun: lun)?.injectUnitAttention(asc: asc, ascq: ascq)
    }

    /// XPT_RESET_DEV: commands the disk holds complete as BDR sent (CAM retries them when
    /// asked), and the next command gets UNIT ATTENTION 29/03 BUS DEVICE RESET FUNCTION OCCURRED.
    private func resetDevice(target: Int, lun: UInt64) {
        guard let disk = disk(target: target, lun: lun) else { return }
        for c in disk.io?.remove(where: { _ in true }) ?? [] { c.finish(.bdrSent) }
        for t in timers {
            for e in t.remove(where: { $0.disk === disk }) { CompletionTimer.fire(e, overrideStatus: .bdrSent) }
        }
        let reset = AdditionalSenseCode.busDeviceResetFunctionOccurred
        disk.injectUnitAttention(asc: reset.asc, ascq: reset.ascq)
    }
}

// MARK: polled completion

extension EmulatorSIM: CAMPollingSIM {
    /// Delayed completions (latency, file-backed) of a polled device park until `poll` takes
    /// them; inline ones (a RAM disk with no latency) complete in `start` as always, on the
    /// queuing thread.
    ///
    /// Every disk ever polled is kept (with its descriptor) until the SIM goes, and `poll`
    /// drains them all, whatever the path: a device removed and re-added at one path has two
    /// records in the XPT, one draining, and each CCB goes back to its own handle anyway.
    package func startPolling(at path: CAMPath) -> [Int32]? {
        guard path.target >= 0 && path.target < slots.count else { return nil }
        let slot = slots[path.target]
        guard let disk = slot.lock.withLock({ slot.diskLocked(path.lun) }), disk.polled.descriptorForPolling() != nil else {
            return nil
        }
        return pollRegistry.withLock {
            if !polledDisks.contains(where: { $0 === disk }) { polledDisks.append(disk) }
            return polledDisks.compactMap { $0.polled.descriptorForPolling() }
        }
    }

    /// Nothing to do: CAM polls once more after marking the device unpolled, and from then on
    /// its completions are not parked.
    package func stopPolling(at path: CAMPath) {}

    @discardableResult
    package func poll(at path: CAMPath) -> Int {
        let disks = pollRegistry.withLock { polledDisks }
        var n = 0
        for d in disks { n += d.polled.drain() }
        return n
    }
}
