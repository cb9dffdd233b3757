#if canImport(Glibc)
import Glibc
#endif
import CAM
import CLibISCSI
import SCSI
import Synchronization

/// The iSCSI SIM: LUNs on iSCSI targets through libiscsi, with no kernel initiator.
///
/// A bus is either one LUN (`iscsi://host[:port]/target-iqn/lun`, target 0 of the bus) or a
/// portal (`iscsi://host[:port]`), whose targets SendTargets discovery finds and numbers in the
/// order of their names, keeping a number for a name across rescans; the XPT finds their LUNs
/// with REPORT LUNS. Each target has one session (one login, one service thread) shared by
/// its LUNs.
///
/// CAM status from the session's outcomes:
/// - target answered: GOOD is CAM_REQ_CMP, anything else CAM_SCSI_STATUS_ERROR with the status
///   byte and the sense (autosense); data overrun is CAM_DATA_RUN_ERR;
/// - time-out: CAM_CMD_TIMEOUT (an ABORT TASK went to the target);
/// - abort: CAM_REQ_ABORTED; ended by a LUN RESET: CAM_BDR_SENT;
/// - connection lost with the command out: CAM_SCSI_IT_NEXUS_LOST (it may or may not have run;
///   CAM's recovery retries it when asked, once the session is back);
/// - target away longer than the reconnect window: CAM_SEL_TIMEOUT;
/// - LOGICAL UNIT NOT SUPPORTED (05/25/00) from a LUN that was there: the device is lost.
/// - SIM shut down: CAM_DEV_NOT_THERE.
///
/// Polled completion (`CAMPollingSIM`, CAM's `sim_poll`): while a handle polls a LUN, the
/// session's libiscsi context is driven by the polling thread itself whenever the session is
/// logged in: commands for that LUN are queued into libiscsi on the queuing thread and sent,
/// several PDUs in one TCP segment, at the next `poll`, which also reads the answers and
/// completes the CCBs on that thread. No thread hand-over and no eventfd per command, as in a
/// single-threaded libiscsi program. Logging in again, the reconnect window and time-outs stay
/// with the session's service thread; see `ISCSISession`.
public final class ISCSISIM: CAMSIMDriver, @unchecked Sendable {
    // @unchecked: `targets` and `sessions` are guarded by `lock`; the rest is set in init.
    public let url: ISCSIURL
    public let options: ISCSISession.Options
    /// Largest transfer of one CCB.
    public let maxIO: Int

    private let lock = CAMLock()
    /// The bus, for completions. Sessions hold it rather than the SIM: no reference cycle and
    /// no weak reference (a weakly referenced object pays for every retain and release, and
    /// each completion would take a few).
    private let link = ISCSIBusLink()
    private var targets: [String] = []
    /// By target number (an array: looked up for every command and every poll).
    private var sessions: [ISCSISession?] = []
    private var shutDown = false
    private var problems: [String] = []

    /// A bus for `url`: one LUN when it names a target, a discovery bus when it is a portal.
    /// Nothing is sent before `discover`.
    public init(url: ISCSIURL, options: ISCSISession.Options = .init(), maxIO: Int = 8 << 20) {
        self.url = url
        self.options = options
        self.maxIO = maxIO
        if let t = url.target { targets = [t] }
    }

    /// A bus for a specifier string (`iscsi://...`); the password never shows in an error.
    public convenience init(specifier: String, options: ISCSISession.Options = .init()) throws(CAMError) {
        do {
            self.init(url: try ISCSIURL.parsePortal(specifier), options: options)
        } catch {
            throw CAMError(.invalidRequest, error.message)
        }
    }

    public var pathInquiry: PathInquiry {
        PathInquiry(maxIO: maxIO, commandSlots: options.commandSlots, simName: "iscsi", transport: "iSCSI",
                    maxTarget: 255, maxLUN: 255, hbaVendor: "libiscsi",
                    // Every session is a new I_T nexus, and targets report it with a UNIT
                    // ATTENTION on the first command; the probe takes that one.
                    probeTakesUnitAttention: true,
                    // One session thread serves the socket and every LUN of the target; with
                    // completions processed on CAM's threads it returns to the socket sooner
                    // (measured: docs/completion-threads.md).
                    completesDirectly: false)
    }

    package func attached(to bus: CAMBus) {
        link.set(bus)
    }

    package func discover() throws(CAMError) -> [SIMTarget] {
        if let target = url.target, let lun = url.lun {
            _ = try session(for: 0, name: target)
            return [SIMTarget(target: 0, luns: [lun])]
        }
        let found: [ISCSIDiscoveredTarget]
        do {
            found = try ISCSIDiscovery.sendTargets(url, initiatorName: options.initiatorName)
        } catch {
            throw CAMError(error.code == .connectFailed ? .noSuchDevice : .simFailure, error.message)
        }
        let numbered: [(Int, String)] = lock.withLock {
            for t in found where !targets.contains(t.name) { targets.append(t.name) }
            return found.compactMap { t in targets.firstIndex(of: t.name).map { ($0, t.name) } }
        }
        var result: [SIMTarget] = []
        var failures: [String] = []
        for (number, name) in numbered {
            do {
                _ = try session(for: number, name: name)
                result.append(SIMTarget(target: number))
            } catch {
                // A target we may not log in to (CHAP) is left out; the others are listed.
                failures.append(error.message)
            }
        }
        lock.withLock { problems = failures }
        if result.isEmpty, let first = failures.first {
            throw CAMError(.simFailure, first)
        }
        return result
    }

    /// The targets the last discovery found but could not log in to (CHAP), and why.
    public var scanProblems: [String] { lock.withLock { problems } }

    /// The session of target `number`, logging in when there is none.
    private func session(for number: Int, name: String) throws(CAMError) -> ISCSISession {
        if let s = session(at: number) { return s }
        let target = url.with(target: name, lun: url.lun ?? 0)
        let s: ISCSISession
        do {
            let link = self.link
            s = try ISCSISession(url: target, options: options) { c in ISCSISIM.completed(c, target: number, link: link) }
        } catch {
            throw CAMError(error.code == .connectFailed ? .noSuchDevice : .simFailure, error.message)
        }
        let kept: ISCSISession? = lock.withLock {
            if shutDown { return nil }
            if let other = sessionLocked(number) { return other }
            while sessions.count <= number { sessions.append(nil) }
            sessions[number] = s
            return s
        }
        guard let kept else {
            s.close()
            throw CAMError(.deviceGone, "\(url): the SIM is shut down")
        }
        if kept !== s { s.close() }
        return kept
    }

    private func sessionLocked(_ target: Int) -> ISCSISession? {
        target >= 0 && target < sessions.count ? sessions[target] : nil
    }

    private func session(at target: Int) -> ISCSISession? {
        lock.lock()
        defer { lock.unlock() }
        return sessionLocked(target)
    }

    package func start(_ ccb: CCB, at path: CAMPath) {
        guard let s = session(at: path.target), let bus = link.bus else {
            finish(ccb, .deviceNotThere, "no iSCSI session for target \(path.target)")
            return
        }
        let request: ISCSIRequest
        switch ccb.function {
        case .scsiIO:
            guard ccb.cdb.count <= 16 else {
                finish(ccb, .requestInvalid, "a \(ccb.cdb.count)-byte CDB: iSCSI through libiscsi sends at most 16")
                return
            }
            let direction: ISCSIDirection
            switch ccb.direction {
            case .none: direction = .none
            case .in: direction = .in
            case .out: direction = .out
            }
            switch ccb.data {
            case .none:
                submit(s, ISCSIRequest(lun: path.lun, cdb: ccb.cdb, direction: direction,
                                       timeoutNanoseconds: ccb.timeoutNanoseconds, context: ccb), ccb, bus)
            case .buffer(let b):
                var one = iovec(iov_base: b.baseAddress, iov_len: b.count)
                withUnsafePointer(to: &one) { p in
                    submit(s, ISCSIRequest(lun: path.lun, cdb: ccb.cdb, direction: direction,
                                           segments: UnsafeBufferPointer(start: p, count: b.count > 0 ? 1 : 0),
                                           timeoutNanoseconds: ccb.timeoutNanoseconds, context: ccb), ccb, bus)
                }
            case .scatterGather(let sg):
                submit(s, ISCSIRequest(lun: path.lun, cdb: ccb.cdb, direction: direction,
                                       segments: UnsafeBufferPointer(sg.buffer),
                                       timeoutNanoseconds: ccb.timeoutNanoseconds, context: ccb), ccb, bus)
            }
            return
        case .resetDevice:
            request = .lunReset(path.lun, timeoutNanoseconds: ccb.timeoutNanoseconds, context: ccb)
        default:
            finish(ccb, .functionNotAvailable, "\(ccb.function) is not an iSCSI SIM function")
            return
        }
        submit(s, request, ccb, bus)
    }

    private func submit(_ s: ISCSISession, _ r: ISCSIRequest, _ ccb: CCB, _ bus: CAMBus) {
        do {
            try s.submit(r)
        } catch {
            let status: CAMStatus
            switch error.code {
            case .queueFull: status = .resourceUnavailable
            case .closed: status = .deviceNotThere
            default: status = .requestInvalid
            }
            finish(ccb, status, error.message)
        }
    }

    package func abort(_ ccb: CCB, at path: CAMPath) -> Bool {
        guard let s = session(at: path.target) else { return false }
        return s.abort(context: ccb)
    }

    public func deviceName(at path: CAMPath) -> String {
        let name: String? = lock.withLock { path.target < targets.count ? targets[path.target] : nil }
        guard let name else { return url.description }
        return url.with(target: name, lun: path.lun).description
    }

    package func shutdown() {
        let all: [ISCSISession] = lock.withLock {
            shutDown = true
            let list = sessions.compactMap { $0 }
            sessions.removeAll()
            return list
        }
        // Outstanding commands complete with `.closed`, which is CAM_DEV_NOT_THERE.
        for s in all { s.close() }
    }

    // MARK: completions (on a session's service thread)

    private func finish(_ ccb: CCB, _ status: CAMStatus, _ text: String) {
        ccb.complete(status: status, residual: ccb.data.length)
        ccb.transportDetail = TransportDetail(text: ISCSISecrets.redact(text))
        link.bus?.complete(ccb)
    }

    private static func completed(_ c: ISCSICompletion, target: Int, link: ISCSIBusLink) {
        guard let ccb = c.context as? CCB, let bus = link.bus else { return }
        let length = ccb.data.length
        var lost = false
        switch c.outcome {
        case .status:
            if c.kind == .lunReset {
                ccb.complete(status: .requestComplete)
            } else if c.scsiStatus == .good {
                ccb.complete(status: c.overflow ? .dataRunError : .requestComplete, residual: min(c.residual, length))
            } else {
                ccb.complete(status: .scsiStatusError, scsiStatus: c.scsiStatus, residual: min(c.residual, length))
                if c.sense.count > 0 && !ccb.flags.contains(.disableAutosense) { ccb.setSense(c.sense) }
                // LOGICAL UNIT NOT SUPPORTED: the LUN was deleted on the target.
                if c.sense.count > 13 {
                    let sense = SenseData(c.sense)
                    lost = sense.senseKey == .illegalRequest && sense.additionalSenseCode == .logicalUnitNotSupported
                }
            }
        case .timedOut:
            ccb.complete(status: .commandTimeout, residual: length)
        case .aborted:
            ccb.complete(status: .requestAborted, residual: length)
        case .reset:
            ccb.complete(status: .bdrSent, residual: length)
        case .connectionLost:
            ccb.complete(status: .scsiITNexusLost, residual: length)
        case .unreachable:
            ccb.complete(status: .selectionTimeout, residual: length)
        case .transportError:
            ccb.complete(status: .completedWithError, residual: length)
        case .closed:
            ccb.complete(status: .deviceNotThere, residual: length)
        }
        if let d = c.detail { ccb.transportDetail = TransportDetail(text: d) }
        // The device goes before the CCB completes, so that whoever sees the completion also
        // sees the device gone (and a retry by CAM's recovery finds it gone, not the target).
        if lost { bus.deviceLost(target: target, lun: c.lun) }
        bus.complete(ccb)
    }
}

// MARK: polled completion

extension ISCSISIM: CAMPollingSIM {
    /// Polling a LUN hands its target's session to the polling thread while it is logged in
    /// (`ISCSISession.startPolling`): commands go out and come back on that thread. The
    /// descriptor is the session's poll set, the same for every LUN of the target.
    package func startPolling(at path: CAMPath) -> [Int32]? {
        guard let s = session(at: path.target), let fd = s.startPolling(lun: path.lun) else {
            return nil
        }
        return [fd]
    }

    package func stopPolling(at path: CAMPath) {
        session(at: path.target)?.stopPolling(lun: path.lun)
    }

    @discardableResult
    package func poll(at path: CAMPath) -> Int {
        session(at: path.target)?.poll() ?? 0
    }
}

/// The bus an iSCSI SIM is attached to, shared by the SIM and its sessions' completion handlers.
/// Set once, when the SIM is attached, and read for every command without a lock.
final class ISCSIBusLink: Sendable {
    private let current = AtomicLazyReference<CAMBus>()

    /// The first bus stays: a SIM is attached to one bus.
    func set(_ bus: CAMBus) { _ = current.storeIfNil(bus) }

    var bus: CAMBus? { current.load() }
}
