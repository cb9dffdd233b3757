#if canImport(Glibc)
import Glibc
#endif
import CAM
import SCSI

/// Counters an emulated disk keeps about the commands it saw.
public struct EmulatedDiskStatistics: Sendable, Equatable {
    /// Commands started on the disk, including those refused with TASK SET FULL.
    public var commands: UInt64 = 0
    /// Commands that moved data in (READ) and out (WRITE).
    public var reads: UInt64 = 0
    public var writes: UInt64 = 0
    public var bytesRead: UInt64 = 0
    public var bytesWritten: UInt64 = 0
    /// Commands ended with CHECK CONDITION.
    public var checkConditions: UInt64 = 0
    /// Commands refused with TASK SET FULL.
    public var taskSetFull: UInt64 = 0
    /// Commands completed with command time-out because the latency exceeded the CCB's time-out.
    public var timeouts: UInt64 = 0
    /// Most commands the device held at once.
    public var maxTasks: Int = 0
}

/// One emulated direct-access logical unit (an SBC disk): its blocks, its mode parameters, its
/// pending unit attentions, and the knobs tests turn. Returned by `EmulatorSIM.disk(target:lun:)`
/// to read statistics, flush, or change the knobs while the disk is in use.
///
/// Its mutable state is guarded by the lock of its target (one lock per target guards the
/// target's LUNs; a target usually has one), the only lock a command takes on the way in.
/// A RAM disk runs its commands inline under that lock; a file-backed disk runs them on its
/// own I/O thread, which lets go of the lock for each system call.
public final class EmulatedDisk: @unchecked Sendable {
    // @unchecked: every `var` is guarded by `lock`; the `let`s never change.
    /// Target and LUN on the emulator's bus.
    public let target: Int
    public let lun: UInt64
    /// The configuration the disk was created with (knobs changed later are not reflected).
    public let configuration: EmulatedDiskConfiguration
    /// Logical blocks and their length.
    public let blockCount: UInt64
    public let sectorSize: Int
    /// The unit serial number (VPD 0x80).
    public let serialNumber: String

    let lock: CAMLock
    let store: any BackingStore
    /// The thread a file-backed disk runs its commands on (nil for RAM: memcpy under the lock
    /// is cheaper than a hand-off, and never waits on a device).
    let io: DiskIOThread?
    /// The NAA IEEE Registered designator (VPD 0x83).
    let naaIdentifier: UInt64
    /// MAXIMUM TRANSFER LENGTH of the block limits page, from the bus's maxio.
    let maxTransferBlocks: UInt64
    /// Which completion timer takes this disk's delayed commands.
    let timerIndex: Int
    /// Delayed completions while a pass handle polls the disk (its own lock).
    let polled = PolledCompletions()

    // guarded by `lock`
    var started = true
    var writeCacheEnabled = true
    var descriptorSense: Bool
    var unitAttentions: [SenseBuilder] = []
    var mediumErrors: [ClosedRange<UInt64>]
    var latency: NanosecondLatency
    var taskSlots: Int
    var tasks = 0
    var removed = false
    var random: UInt64
    var stats = EmulatedDiskStatistics()

    init(target: Int, lun: UInt64, configuration: EmulatedDiskConfiguration, lock: CAMLock,
         maxIO: Int, timerIndex: Int) throws(CAMError) {
        try configuration.validate()
        self.target = target
        self.lun = lun
        self.configuration = configuration
        self.sectorSize = configuration.sectorSize
        self.blockCount = configuration.blockCount
        self.lock = lock
        self.timerIndex = timerIndex
        let capacity = blockCount * UInt64(sectorSize)
        if let file = configuration.file {
            store = try FileStore(path: file, capacity: capacity)
            io = DiskIOThread(name: "emu-io\(target):\(lun)")
        } else {
            store = try RAMStore(capacity: capacity)
            io = nil
        }
        serialNumber = configuration.serial ?? EmulatedDisk.defaultSerial(target: target, lun: lun)
        naaIdentifier = EmulatedDisk.naa(serial: serialNumber)
        maxTransferBlocks = UInt64(max(1, maxIO / configuration.sectorSize))
        descriptorSense = configuration.descriptorSense
        mediumErrors = configuration.mediumErrorLBAs
        latency = NanosecondLatency(configuration.latency)
        taskSlots = configuration.taskSlots
        random = 0x9E37_79B9_7F4A_7C15 &* UInt64(target &+ 1) ^ (lun &+ 1) ^ camMonotonicNanoseconds()
        if random == 0 { random = 1 }
        unitAttentions.reserveCapacity(4)
        if configuration.unitAttentionOnFirstAccess {
            unitAttentions.append(SenseBuilder(key: .unitAttention, .powerOnResetOrBusDeviceReset))
        }
        if configuration.startsStopped { started = false }
    }

    deinit {
        // Nothing is queued any more: each queued command holds the disk.
        _ = io?.stop()
    }

    /// "EMU" and the target and LUN in decimal, zero-padded: stable for the same configuration.
    static func defaultSerial(target: Int, lun: UInt64) -> String {
        func pad(_ v: UInt64, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "EMU" + pad(UInt64(target), 3) + pad(lun, 5)
    }

    /// NAA 5 (IEEE Registered): the company id and 36 bits of an FNV-1a hash of the serial.
    /// The company id 0x02CA4D has the locally-administered bit (0x02 of its first byte) set,
    /// so it cannot collide with an id the IEEE gave a manufacturer.
    static func naa(serial: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in serial.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        let companyID: UInt64 = 0x02CA4D
        return 0x5 << 60 | companyID << 36 | (h & 0xF_FFFF_FFFF)
    }

    // MARK: public knobs and readings

    /// What the disk counted.
    public var statistics: EmulatedDiskStatistics { lock.withLock { stats } }

    /// Bytes of RAM (or, for a file, of disk space) the data takes now.
    public var allocatedBytes: UInt64 {
        // fstat needs no lock; the RAM chunk count does.
        io != nil ? store.allocatedBytes : lock.withLock { store.allocatedBytes }
    }

    /// Commands the device holds now (delayed by latency).
    public var tasksInProgress: Int { lock.withLock { tasks } }

    /// False after START STOP UNIT with START clear, until a START.
    public var isStarted: Bool { lock.withLock { started } }

    /// The caching mode page's WCE bit.
    public var isWriteCacheEnabled: Bool { lock.withLock { writeCacheEnabled } }

    /// The control mode page's D_SENSE bit.
    public var usesDescriptorSense: Bool { lock.withLock { descriptorSense } }

    /// True once the disk was removed from its SIM.
    public var isRemoved: Bool { lock.withLock { removed } }

    /// Writes the data to stable storage (fdatasync for a file; nothing for RAM). Takes no
    /// lock: fdatasync on the disk's descriptor is safe from any thread, and a RAM store's
    /// flush touches nothing.
    public func flush() throws(CAMError) {
        do {
            try store.flush()
        } catch {
            throw CAMError.system(String(describing: error.call), error.errno, on: "emulated disk \(target):\(lun)")
        }
    }

    /// Replaces the LBAs that fail with MEDIUM ERROR.
    public func setMediumErrors(_ lbas: [ClosedRange<UInt64>]) {
        lock.withLock { mediumErrors = lbas }
    }

    /// Makes the next command (other than INQUIRY, REPORT LUNS, REQUEST SENSE) end in CHECK
    /// CONDITION, UNIT ATTENTION with `asc`/`ascq` (default 29/00 POWER ON, RESET, OR BUS
    /// DEVICE RESET OCCURRED).
    public func injectUnitAttention(asc: UInt8 = 0x29, ascq: UInt8 = 0x00) {
        lock.withLock { unitAttentions.append(SenseBuilder(key: .unitAttention, asc: asc, ascq: ascq)) }
    }

    /// Changes the latency for commands started from now on.
    public func setLatency(_ latency: EmulatedLatency) {
        let ns = NanosecondLatency(latency)
        lock.withLock { self.latency = ns }
    }

    /// Changes the number of task slots (TASK SET FULL beyond them).
    public func setTaskSlots(_ slots: Int) {
        lock.withLock { taskSlots = max(1, slots) }
    }

    // MARK: command path helpers (lock held)

    /// Runs a store operation from a command. On a file-backed disk's I/O thread the target
    /// lock is let go for it: pread, pwrite and fdatasync can take milliseconds, and other
    /// disks of the target and the queuing threads must not wait for them. Commands of one
    /// disk still run one at a time (its I/O thread runs them in order), and the file store
    /// keeps no state of its own. A RAM store's chunk table is guarded by the lock: kept.
    @inline(__always)
    func storeAccess<R>(_ body: () throws(StoreError) -> R) throws(StoreError) -> R {
        guard io != nil else { return try body() }
        lock.unlock()
        defer { lock.lock() }
        return try body()
    }

    /// The latency for the next command, in nanoseconds (0: complete inline).
    func drawLatencyLocked() -> UInt64 {
        switch latency {
        case .none:
            return 0
        case .fixed(let ns):
            return ns
        case .random(let lo, let hi):
            // xorshift64*: no lock beyond the disk's, no allocation.
            random ^= random >> 12
            random ^= random << 25
            random ^= random >> 27
            let r = random &* 0x2545_F491_4F6C_DD1D
            let span = hi - lo
            return span == .max ? r : lo + r % (span + 1)
        }
    }

    /// The first LBA in [lba, lba + count) that fails, or nil.
    func firstBadLBALocked(_ lba: UInt64, _ count: UInt64) -> UInt64? {
        guard !mediumErrors.isEmpty, count > 0 else { return nil }
        let last = lba + count - 1
        var first: UInt64?
        for r in mediumErrors where r.lowerBound <= last && r.upperBound >= lba {
            let b = max(r.lowerBound, lba)
            if first.map({ b < $0 }) ?? true { first = b }
        }
        return first
    }
}
