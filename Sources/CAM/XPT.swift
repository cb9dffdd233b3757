#if canImport(Glibc)
import Glibc
#endif
import SCSI

/// A found or lost device, as the XPT announces it (AC_FOUND_DEVICE, AC_LOST_DEVICE).
public enum CAMEvent: Sendable {
    case found(CAMDeviceInfo)
    case lost(CAMDeviceInfo)
}

/// A bus: one registered SIM's path to its devices. SIMs complete CCBs through it.
public final class CAMBus: @unchecked Sendable {
    // @unchecked: all fields are set in init and never change.
    /// The bus number (path id), in order of registration.
    public let number: Int
    /// The SIM behind the bus.
    public var sim: any CAMSIM { driver }
    /// The same SIM, as the XPT drives it.
    let driver: any CAMSIMDriver
    /// The transport; weak, so a SIM thread that outlives it finds nothing rather than a
    /// freed object (its completions still go through `completions`).
    weak var xpt: XPT?
    /// Path inquiry with the bus number filled in.
    public let pathInquiry: PathInquiry
    /// The SIM, when it can poll (looked up once: a conformance check on every `get` costs).
    let pollingSIM: (any CAMPollingSIM)?
    /// Where completions are processed.
    let completions: CompletionQueues
    /// Completions are processed on the SIM's thread (xpt_done_direct).
    public let completesDirectly: Bool

    init(number: Int, sim: any CAMSIMDriver, xpt: XPT, completions: CompletionQueues) {
        self.number = number
        self.driver = sim
        self.pollingSIM = sim as? any CAMPollingSIM
        self.xpt = xpt
        self.completions = completions
        var pi = sim.pathInquiry
        pi.bus = number
        switch getenv("CAM_COMPLETION").map({ String(cString: $0) }) {
        case "threads": pi.completesDirectly = false
        case "direct": pi.completesDirectly = true
        default: break
        }
        self.pathInquiry = pi
        self.completesDirectly = pi.completesDirectly
    }

    /// A started CCB is done (xpt_done): processed on this thread when the SIM completes
    /// directly or the device is polled, else on the device's completion thread.
    package func complete(_ ccb: CCB) {
        completions.route(ccb, direct: completesDirectly)
    }

    /// The SIM saw a device go away (removal, POLLHUP, ENODEV, LUN deleted).
    package func deviceLost(target: Int, lun: UInt64) {
        xpt?.lose(CAMPath(bus: number, target: target, lun: lun))
    }

    /// The SIM saw a device arrive; the XPT probes it on a thread of its own (probing waits
    /// for commands, which the SIM's thread must be free to complete).
    package func deviceArrived(target: Int, lun: UInt64) {
        guard let xpt else { return }
        let path = CAMPath(bus: number, target: target, lun: lun)
        let t = CAMThread(name: "cam-probe") { [weak xpt] in xpt?.probeAndAdd(path: path) }
        xpt.rememberThread(t)
    }
}

/// The transport layer (CAM's XPT): buses, the device table, periph drivers and their unit
/// numbers, scanning with the probe periph, opening pass devices, and found/lost
/// announcements. Completion processing is `CompletionQueues`.
///
/// Locks, in the order they may be taken (never the other way):
/// 1. `topology` — buses, the device table, drivers; taken only to register, scan, open,
///    and on arrival or departure. Never held while calling a SIM, a driver or a handler.
/// 2. a device record's lock — its openers' queues, command slots, in-flight list,
///    statistics, periph list.
/// 3. an open's done lock — its done queue, eventfd, waiters.
/// A device record's `pollLock` is taken before an open's done lock and never while the
/// device lock is held. Periph locks, the unit table's lock, the completion and delay queues'
/// locks are leaves. No lock is global on the I/O path.
public final class XPT: @unchecked Sendable {
    // @unchecked: mutable state is guarded by `topology` as listed above.
    let topology = CAMLock()
    private var buses: [CAMBus] = []
    private var byPath: [CAMPath: CAMDeviceRecord] = [:]
    private var byUnit: [Int: CAMDeviceRecord] = [:]
    private var handlers: [@Sendable (CAMEvent) -> Void] = []
    private var helperThreads: [CAMThread] = []
    private var drivers: [any CAMPeriphDriver] = []
    private var isShutDown = false

    let completions: CompletionQueues
    let units = PeriphUnits()
    private let pass = PassDriver()
    private let probe = ProbeDriver()
    /// Device records alive, including ones kept only by abandoned commands.
    package let liveRecords = CAMRecordCounter()

    /// A transport with `completionThreads` completion threads (default: one per CPU).
    public init(completionThreads: Int = CompletionQueues.cpuCount) {
        completions = CompletionQueues(count: completionThreads)
        drivers = [pass]
    }

    /// Stops the SIMs and completion threads; every device is invalidated. Handles still open
    /// see their device gone.
    public func shutdown() {
        let (bs, ts, records): ([CAMBus], [CAMThread], [CAMDeviceRecord]) = topology.withLock {
            if isShutDown { return ([], [], []) }
            isShutDown = true
            let rs = Array(byPath.values)
            byPath.removeAll()
            byUnit.removeAll()
            return (buses, helperThreads, rs)
        }
        for t in ts { t.join() }
        for b in bs { b.driver.shutdown() }
        completions.stop()
        for r in records { invalidate(r) }
    }

    deinit {
        if !isShutDown { shutdown() }
    }

    // MARK: buses and drivers

    /// Registers a SIM's bus (xpt_bus_register) and returns it. Does not scan. The SIM is one
    /// of this package's (see `CAMSIM`).
    @discardableResult
    public func register(_ given: any CAMSIM) -> CAMBus {
        guard let sim = given as? any CAMSIMDriver else {
            preconditionFailure("\(type(of: given)) is not a SIM the XPT can drive (CAMSIMDriver is SwiftCAM's own)")
        }
        let bus = topology.withLock { () -> CAMBus in
            let b = CAMBus(number: buses.count, sim: sim, xpt: self, completions: completions)
            buses.append(b)
            return b
        }
        sim.attached(to: bus)
        return bus
    }

    /// The buses, in order.
    public var allBuses: [CAMBus] { topology.withLock { buses } }

    /// Registers a periph driver (periphdriver_register); it is offered every device present
    /// now and every one found later.
    package func register(driver: any CAMPeriphDriver) {
        let present: [CAMDeviceRecord] = topology.withLock {
            drivers.append(driver)
            return byPath.values.sorted { $0.path < $1.path }
        }
        for r in present { attach(driver, to: r) }
    }

    /// Calls `handler` for every found or lost device from now on (xpt_register_async).
    public func onEvent(_ handler: @escaping @Sendable (CAMEvent) -> Void) {
        topology.withLock { handlers.append(handler) }
    }

    func rememberThread(_ t: CAMThread) {
        topology.withLock { helperThreads.append(t) }
    }

    private func bus(numbered n: Int) -> CAMBus? {
        topology.withLock { buses.first { $0.number == n } }
    }

    // MARK: scanning

    /// Scans a bus (XPT_SCAN_BUS): asks the SIM for targets, each target for its LUNs (REPORT
    /// LUNS, falling back to LUN 0), and each LUN for INQUIRY. New devices get the lowest free
    /// unit numbers in bus:target:lun order; devices no longer there are lost. Returns the
    /// devices present on the bus.
    @discardableResult
    public func scan(_ bus: CAMBus) throws(CAMError) -> [CAMDeviceInfo] {
        let targets = try bus.driver.discover()
        var present: Set<CAMPath> = []
        for t in targets.sorted(by: { $0.target < $1.target }) {
            // REPORT LUNS goes to LUN 0, whose record then serves LUN 0's own probe: one
            // record per LUN, whatever the scan asks.
            let lun0 = CAMPath(bus: bus.number, target: t.target, lun: 0)
            var lun0Record: CAMDeviceRecord?
            let luns: [UInt64]
            if let known = t.luns {
                luns = known
            } else {
                let r = topology.withLock { byPath[lun0] } ?? CAMDeviceRecord(path: lun0, bus: bus, counter: liveRecords)
                lun0Record = r
                luns = reportedLUNs(using: r).flatMap { $0.isEmpty ? nil : $0 } ?? [0]
            }
            for lun in luns.sorted() {
                let path = CAMPath(bus: bus.number, target: t.target, lun: lun)
                if topology.withLock({ byPath[path] }) != nil {
                    present.insert(path)
                } else if probeAndAdd(path: path, record: lun == 0 ? lun0Record : nil) {
                    present.insert(path)
                }
            }
        }
        let known = topology.withLock { byPath.keys.filter { $0.bus == bus.number } }
        for path in known where !present.contains(path) { lose(path) }
        return devices().filter { $0.path.bus == bus.number }
    }

    /// Scans every bus.
    public func scanAll() throws(CAMError) {
        for b in allBuses { try scan(b) }
    }

    /// The LUNs a target lists in answer to REPORT LUNS (sent to its LUN 0), well-known LUNs
    /// left out, in order; nil when it does not answer. For messages about a LUN that is not
    /// there.
    package func reportedLUNs(bus: CAMBus, target: Int) -> [UInt64]? {
        let path = CAMPath(bus: bus.number, target: target, lun: 0)
        let r = topology.withLock { byPath[path] } ?? CAMDeviceRecord(path: path, bus: bus, counter: liveRecords)
        return reportedLUNs(using: r)
    }

    private func reportedLUNs(using record: CAMDeviceRecord) -> [UInt64]? {
        let length = 8 + 8 * 256
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: length, alignment: 8)
        defer { buf.deallocate() }
        let ccb = CCB(cdb: .reportLUNs(allocationLength: UInt32(length)), data: .buffer(buf), direction: .in,
                      timeout: .seconds(10))
        ccb.flags.insert(.errorRecovery)
        ccb.retryCount = 4
        guard probe.run([ccb], on: record, units: units), ccb.status == .requestComplete,
              let data = ReportLUNsData(buf.prefix(ccb.transferred)) else { return nil }
        // Well-known LUNs (REPORT LUNS, SECURITY PROTOCOL) are not devices to probe.
        return Array(Set(data.luns.filter { !$0.isWellKnown }.map(\.number))).sorted()
    }

    /// INQUIRY at `path` through the probe periph; when a device answers, its record joins
    /// the table, the drivers attach, and it is announced. Returns whether it was added.
    @discardableResult
    func probeAndAdd(path: CAMPath, record given: CAMDeviceRecord? = nil) -> Bool {
        guard let bus = bus(numbered: path.bus) else { return false }
        let record = given ?? CAMDeviceRecord(path: path, bus: bus, counter: liveRecords)
        let length = 96
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: length, alignment: 8)
        defer { buf.deallocate() }
        let inquiry = CCB(cdb: .inquiry(allocationLength: UInt16(length)), data: .buffer(buf), direction: .in,
                          timeout: .seconds(10))
        inquiry.flags.insert(.errorRecovery)
        inquiry.retryCount = 4
        var ccbs = [inquiry]
        if bus.pathInquiry.probeTakesUnitAttention {
            // FreeBSD's probe (PROBE_TUR) sends TEST UNIT READY with retries so that a pending
            // UNIT ATTENTION is taken here and not by the user's first command. Only for SIMs
            // that ask (see PathInquiry). The outcome does not matter: a disk that is not ready
            // is still a device.
            let tur = CCB(cdb: .testUnitReady(), timeout: .seconds(10))
            tur.flags.insert(.errorRecovery)
            tur.retryCount = 4
            ccbs.append(tur)
        }
        guard probe.run(ccbs, on: record, units: units, stopAfterFailure: true),
              inquiry.status == .requestComplete, inquiry.transferred >= 5,
              let data = StandardInquiry(buf.prefix(inquiry.transferred)) else { return false }
        // Peripheral qualifier 1 (not connected now) and 3 (no device here) are not devices.
        if data.peripheralQualifier == .notConnected || data.peripheralQualifier == .notSupported { return false }
        record.resetStatistics()
        return (try? add(record, inquiry: data.bytes)) != nil
    }

    /// Puts a probed device in the table with the lowest free pass unit, attaches the
    /// drivers that match it, and announces it.
    private func add(_ record: CAMDeviceRecord, inquiry: [UInt8]) throws(CAMError) -> CAMDeviceInfo {
        let path = record.path
        let (ok, ds): (Bool, [any CAMPeriphDriver]) = topology.withLock {
            if isShutDown || byPath[path] != nil { return (false, []) }
            record.inquiry = inquiry
            byPath[path] = record
            return (true, drivers)
        }
        guard ok else { throw CAMError(.invalidRequest, "a device is already at \(path)") }
        for d in ds { attach(d, to: record) }
        guard let info = info(for: record) else { throw CAMError(.deviceGone, "\(path): the device went away while it was attached") }
        announce(.found(info))
        return info
    }

    /// Offers a device to a driver; attaches a periph when it matches.
    private func attach(_ driver: any CAMPeriphDriver, to record: CAMDeviceRecord) {
        guard let info = info(for: record), driver.matches(info) else { return }
        let periph = CAMPeriph(driver: driver, unit: units.take(driver.name), device: record, units: units)
        do { try record.add(periph) } catch { return }
        if driver === pass {
            topology.withLock {
                record.passUnit = periph.unit
                if byPath[record.path] === record { byUnit[periph.unit] = record }
            }
        }
        driver.attached(periph)
    }

    /// Adds a device without probing it (for SIMs whose devices are known and for tests).
    @discardableResult
    package func addDevice(at path: CAMPath, inquiry: [UInt8]) throws(CAMError) -> CAMDeviceInfo {
        guard let bus = bus(numbered: path.bus) else {
            throw CAMError(.noSuchDevice, "no bus \(path.bus)")
        }
        return try add(CAMDeviceRecord(path: path, bus: bus, counter: liveRecords), inquiry: inquiry)
    }

    private func announce(_ event: CAMEvent) {
        let hs = topology.withLock { handlers }
        for h in hs { h(event) }
    }

    // MARK: departure

    /// Invalidates the device at `path`: new `queue` calls fail with device-gone, queued
    /// commands complete with device-not-there, started ones complete when the SIM returns
    /// them. Its periphs are invalidated; their unit numbers stay taken until their last
    /// reference goes.
    func lose(_ path: CAMPath) {
        let found: (CAMDeviceRecord, CAMDeviceInfo)? = topology.withLock {
            guard let r = byPath.removeValue(forKey: path) else { return nil }
            if byUnit[r.passUnit] === r { byUnit.removeValue(forKey: r.passUnit) }
            return (r, infoLocked(r, present: false))
        }
        guard let (record, info) = found else { return }
        invalidate(record)
        announce(.lost(info))
    }

    private func invalidate(_ record: CAMDeviceRecord) {
        let (queued, periphs) = record.invalidate()
        for ccb in queued {
            ccb.state = .done
            ccb.status = .deviceNotThere
            CompletionQueues.deliver(ccb)
        }
        for p in periphs { p.invalidate() }
    }

    /// Removes the device at `path` as if it had gone away (hot removal from the XPT's side).
    package func removeDevice(at path: CAMPath) { lose(path) }

    // MARK: opening

    /// The devices present, by unit number.
    public func devices() -> [CAMDeviceInfo] {
        let rs = topology.withLock { byPath.values.sorted { $0.passUnit < $1.passUnit } }
        return rs.compactMap { info(for: $0) }
    }

    /// Opens pass unit `unit` ("pass3" is 3).
    public func open(unit: Int) throws(CAMError) -> PassHandle {
        let r: CAMDeviceRecord? = topology.withLock { byUnit[unit] }
        guard let r else { throw CAMError(.noSuchDevice, "pass\(unit): no such device (camcontrol devlist lists the units)") }
        return try open(r)
    }

    /// Opens the device at bus:target:lun.
    public func open(path: CAMPath) throws(CAMError) -> PassHandle {
        let r: CAMDeviceRecord? = topology.withLock { byPath[path] }
        guard let r else { throw CAMError(.noSuchDevice, "\(path): no device at that bus:target:lun (camcontrol devlist lists them)") }
        return try open(r)
    }

    private func open(_ r: CAMDeviceRecord) throws(CAMError) -> PassHandle {
        guard let periph = r.periphs.list.first(where: { $0.driver === pass }) else {
            throw CAMError(.deviceGone, "pass\(r.passUnit): the device is gone")
        }
        return try PassHandle(periph: periph, xpt: self)
    }

    /// The periphs attached to the device at `path`, and the list's generation (what
    /// XPT_GDEVLIST walks; `camcontrol periphlist`).
    public func periphs(at path: CAMPath) -> (names: [String], generation: Int)? {
        guard let r = topology.withLock({ byPath[path] }) else { return nil }
        let (list, generation) = r.periphs
        return (list.map(\.name), generation)
    }

    /// The periphs attached to the device at `path` (for periph drivers and tests).
    package func attachedPeriphs(at path: CAMPath) -> [CAMPeriph] {
        topology.withLock { byPath[path] }?.periphs.list ?? []
    }

    /// The device as the XPT knows it now (nil before it was added).
    func info(for r: CAMDeviceRecord) -> CAMDeviceInfo? {
        let names = r.periphs.list.map(\.name)
        return topology.withLock {
            var i = infoLocked(r)
            i.periphs = names
            return i
        }
    }

    private func infoLocked(_ r: CAMDeviceRecord, present: Bool? = nil) -> CAMDeviceInfo {
        CAMDeviceInfo(unit: r.passUnit, path: r.path, inquiry: r.inquiry,
                      deviceName: r.bus.sim.deviceName(at: r.path), pathInquiry: r.bus.pathInquiry,
                      isPresent: present ?? (byPath[r.path] === r))
    }

    /// Pass unit numbers taken, including those of lost devices whose periph is still
    /// referenced (an open handle, a command out).
    package var unitsInUse: [Int] { units.inUse("pass") }

    /// Unit numbers of `driver` taken now.
    package func unitsInUse(driver: String) -> [Int] { units.inUse(driver) }
}
