#if canImport(Glibc)
import Glibc
#endif
import SCSI

/// What a CCB asks for (FreeBSD's `xpt_opcode`).
public enum CCBFunction: UInt8, Sendable, CustomStringConvertible {
    /// XPT_SCSI_IO: run a SCSI command (`cdb`, sense into `senseBuffer`).
    case scsiIO
    /// XPT_ATA_IO: run an ATA command (`ata` registers in, `ataResult` out).
    case ataIO
    /// XPT_NVME_IO: an NVMe I/O command (`nvme` submission entry in, `nvmeCompletion` out).
    case nvmeIO
    /// XPT_NVME_ADMIN: an NVMe admin command (as `nvmeIO`, on the admin queue).
    case nvmeAdmin
    /// XPT_SMP_IO: a serial management protocol request (`smp` request and response).
    case smpIO
    /// XPT_PATH_INQ: immediate; fills `pathInquiry`.
    case pathInquiry
    /// XPT_GDEV_TYPE: immediate; fills `deviceInfo`.
    case getDeviceInfo
    /// XPT_NOOP: immediate; completes with request complete.
    case noop
    /// XPT_ABORT: abort the CCB in `abortTarget` (pass(4)'s to-do 3).
    case abort
    /// XPT_RESET_DEV: reset the device (the SIM's least disruptive reset).
    case resetDevice
    /// XPT_SCAN_BUS: XPT only, refused by a pass handle.
    case scanBus
    /// XPT_SCAN_LUN: XPT only.
    case scanLUN
    /// XPT_RESET_BUS: XPT only.
    case resetBus
    /// XPT_DEV_MATCH: XPT only.
    case deviceMatch
    /// XPT_ENG_INQ: XPT only.
    case engineInquiry
    /// XPT_ENG_EXEC: XPT only.
    case engineExecute

    /// Function codes that pass(4) refuses and only xpt(4) takes.
    public var isXPTOnly: Bool {
        switch self {
        case .scanBus, .scanLUN, .resetBus, .deviceMatch, .engineInquiry, .engineExecute: return true
        default: return false
        }
    }

    /// Function codes that complete at once, onto the done queue, without a command slot.
    public var isImmediate: Bool {
        switch self {
        case .pathInquiry, .getDeviceInfo, .noop, .abort: return true
        default: return false
        }
    }

    /// Function codes that carry a command to the device and may move data (XPT_FC_DEV_QUEUED
    /// with data): the protocol I/O codes.
    public var movesData: Bool {
        switch self {
        case .scsiIO, .ataIO, .nvmeIO, .nvmeAdmin, .smpIO: return true
        default: return false
        }
    }

    public var description: String {
        switch self {
        case .scsiIO: return "XPT_SCSI_IO"
        case .ataIO: return "XPT_ATA_IO"
        case .nvmeIO: return "XPT_NVME_IO"
        case .nvmeAdmin: return "XPT_NVME_ADMIN"
        case .smpIO: return "XPT_SMP_IO"
        case .pathInquiry: return "XPT_PATH_INQ"
        case .getDeviceInfo: return "XPT_GDEV_TYPE"
        case .noop: return "XPT_NOOP"
        case .abort: return "XPT_ABORT"
        case .resetDevice: return "XPT_RESET_DEV"
        case .scanBus: return "XPT_SCAN_BUS"
        case .scanLUN: return "XPT_SCAN_LUN"
        case .resetBus: return "XPT_RESET_BUS"
        case .deviceMatch: return "XPT_DEV_MATCH"
        case .engineInquiry: return "XPT_ENG_INQ"
        case .engineExecute: return "XPT_ENG_EXEC"
        }
    }
}

/// CCB flags (FreeBSD's `ccb_flags`, the subset that means something here).
public struct CCBFlags: OptionSet, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// CAM_DIR_IN: data moves from the device into the buffers.
    public static let dataIn = CCBFlags(rawValue: 1 << 0)
    /// CAM_DIR_OUT: data moves from the buffers to the device.
    public static let dataOut = CCBFlags(rawValue: 1 << 1)
    /// CAM_PASS_ERR_RECOVER: let CAM retry recoverable errors up to `retryCount` times (but
    /// not a tape command that moves the medium and may have run; see `ErrorRecovery`).
    public static let errorRecovery = CCBFlags(rawValue: 1 << 2)
    /// CAM_DIS_AUTOSENSE: do not collect sense data.
    public static let disableAutosense = CCBFlags(rawValue: 1 << 3)
    /// Queue at the head of the device's queue rather than the tail.
    public static let queueAtHead = CCBFlags(rawValue: 1 << 4)
}

/// The data direction of a CCB.
public enum CCBDirection: Sendable {
    case none, `in`, out
}

/// SCSI task attribute (CAM's tag_action: MSG_SIMPLE_Q_TAG, MSG_ORDERED_Q_TAG, MSG_HEAD_OF_Q_TAG).
public enum TagAction: UInt8, Sendable {
    case simple = 0x20
    case headOfQueue = 0x21
    case ordered = 0x22
    case aca = 0x24
}

/// A scatter/gather list of user virtual buffers, as `iovec`s (CAM_DATA_SG).
///
/// The segments are laid out as `struct iovec`, so a SIM hands them to readv/writev, the sg
/// driver (iovec_count) or libiscsi (scsi_iovec) without conversion. Capacity is fixed when the
/// list is made, so refilling it on the hot path allocates nothing.
public final class SGList: @unchecked Sendable {
    // Owned storage; a list belongs to one CCB at a time, and ownership moves with the CCB
    // through queue/get, whose locks order the accesses.
    public let segments: UnsafeMutablePointer<iovec>
    public let capacity: Int
    public private(set) var count: Int = 0
    public private(set) var totalLength: Int = 0

    public init(capacity: Int) {
        precondition(capacity > 0, "an S/G list needs room for at least one segment")
        self.capacity = capacity
        segments = .allocate(capacity: capacity)
        segments.initialize(repeating: iovec(), count: capacity)
    }

    deinit { segments.deallocate() }

    /// Empties the list, keeping its storage.
    public func removeAll() { count = 0; totalLength = 0 }

    /// Adds a segment. Returns false when the list is full.
    @discardableResult
    public func append(_ base: UnsafeMutableRawPointer, length: Int) -> Bool {
        guard count < capacity else { return false }
        segments[count] = iovec(iov_base: base, iov_len: length)
        count += 1
        totalLength += length
        return true
    }

    /// Adds a buffer as a segment. Returns false when the list is full.
    @discardableResult
    public func append(_ buffer: UnsafeMutableRawBufferPointer) -> Bool {
        guard let base = buffer.baseAddress else { return false }
        return append(base, length: buffer.count)
    }

    /// The segments in use.
    public var buffer: UnsafeMutableBufferPointer<iovec> {
        UnsafeMutableBufferPointer(start: segments, count: count)
    }

    /// Copies `bytes` into the list's segments in order; returns how many were copied.
    @discardableResult
    public func copyIn(_ bytes: UnsafeRawBufferPointer) -> Int {
        var done = 0
        for i in 0..<count where done < bytes.count {
            let n = min(segments[i].iov_len, bytes.count - done)
            segments[i].iov_base!.copyMemory(from: bytes.baseAddress! + done, byteCount: n)
            done += n
        }
        return done
    }

    /// Copies up to `destination.count` bytes out of the list's segments; returns the count.
    @discardableResult
    public func copyOut(to destination: UnsafeMutableRawBufferPointer) -> Int {
        var done = 0
        for i in 0..<count where done < destination.count {
            let n = min(segments[i].iov_len, destination.count - done)
            (destination.baseAddress! + done).copyMemory(from: segments[i].iov_base!, byteCount: n)
            done += n
        }
        return done
    }
}

/// Where a CCB's data lives.
///
/// User virtual memory only: physical addresses (CAM_DATA_PADDR, CAM_DATA_SG_PADDR) do not
/// exist in user space, so there is no case for them. The memory must stay valid and
/// untouched from `queue` until the CCB comes back from `get`.
public enum CCBData: @unchecked Sendable {
    // @unchecked: the pointers are caller-owned; the pass contract says the caller keeps them
    // alive and leaves them alone while the CCB is queued.
    /// No data (CAM_DATA_VADDR with dxfer_len 0).
    case none
    /// One buffer (CAM_DATA_VADDR).
    case buffer(UnsafeMutableRawBufferPointer)
    /// A scatter/gather list (CAM_DATA_SG).
    case scatterGather(SGList)

    /// Bytes described.
    public var length: Int {
        switch self {
        case .none: return 0
        case .buffer(let b): return b.count
        case .scatterGather(let sg): return sg.totalLength
        }
    }
}

/// Path inquiry (XPT_PATH_INQ): what a bus can do.
public struct PathInquiry: Sendable, Equatable {
    /// Largest data transfer of one CCB, in bytes (`maxio`).
    public var maxIO: Int
    /// Commands a device on this bus may have started at once (the device's command slots).
    public var commandSlots: Int
    /// The bus number the XPT gave this bus.
    public var bus: Int
    /// SIM name ("emu", "sg", "iscsi"), as `sim_vid`.
    public var simName: String
    /// Unit of the SIM (host number for sg), as `unit_number`.
    public var simUnit: Int
    /// Transport ("Emulated", "SCSI generic", "iSCSI"), as `transport`.
    public var transport: String
    /// Highest target and LUN numbers.
    public var maxTarget: Int
    public var maxLUN: UInt64
    /// Initiator id, vendor strings for camcontrol's `-v`.
    public var hbaVendor: String
    /// The XPT's probe sends TEST UNIT READY with retries after INQUIRY to take a pending UNIT
    /// ATTENTION (FreeBSD's PROBE_TUR). For SIMs whose every open makes a new I_T nexus (an
    /// iSCSI login), whose UNIT ATTENTION is an artifact of the open and not news for the user.
    /// Off for the others, so that a reset or power-on a user wants to see stays visible.
    public var probeTakesUnitAttention: Bool
    /// The protocol the bus's devices speak (`protocol` in XPT_PATH_INQ): what the XPT probes
    /// with and which function codes the SIM carries.
    public var `protocol`: CAMProtocol
    /// The SIM completes CCBs on its own threads (FreeBSD's `xpt_done_direct`) rather than
    /// through CAM's completion threads. Only for SIMs with threads enough of their own; which
    /// do is measured and written in docs/ARCHITECTURE.md. `CAM_COMPLETION=threads|direct` in the
    /// environment overrides it for every bus (for that measurement).
    public var completesDirectly: Bool

    /// What a SIM fills in; applications get it from a bus or a handle.
    package init(maxIO: Int, commandSlots: Int, bus: Int = -1, simName: String, simUnit: Int = 0,
                transport: String, maxTarget: Int = 255, maxLUN: UInt64 = 255, hbaVendor: String = "SwiftCAM",
                probeTakesUnitAttention: Bool = false, protocol: CAMProtocol = .scsi,
                completesDirectly: Bool = false) {
        self.maxIO = maxIO
        self.commandSlots = commandSlots
        self.bus = bus
        self.simName = simName
        self.simUnit = simUnit
        self.transport = transport
        self.maxTarget = maxTarget
        self.maxLUN = maxLUN
        self.hbaVendor = hbaVendor
        self.probeTakesUnitAttention = probeTakesUnitAttention
        self.protocol = `protocol`
        self.completesDirectly = completesDirectly
    }
}

/// A device's address: bus (path id), target, LUN.
public struct CAMPath: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var bus: Int
    public var target: Int
    public var lun: UInt64
    public init(bus: Int, target: Int, lun: UInt64) {
        self.bus = bus; self.target = target; self.lun = lun
    }
    public static func < (a: CAMPath, b: CAMPath) -> Bool {
        (a.bus, a.target, a.lun) < (b.bus, b.target, b.lun)
    }
    /// "B:T:L", as camcontrol takes it.
    public var description: String { "\(bus):\(target):\(lun)" }
}

/// Raw transport status a SIM keeps for printing (sg host/driver status, iSCSI response).
public struct TransportDetail: Sendable, Equatable, CustomStringConvertible {
    public var hostStatus: UInt16
    public var driverStatus: UInt16
    public var text: String
    package init(hostStatus: UInt16 = 0, driverStatus: UInt16 = 0, text: String) {
        self.hostStatus = hostStatus; self.driverStatus = driverStatus; self.text = text
    }
    public var description: String { text }
}

/// A CAM control block: one request to a device and, once it comes back, its outcome
/// (FreeBSD's `union ccb`, here a reusable object).
///
/// A CCB belongs to its caller until `queue`, to CAM until `get` returns it, then to the caller
/// again; reuse it for the next request. Nothing is allocated per request: the sense buffer is
/// allocated once with the CCB.
public final class CCB: @unchecked Sendable {
    // @unchecked: ownership of a CCB moves between one caller and CAM through queue/get, and
    // each hand-over goes through a lock, so no two threads touch its fields at once.

    // MARK: request
    /// What to do.
    public var function: CCBFunction = .scsiIO
    /// Direction, recovery and queueing flags.
    public var flags: CCBFlags = []
    /// SCSI task attribute.
    public var tagAction: TagAction = .simple
    /// The command.
    public var cdb = CDB()
    /// Where the data is.
    public var data: CCBData = .none
    /// How long the SIM lets the command run before it gives up on it (ccb_h.timeout).
    /// `CCB.infiniteTimeout`, zero, a negative value or more than UInt64.max nanoseconds (584
    /// years) all mean no time-out (CAM_TIME_INFINITY) and read back as `CCB.infiniteTimeout`;
    /// anything else is kept to the nanosecond, rounded up. 60 s unless set.
    public var timeout: Duration {
        get { timeoutNanoseconds == CCB.noTimeout ? CCB.infiniteTimeout : .nanoseconds(timeoutNanoseconds) }
        set { timeoutNanoseconds = CCB.nanoseconds(newValue) }
    }
    /// `timeout` as SIMs read it on the hot path: nanoseconds, `CCB.noTimeout` for none. Stored
    /// this way so that no SIM does Duration arithmetic per command.
    package var timeoutNanoseconds: UInt64 = 60_000_000_000
    /// Retries CAM may make when `.errorRecovery` is set (ccb_h.retry_count).
    public var retryCount: Int = 0
    /// Yours: comes back unchanged (pass(4)'s periph_priv).
    public var cookie: UInt64 = 0
    /// Yours too: any object to carry along, returned unchanged.
    public var context: AnyObject?
    /// For `.abort`: the CCB to abort.
    public var abortTarget: CCB?

    // MARK: outcome
    // Set by SIMs and CAM (package), read by the application.
    /// CAM status; `.requestInProgress` while queued.
    public package(set) var status: CAMStatus = .requestInProgress
    /// SCSI status byte, valid with `.scsiStatusError` and `.requestComplete`.
    public package(set) var scsiStatus: SCSIStatus = .good
    /// Bytes of valid sense in `senseBuffer` (0: none; CAM_AUTOSNS_VALID when > 0).
    public package(set) var senseLength: Int = 0
    /// Room for sense data (252 bytes, SPC-5's maximum), allocated once.
    public let senseBuffer: UnsafeMutableRawBufferPointer
    /// Bytes not transferred.
    public package(set) var residual: Int = 0
    /// Raw transport status for printing, when the SIM has one.
    public package(set) var transportDetail: TransportDetail?
    /// Filled by `.pathInquiry`.
    public package(set) var pathInquiry: PathInquiry?
    /// Filled by `.getDeviceInfo`.
    public package(set) var deviceInfo: CAMDeviceInfo?
    /// Time from the SIM's start to completion.
    public var duration: Duration { .nanoseconds(durationNanoseconds) }
    /// `duration` as CAM measures it, in nanoseconds.
    package var durationNanoseconds: UInt64 = 0
    /// Retries CAM made.
    public package(set) var retriesDone: Int = 0

    // MARK: the other protocols (XPT_ATA_IO, XPT_NVME_*, XPT_SMP_IO)
    /// XPT_ATA_IO: the command registers (`ccb_ataio.cmd`).
    public var ata = ATACommand()
    /// XPT_ATA_IO: the result registers the device returned (`ccb_ataio.res`).
    public package(set) var ataResult = ATAResult()
    /// XPT_NVME_IO / XPT_NVME_ADMIN: the submission queue entry (`ccb_nvmeio.cmd`).
    public var nvme = NVMeCommand()
    /// XPT_NVME_IO / XPT_NVME_ADMIN: the completion queue entry (`ccb_nvmeio.cpl`).
    public package(set) var nvmeCompletion = NVMeCompletion()
    /// XPT_SMP_IO: the request and response frames (`ccb_smpio`).
    public var smp = SMPFrames()

    /// CAM_TIME_INFINITY: the command may run for ever. A sentinel (UInt64.max nanoseconds),
    /// what `timeout` reads back as when there is no time-out.
    public static let infiniteTimeout: Duration = .nanoseconds(UInt64.max)
    /// The default time-out, 60 s.
    public static let defaultTimeout: Duration = .seconds(60)
    /// `timeoutNanoseconds` when there is no time-out.
    package static let noTimeout: UInt64 = .max

    /// A time-out in nanoseconds as `timeoutNanoseconds` keeps it: rounded up to whole
    /// nanoseconds; zero, negative and too long for UInt64 become `noTimeout`.
    package static func nanoseconds(_ timeout: Duration) -> UInt64 {
        let ns = timeout.nanosecondsRoundedUp
        return ns == 0 ? noTimeout : ns
    }
    /// Sense buffer size.
    public static let senseCapacity = 252

    // MARK: CAM's own (internal to the transport)
    /// Links for the pending and done queues (one queue at a time).
    var queueNext: CCB?
    /// Links for the device's in-flight list, for listing what is outstanding.
    var flightNext: CCB?
    // Not weak: a weak reference sends every retain and release of the CCB down the runtime's
    // slow path (measured 8-12% of camdd's CPU at 4 KiB iSCSI reads). A CCB is in the list
    // only while its predecessor is (unlinking clears both sides, under the device lock).
    unowned(unsafe) var flightPrev: CCB?
    /// Where the CCB goes when finished (a periph, or a pass open), from queue to delivery.
    var target: (any CAMDoneTarget)?
    /// The device and the opener's queue it was queued on, from queue to delivery.
    var device: CAMDeviceRecord?
    var queue: DeviceQueue?

    /// Whether the device this CCB was queued to is polled now (`PassHandle.startPolling`):
    /// a SIM that parks completions for the poller parks only these, and completes the others
    /// at once. (When polling stops, CAM polls the SIM once more to flush what was parked.)
    package var isDevicePolled: Bool { device?.isPolled.load(ordering: .acquiring) ?? false }
    var startNanoseconds: UInt64 = 0
    var retriesLeft: Int = 0
    /// Set when a retry was taken for a reset or a lost nexus: the device's UNIT ATTENTION
    /// reporting that event (ASC 29h) is then retried once without taking another.
    var expectsResetAttention = false
    var isSynchronous = false
    var synchronousDone = false
    var state: State = .idle

    enum State: UInt8 { case idle, pending, inFlight, done }

    public init() {
        senseBuffer = .allocate(byteCount: CCB.senseCapacity, alignment: 8)
        senseBuffer.initializeMemory(as: UInt8.self, repeating: 0)
    }

    /// A SCSI I/O CCB, ready to queue.
    public convenience init(cdb: CDB, data: CCBData = .none, direction: CCBDirection = .none,
                            timeout: Duration = CCB.defaultTimeout, cookie: UInt64 = 0) {
        self.init()
        self.setSCSI(cdb: cdb, data: data, direction: direction, timeoutNanoseconds: CCB.nanoseconds(timeout))
        self.cookie = cookie
    }

    deinit { senseBuffer.deallocate() }

    /// Fills in a SCSI I/O request (cam_fill_csio), keeping the cookie and the sense buffer.
    public func setSCSI(cdb: CDB, data: CCBData = .none, direction: CCBDirection = .none,
                        timeout: Duration = CCB.defaultTimeout) {
        setSCSI(cdb: cdb, data: data, direction: direction, timeoutNanoseconds: CCB.nanoseconds(timeout))
    }

    /// `setSCSI` with the time-out already in nanoseconds (`CCB.nanoseconds(_:)`), for loops
    /// that fill a CCB per command (camdd's reader and writer).
    package func setSCSI(cdb: CDB, data: CCBData = .none, direction: CCBDirection = .none,
                         timeoutNanoseconds: UInt64) {
        function = .scsiIO
        self.cdb = cdb
        self.data = data
        flags.remove([.dataIn, .dataOut])
        switch direction {
        case .none: break
        case .in: flags.insert(.dataIn)
        case .out: flags.insert(.dataOut)
        }
        self.timeoutNanoseconds = timeoutNanoseconds
    }

    /// The data direction given by the flags.
    public var direction: CCBDirection {
        if flags.contains(.dataIn) { return .in }
        if flags.contains(.dataOut) { return .out }
        return .none
    }

    /// The valid sense bytes.
    public var sense: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: senseBuffer[0..<min(max(senseLength, 0), CCB.senseCapacity)])
    }

    /// The sense, decoded (allocates; for error paths).
    public var senseData: SenseData? { senseLength > 0 ? SenseData(sense) : nil }

    /// Stores sense bytes (what SIMs call); truncates to 252 bytes.
    package func setSense(_ bytes: UnsafeRawBufferPointer) {
        let n = min(bytes.count, CCB.senseCapacity)
        if n > 0 { senseBuffer.baseAddress!.copyMemory(from: bytes.baseAddress!, byteCount: n) }
        senseLength = n
    }

    /// Stores sense bytes given as an array.
    package func setSense(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { setSense($0) }
    }

    /// True when the request completed without error.
    public var succeeded: Bool { status == .requestComplete }

    /// Bytes actually transferred (data length less residual).
    public var transferred: Int { max(0, data.length - residual) }

    /// Clears the outcome before the CCB goes out (again).
    func resetOutcome() {
        status = .requestInProgress
        scsiStatus = .good
        senseLength = 0
        residual = 0
        transportDetail = nil
        durationNanoseconds = 0
        ataResult = ATAResult()
        nvmeCompletion = NVMeCompletion()
        smp.responseResidual = 0
    }

    /// Takes the CCB in for a device's queue: clears the outcome and sets up recovery.
    func enterQueue(device: CAMDeviceRecord, queue: DeviceQueue, target: any CAMDoneTarget) {
        resetOutcome()
        self.device = device
        self.queue = queue
        self.target = target
        retriesLeft = flags.contains(.errorRecovery) ? max(0, retryCount) : 0
        retriesDone = 0
        expectsResetAttention = false
    }

    /// Lets go of the device and target once the CCB is finished; returns the target. (The
    /// queue stays named until the CCB is queued again: XPT_ABORT reads it under the device
    /// lock, so it is written only there.)
    func leave() -> (any CAMDoneTarget)? {
        let t = target
        target = nil
        device = nil
        return t
    }

    /// Checks a request before it is queued (pass(4)'s EINVAL cases); `name` is the opener's.
    func validate(maxIO: Int, on name: String) throws(CAMError) {
        if state == .pending || state == .inFlight {
            throw CAMError(.ccbBusy, "CAMIOQUEUE on \(name): this CCB is already queued")
        }
        if function.isXPTOnly {
            throw CAMError(.xptOnlyFunction, "CAMIOQUEUE on \(name): \(function) is for the XPT only; pass devices do not take it")
        }
        guard function.movesData else { return }
        if function == .scsiIO && cdb.count == 0 {
            throw CAMError(.badCDB, "CAMIOQUEUE on \(name): the CCB has no CDB")
        }
        let length = data.length
        if length > maxIO {
            let what = function == .scsiIO ? cdb.commandName : function.description
            throw CAMError(.dataTooLong, "CAMIOQUEUE on \(name): \(what) carries \(length) bytes, more than the bus's maxio of \(maxIO)")
        }
        switch data {
        case .none:
            if direction != .none {
                throw CAMError(.badDataDescriptor, "CAMIOQUEUE on \(name): data direction is set but the CCB has no data")
            }
        case .buffer(let b):
            if b.baseAddress == nil && b.count > 0 {
                throw CAMError(.badDataDescriptor, "CAMIOQUEUE on \(name): buffer with no address")
            }
            if direction == .none && b.count > 0 {
                throw CAMError(.badDataDescriptor, "CAMIOQUEUE on \(name): the CCB has data but no direction (set .dataIn or .dataOut)")
            }
        case .scatterGather(let sg):
            if sg.count == 0 {
                throw CAMError(.badDataDescriptor, "CAMIOQUEUE on \(name): the scatter/gather list is empty")
            }
            for i in 0..<sg.count where sg.segments[i].iov_base == nil && sg.segments[i].iov_len > 0 {
                throw CAMError(.badDataDescriptor, "CAMIOQUEUE on \(name): S/G segment \(i) has no address")
            }
            if direction == .none {
                throw CAMError(.badDataDescriptor, "CAMIOQUEUE on \(name): the CCB has an S/G list but no direction")
            }
        }
    }

    /// Marks a completion in one call (what SIMs use).
    package func complete(status: CAMStatus, scsiStatus: SCSIStatus = .good, residual: Int = 0) {
        self.status = status
        self.scsiStatus = scsiStatus
        self.residual = residual
    }
}
