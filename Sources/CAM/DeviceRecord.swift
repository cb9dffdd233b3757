import Synchronization
import SCSI
/// What the XPT knows about one device (a LUN), as `CAMDeviceInfo` gives it out.
public struct CAMDeviceInfo: Sendable, Equatable {
    /// The pass unit number (`pass3` is unit 3).
    public var unit: Int
    /// Bus, target, LUN.
    public var path: CAMPath
    /// The standard INQUIRY data as the device returned it.
    public var inquiry: [UInt8]
    /// The standard INQUIRY data decoded (nil when the device returned none).
    public var standardInquiry: StandardInquiry? { StandardInquiry(inquiry) }
    /// Peripheral device type: direct access, sequential access, CD-ROM...; unknown without
    /// INQUIRY data.
    public var peripheralType: PeripheralDeviceType { standardInquiry?.peripheralDeviceType ?? .unknown }
    /// T10 vendor, product and revision, trimmed.
    public var vendor: String { standardInquiry?.vendor ?? "" }
    public var product: String { standardInquiry?.product ?? "" }
    public var revision: String { standardInquiry?.revision ?? "" }
    /// The SIM's name for the device ("/dev/sg2", a masked iSCSI URL, "emu:disk").
    public var deviceName: String
    /// The bus's path inquiry.
    public var pathInquiry: PathInquiry
    /// False once the device has gone away.
    public var isPresent: Bool

    public init(unit: Int, path: CAMPath, inquiry: [UInt8], deviceName: String, pathInquiry: PathInquiry, isPresent: Bool) {
        self.unit = unit; self.path = path; self.inquiry = inquiry
        self.deviceName = deviceName; self.pathInquiry = pathInquiry; self.isPresent = isPresent
    }

    /// "pass3".
    public var passName: String { "pass\(unit)" }
}

/// Counts device records alive, so tests can see a record freed once its commands drain.
public final class CAMRecordCounter: @unchecked Sendable {
    // Guarded by its own lock.
    private let lock = CAMLock()
    private var n = 0
    func add(_ d: Int) { lock.withLock { n += d } }
    public var count: Int { lock.withLock { n } }
}

/// One device: its command slots, the pending queues of its handles, what is in flight, its
/// statistics (CAM's `cam_ed` plus the pass(4) softc's queues).
///
/// Lock order (see XPT.swift): topology lock, then a device's `lock`, then a handle's done lock.
/// The pending queues of every handle of a device are guarded by the device's lock, so that
/// picking the next command fairly across handles is one critical section.
final class CAMDeviceRecord: @unchecked Sendable {
    // @unchecked: every mutable field is guarded by `lock`, except `unit`, `inquiry`,
    // `openHandles` and `isNumbered`, which are guarded by the XPT's topology lock.
    let path: CAMPath
    let bus: CAMBus
    let lock = CAMLock()
    let slots: Int
    let maxIO: Int
    let counter: CAMRecordCounter

    // topology lock
    var unit: Int = -1
    var inquiry: [UInt8] = []
    var openHandles = 0

    // device lock
    var gone = false
    var slotsInUse = 0
    var starting = false
    var handles: [PassHandle] = []
    var roundRobin = 0
    var flightHead: CCB?
    var stats = DeviceStatisticsStorage()

    // poll lock: taken before a handle's doneLock and the SIM's own locks, never while the
    // device lock is held
    let pollLock = CAMLock()
    /// Handles that poll this device.
    var pollers = 0
    /// What the SIM gave for `startPolling`, while `pollers > 0`.
    var pollDescriptors: [Int32] = []
    /// Read without the lock on the I/O path (a stale answer costs one poll or one wait).
    let isPolled = Atomic<Bool>(false)

    init(path: CAMPath, bus: CAMBus, pathInquiry: PathInquiry, counter: CAMRecordCounter) {
        self.path = path
        self.bus = bus
        self.slots = max(1, pathInquiry.commandSlots)
        self.maxIO = pathInquiry.maxIO
        self.counter = counter
        counter.add(1)
    }

    deinit {
        stats.free()
        counter.add(-1)
    }

    /// Starts pending commands while slots are free. Re-entrant calls (a SIM completing inline
    /// inside `start`) return at once: the thread already in the loop sees the freed slot,
    /// because the loop re-checks under the lock before it gives up.
    func kick() {
        lock.lock()
        kickLocked()
    }

    /// `kick` for a caller that holds the lock; returns with it released.
    func kickLocked() {
        if starting || gone { lock.unlock(); return }
        starting = true
        while slotsInUse < slots, let ccb = nextPendingLocked() {
            slotsInUse += 1
            let now = camMonotonicNanoseconds()
            if flightHead == nil { stats.busySince = now }
            linkFlightLocked(ccb)
            ccb.state = .inFlight
            ccb.startNanoseconds = now
            if slotsInUse > stats.maxInFlight { stats.maxInFlight = slotsInUse }
            lock.unlock()
            bus.sim.start(ccb, at: path)
            lock.lock()
            if gone { break }
        }
        starting = false
        lock.unlock()
    }

    /// Round-robin across handles: each handle with work gets the next slot in turn.
    private func nextPendingLocked() -> CCB? {
        let n = handles.count
        guard n > 0 else { return nil }
        for i in 0..<n {
            let h = handles[(roundRobin + i) % n]
            if let ccb = h.popPendingLocked() {
                roundRobin = (roundRobin + i + 1) % n
                return ccb
            }
        }
        return nil
    }

    private func linkFlightLocked(_ ccb: CCB) {
        ccb.flightNext = flightHead
        ccb.flightPrev = nil
        flightHead?.flightPrev = ccb
        flightHead = ccb
    }

    private func unlinkFlightLocked(_ ccb: CCB) {
        if let p = ccb.flightPrev { p.flightNext = ccb.flightNext } else if flightHead === ccb { flightHead = ccb.flightNext }
        ccb.flightNext?.flightPrev = ccb.flightPrev
        ccb.flightNext = nil
        ccb.flightPrev = nil
    }

    /// A started CCB came back from the SIM: free its slot, count it.
    func finishLocked(_ ccb: CCB, now: UInt64) {
        guard ccb.state == .inFlight else { return }
        slotsInUse -= 1
        unlinkFlightLocked(ccb)
        if flightHead == nil { stats.busyNanoseconds &+= now &- stats.busySince }
        let latency = now &- ccb.startNanoseconds
        ccb.durationNanoseconds = latency
        ccb.state = .done
        let bytes = ccb.function == .scsiIO ? ccb.transferred : 0
        stats.record(direction: ccb.direction, bytes: bytes, latency: latency, ok: ccb.status == .requestComplete)
    }

    /// Started commands, for listing (pass(4) to-do 2).
    func inFlightLocked() -> [CCB] {
        var out: [CCB] = []
        var c = flightHead
        while let ccb = c { out.append(ccb); c = ccb.flightNext }
        return out
    }
}
