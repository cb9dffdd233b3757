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
    public let sim: any CAMSIM
    unowned let xpt: XPT
    /// Path inquiry with the bus number filled in.
    public let pathInquiry: PathInquiry
    /// The SIM, when it can poll (looked up once: a conformance check on every `get` costs).
    let pollingSIM: (any CAMPollingSIM)?

    init(number: Int, sim: any CAMSIM, xpt: XPT) {
        self.number = number
        self.sim = sim
        self.pollingSIM = sim as? any CAMPollingSIM
        self.xpt = xpt
        var pi = sim.pathInquiry
        pi.bus = number
        self.pathInquiry = pi
    }

    /// A started CCB is done. `direct`: process it on this thread (a SIM that completes on its
    /// own I/O thread); otherwise it goes to the completion worker for its device.
    public func complete(_ ccb: CCB, direct: Bool = true) {
        if direct {
            xpt.process(ccb)
        } else if let d = ccb.deviceRecord {
            xpt.workers.enqueue(ccb, path: d.path)
        } else {
            xpt.process(ccb)
        }
    }

    /// The SIM saw a device go away (removal, POLLHUP, ENODEV, LUN deleted).
    public func deviceLost(target: Int, lun: UInt64) {
        xpt.lose(CAMPath(bus: number, target: target, lun: lun))
    }

    /// The SIM saw a device arrive; the XPT probes it on a thread of its own (probing waits
    /// for commands, which the SIM's thread must be free to complete).
    public func deviceArrived(target: Int, lun: UInt64) {
        let xpt = self.xpt
        let path = CAMPath(bus: number, target: target, lun: lun)
        let t = CAMThread(name: "cam-probe") { xpt.probeAndAdd(path: path) }
        xpt.rememberThread(t)
    }
}

/// The transport layer (CAM's XPT): buses, the device table, unit numbers, scanning, opening
/// pass handles, completion processing with error recovery, and found/lost announcements.
///
/// Locks, in the order they may be taken (never the other way):
/// 1. `topology` — buses, the device table, unit numbers; taken only to register, scan, open,
///    close, and on arrival or departure.
/// 2. a device record's `lock` — its handles' pending queues, command slots, in-flight list,
///    statistics.
/// 3. a handle's `doneLock` — its done queue, eventfd, waiters.
/// A device record's `pollLock` (polled completion on or off) is taken before a handle's
/// `doneLock` and never while the device lock is held.
/// Worker and delay queues have their own leaf locks. No lock is global on the I/O path.
public final class XPT: @unchecked Sendable {
    // @unchecked: mutable state is guarded by `topology` as listed above.
    let topology = CAMLock()
    var buses: [CAMBus] = []
    var byPath: [CAMPath: CAMDeviceRecord] = [:]
    var byUnit: [Int: CAMDeviceRecord] = [:]
    var handlers: [@Sendable (CAMEvent) -> Void] = []
    var helperThreads: [CAMThread] = []
    var isShutDown = false

    let workers: CompletionWorkers
    let delayed = DelayedRunner()
    /// Device records alive, including ones kept only by abandoned commands.
    public let liveRecords = CAMRecordCounter()

    /// A transport with `completionThreads` workers (default: one per CPU).
    public init(completionThreads: Int = CompletionWorkers.cpuCount) {
        let box = WeakXPT()
        workers = CompletionWorkers(count: completionThreads) { ccb in box.xpt?.process(ccb) }
        box.xpt = self
    }

    /// Stops the SIMs and completion threads. Handles still open see their device gone.
    public func shutdown() {
        let (bs, ts): ([CAMBus], [CAMThread]) = topology.withLock {
            if isShutDown { return ([], []) }
            isShutDown = true
            return (buses, helperThreads)
        }
        for t in ts { t.join() }
        for b in bs { b.sim.shutdown() }
        delayed.stop()
        workers.stop()
    }

    deinit {
        if !isShutDown { shutdown() }
    }

    // MARK: buses

    /// Registers a SIM's bus (xpt_bus_register) and returns it. Does not scan.
    @discardableResult
    public func register(_ sim: any CAMSIM) -> CAMBus {
        let bus = topology.withLock { () -> CAMBus in
            let b = CAMBus(number: buses.count, sim: sim, xpt: self)
            buses.append(b)
            return b
        }
        sim.attached(to: bus)
        return bus
    }

    /// The buses, in order.
    public var allBuses: [CAMBus] { topology.withLock { buses } }

    /// Calls `handler` for every found or lost device from now on (xpt_register_async).
    public func onEvent(_ handler: @escaping @Sendable (CAMEvent) -> Void) {
        topology.withLock { handlers.append(handler) }
    }

    func rememberThread(_ t: CAMThread) {
        topology.withLock { helperThreads.append(t) }
    }

    // MARK: scanning

    /// Scans a bus (XPT_SCAN_BUS): asks the SIM for targets, each target for its LUNs (REPORT
    /// LUNS, falling back to LUN 0), and each LUN for INQUIRY. New devices get the lowest free
    /// unit numbers in bus:target:lun order; devices no longer there are lost. Returns the
    /// devices present on the bus.
    @discardableResult
    public func scan(_ bus: CAMBus) throws(CAMError) -> [CAMDeviceInfo] {
        let targets = try bus.sim.discover()
        var present: Set<CAMPath> = []
        for t in targets.sorted(by: { $0.target < $1.target }) {
            let luns = t.luns ?? reportLUNs(bus: bus, target: t.target)
            for lun in luns.sorted() {
                let path = CAMPath(bus: bus.number, target: t.target, lun: lun)
                if topology.withLock({ byPath[path] }) != nil {
                    present.insert(path)
                } else if probeAndAdd(path: path) {
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

    /// REPORT LUNS to LUN 0 of a target; LUN 0 alone when that fails.
    func reportLUNs(bus: CAMBus, target: Int) -> [UInt64] {
        guard let luns = reportedLUNs(bus: bus, target: target), !luns.isEmpty else { return [0] }
        return luns
    }

    /// The LUNs a target lists in answer to REPORT LUNS (sent to its LUN 0), well-known LUNs
    /// left out, in order; nil when it does not answer. For messages about a LUN that is not
    /// there.
    public func reportedLUNs(bus: CAMBus, target: Int) -> [UInt64]? {
        let path = CAMPath(bus: bus.number, target: target, lun: 0)
        let probe = CAMDeviceRecord(path: path, bus: bus, pathInquiry: bus.pathInquiry, counter: liveRecords)
        guard let h = try? PassHandle(device: probe, xpt: self, unit: -1) else { return [0] }
        probe.handles = [h]
        defer { closeProbe(h, probe) }
        let length = 8 + 8 * 256
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: length, alignment: 8)
        defer { buf.deallocate() }
        let ccb = CCB(cdb: .reportLUNs(allocationLength: UInt32(length)), data: .buffer(buf), direction: .in,
                      timeoutMilliseconds: 10_000)
        ccb.flags.insert(.errorRecovery)
        ccb.retryCount = 4
        guard (try? h.execute(ccb)) != nil, ccb.status == .requestComplete,
              let data = ReportLUNsData(buf.prefix(ccb.transferred)) else { return nil }
        // Well-known LUNs (REPORT LUNS, SECURITY PROTOCOL) are not devices to probe.
        return Array(Set(data.luns.filter { !$0.isWellKnown }.map(\.number))).sorted()
    }

    private func closeProbe(_ h: PassHandle, _ probe: CAMDeviceRecord) {
        h.doneLock.withLock {
            h.closed = true
            h.event = nil
        }
        probe.lock.withLock { probe.handles.removeAll() }
    }

    /// INQUIRY at `path`; when a device answers, it joins the table with a unit number and is
    /// announced. Returns whether it was added.
    @discardableResult
    func probeAndAdd(path: CAMPath) -> Bool {
        guard let bus = topology.withLock({ buses.first { $0.number == path.bus } }) else { return false }
        let record = CAMDeviceRecord(path: path, bus: bus, pathInquiry: bus.pathInquiry, counter: liveRecords)
        guard let h = try? PassHandle(device: record, xpt: self, unit: -1) else { return false }
        record.handles = [h]
        let length = 96
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: length, alignment: 8)
        defer { buf.deallocate() }
        let ccb = CCB(cdb: .inquiry(allocationLength: UInt16(length)), data: .buffer(buf), direction: .in,
                      timeoutMilliseconds: 10_000)
        ccb.flags.insert(.errorRecovery)
        ccb.retryCount = 4
        let ok = (try? h.execute(ccb)) != nil && ccb.status == .requestComplete && ccb.transferred >= 5
        if ok && bus.pathInquiry.probeTakesUnitAttention {
            // FreeBSD's probe (PROBE_TUR) sends TEST UNIT READY with retries so that a pending
            // UNIT ATTENTION is taken here and not by the user's first command. Only for SIMs
            // that ask (see PathInquiry). The outcome does not matter: a disk that is not ready
            // is still a device.
            let tur = CCB(cdb: .testUnitReady(), timeoutMilliseconds: 10_000)
            tur.flags.insert(.errorRecovery)
            tur.retryCount = 4
            _ = try? h.execute(tur)
        }
        closeProbe(h, record)
        guard ok, let inquiry = StandardInquiry(buf.prefix(ccb.transferred)) else { return false }
        // Peripheral qualifier 1 (not connected now) and 3 (no device here) are not devices.
        if inquiry.peripheralQualifier == .notConnected || inquiry.peripheralQualifier == .notSupported { return false }
        return (try? add(path: path, bus: bus, inquiry: inquiry.bytes)) != nil
    }

    /// Gives a probed device a fresh record (its statistics start at zero) and the lowest free
    /// unit number, and announces it.
    private func add(path: CAMPath, bus: CAMBus, inquiry: [UInt8]) throws(CAMError) -> CAMDeviceInfo {
        let record = CAMDeviceRecord(path: path, bus: bus, pathInquiry: bus.pathInquiry, counter: liveRecords)
        record.inquiry = inquiry
        let info: CAMDeviceInfo? = topology.withLock {
            if isShutDown || byPath[path] != nil { return nil }
            var unit = 0
            while byUnit[unit] != nil { unit += 1 }
            record.unit = unit
            byUnit[unit] = record
            byPath[path] = record
            return infoLocked(record)
        }
        guard let info else { throw CAMError(.invalidRequest, "a device is already at \(path)") }
        announce(.found(info))
        return info
    }

    /// Adds a device without probing it (for SIMs whose devices are known and for tests).
    @discardableResult
    public func addDevice(at path: CAMPath, inquiry: [UInt8]) throws(CAMError) -> CAMDeviceInfo {
        guard let bus = topology.withLock({ buses.first { $0.number == path.bus } }) else {
            throw CAMError(.noSuchDevice, "no bus \(path.bus)")
        }
        return try add(path: path, bus: bus, inquiry: inquiry)
    }

    private func announce(_ event: CAMEvent) {
        let hs = topology.withLock { handlers }
        for h in hs { h(event) }
    }

    // MARK: departure

    /// Invalidates the device at `path`: new `queue` calls fail with device-gone, queued
    /// commands complete with device-not-there, started ones complete when the SIM returns
    /// them. The unit number stays taken until its last handle closes.
    func lose(_ path: CAMPath) {
        let found: (CAMDeviceRecord, CAMDeviceInfo)? = topology.withLock {
            guard let r = byPath.removeValue(forKey: path) else { return nil }
            if r.openHandles == 0 { byUnit.removeValue(forKey: r.unit) }
            return (r, infoLocked(r, present: false))
        }
        guard let (record, info) = found else { return }
        record.lock.lock()
        record.gone = true
        var flushed: [CCB] = []
        for h in record.handles { flushed += h.drainPendingLocked() }
        record.lock.unlock()
        for ccb in flushed {
            ccb.state = .inFlight
            ccb.status = .deviceNotThere
            ccb.owner?.deliver(ccb)
        }
        announce(.lost(info))
    }

    /// Removes the device at `path` as if it had gone away (hot removal from the XPT's side).
    public func removeDevice(at path: CAMPath) { lose(path) }

    // MARK: opening

    /// The devices present, by unit number.
    public func devices() -> [CAMDeviceInfo] {
        topology.withLock {
            byPath.values.sorted { $0.unit < $1.unit }.map { infoLocked($0) }
        }
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
        topology.lock()
        if r.gone || byPath[r.path] !== r {
            topology.unlock()
            throw CAMError(.deviceGone, "pass\(r.unit): the device is gone")
        }
        let h: PassHandle
        do {
            h = try PassHandle(device: r, xpt: self, unit: r.unit)
        } catch {
            topology.unlock()
            throw error
        }
        r.openHandles += 1
        r.lock.withLock { r.handles.append(h) }
        topology.unlock()
        return h
    }

    func handleClosed(_ r: CAMDeviceRecord) {
        topology.withLock {
            r.openHandles -= 1
            if r.openHandles == 0, byPath[r.path] !== r, byUnit[r.unit] === r {
                byUnit.removeValue(forKey: r.unit)
            }
        }
    }

    func info(for r: CAMDeviceRecord) -> CAMDeviceInfo? {
        topology.withLock { r.unit >= 0 ? infoLocked(r) : nil }
    }

    private func infoLocked(_ r: CAMDeviceRecord, present: Bool? = nil) -> CAMDeviceInfo {
        CAMDeviceInfo(unit: r.unit, path: r.path, inquiry: r.inquiry,
                      deviceName: r.bus.sim.deviceName(at: r.path), pathInquiry: r.bus.pathInquiry,
                      isPresent: present ?? (byPath[r.path] === r))
    }

    /// Unit numbers taken, including those of lost devices with handles still open.
    public var unitsInUse: [Int] { topology.withLock { byUnit.keys.sorted() } }

    // MARK: completion

    /// Completion processing: free the slot and count the command, retry when recovery asks
    /// for it, hand the CCB to its handle, start what waits.
    func process(_ ccb: CCB) {
        guard let record = ccb.deviceRecord else { return }
        let now = camMonotonicNanoseconds()
        record.lock.lock()
        record.finishLocked(ccb, now: now)

        if ccb.expectsResetAttention, ccb.status != .requestComplete {
            // The report of the reset already retried for: one more try, not counted (as
            // Linux's midlayer does with the UNIT ATTENTION it expects after a reset). Without
            // this, -C 1 is spent on a lost connection and its UNIT ATTENTION fails the retry.
            ccb.expectsResetAttention = false
            if ErrorRecovery.reportsReset(ccb) {
                record.lock.unlock()
                ccb.retriesDone += 1
                requeue(ccb, on: record)
                return
            }
        }
        if ccb.retriesLeft > 0, ccb.status != .requestComplete {
            record.lock.unlock()
            let action = ErrorRecovery.action(for: ccb)
            if action != .none {
                ccb.retriesLeft -= 1
                ccb.retriesDone += 1
                ccb.expectsResetAttention = ErrorRecovery.isReset(ccb.status)
                switch action {
                case .retryAfter(let ns):
                    record.kick()
                    delayed.run(afterNanoseconds: ns) { [self] in self.requeue(ccb, on: record) }
                    return
                default:
                    requeue(ccb, on: record)
                    return
                }
            }
            record.lock.lock()
        }
        // Start what waits before handing this one back: the slot is free now.
        record.kickLocked()
        ccb.owner?.deliver(ccb)
    }

    private func requeue(_ ccb: CCB, on record: CAMDeviceRecord) {
        let done = ccb.retriesDone
        let left = ccb.retriesLeft
        record.lock.lock()
        if record.gone || ccb.owner?.isClosed ?? true {
            record.lock.unlock()
            ccb.state = .inFlight
            if record.gone { ccb.status = .deviceNotThere }
            ccb.owner?.deliver(ccb)
            return
        }
        let expects = ccb.expectsResetAttention
        ccb.resetOutcome()
        ccb.retriesDone = done
        ccb.retriesLeft = left
        ccb.expectsResetAttention = expects
        ccb.owner?.pushPendingLocked(ccb, atHead: true)
        record.lock.unlock()
        record.kick()
    }
}

/// Lets the workers' closure reach the XPT without a retain cycle.
final class WeakXPT: @unchecked Sendable {
    // Written once during XPT.init before any worker runs; read-only afterwards.
    weak var xpt: XPT?
}
