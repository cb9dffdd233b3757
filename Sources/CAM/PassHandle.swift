#if canImport(Glibc)
import Glibc
#endif
import SCSI
import CAMSystem

/// An open of a pass periph: the asynchronous CAMIOQUEUE / CAMIOGET interface of pass(4).
///
/// - `queue` never waits for I/O and fails only for a bad request; what happens on the device
///   comes back as status in the completed CCB.
/// - `get` returns one completed CCB or nil (pass(4): ENOENT). Completions come in any order;
///   each CCB's `cookie` and `context` come back unchanged.
/// - `descriptor` is readable exactly while completed CCBs wait, for poll/epoll/select.
/// - `completions` is the same queue as an `AsyncSequence`; it ends when its task is cancelled.
/// - Each open has its own queues (pass(4) shared one between openers); the device's command
///   slots are shared round-robin between the opens that have work.
/// - `close` with commands in flight abandons them: their completions are dropped, and the
///   periph and device record live until they drain. A handle dropped without `close` is
///   closed by its `deinit` (it cannot go while a CCB it queued is out: the CCB holds it).
public final class PassHandle: CAMDoneTarget, @unchecked Sendable {
    // @unchecked: the `done*` fields, `closed`, `waiter`, `outstanding`, `eventArmed` and the
    // use of `descriptor` are guarded by `doneLock`; `polling` by the device's pollLock. The
    // pending queue is the device record's.
    /// The periph this opens; let go once the handle is closed and its abandoned commands
    /// have drained, so a lost device's unit number is free then (done lock).
    private var periph: CAMPeriph?
    let device: CAMDeviceRecord
    // Strong: a handle keeps its transport alive until the handle itself goes (handles stay
    // valid until closed, whoever else lets go of the XPT).
    let xpt: XPT
    /// This open's pending queue at the device.
    private let pending = DeviceQueue()

    // done lock
    private let doneLock = CAMLock()
    private let doneCondition = CAMCondition()
    private var doneHead: CCB?
    private var doneTail: CCB?
    private var doneCount = 0
    private var closed = false
    private var waiter: CheckedContinuation<CCB?, Never>?
    private var outstanding = 0
    /// The eventfd holds a count (it was written and not yet read back).
    private var eventArmed = false

    // device's pollLock
    /// This handle asked for polled completion (`startPolling`).
    private var polling = false

    /// The eventfd: readable while completed CCBs wait. Valid until `close`.
    public let descriptor: Int32
    /// Owns `descriptor`; nil once closed (done lock).
    private var event: EventFD?
    /// The unit ("pass3" is 3) and path of the device.
    public let unit: Int
    public let path: CAMPath

    /// Opens `periph` (counted; the close is counted too).
    init(periph: CAMPeriph, xpt: XPT) throws(CAMError) {
        self.periph = periph
        self.name = periph.name
        self.device = periph.device
        self.xpt = xpt
        self.unit = periph.unit
        self.path = periph.path
        let event: EventFD
        do {
            event = try EventFD(for: periph.name)
        } catch {
            throw CAMError.system(error)
        }
        try periph.device.attach(pending, name: periph.name)
        do {
            // Counted only once nothing else can fail, so every open counted gets its close.
            try periph.open()
        } catch {
            _ = periph.device.detach(pending)
            throw error
        }
        self.descriptor = event.descriptor
        self.event = consume event
    }

    deinit {
        close()
    }

    /// The device's name for messages ("pass3").
    public let name: String

    /// The bus's path inquiry (XPT_PATH_INQ), without a round trip.
    public var pathInquiry: PathInquiry { device.bus.pathInquiry }

    /// Largest data transfer one CCB may carry.
    public var maxIO: Int { device.maxIO }

    // MARK: CAMIOQUEUE

    /// Queues a CCB (CAMIOQUEUE). Never waits for I/O.
    ///
    /// Throws only for a bad request: data longer than `maxIO`, an XPT-only function, an empty
    /// or inconsistent S/G list, a CCB already queued, a closed handle, a device that is gone.
    public func queue(_ ccb: CCB) throws(CAMError) {
        try ccb.validate(maxIO: device.maxIO, on: name)
        if ccb.function.isImmediate {
            try runImmediate(ccb)
            return
        }
        let counted = !ccb.isSynchronous
        doneLock.lock()
        if closed {
            doneLock.unlock()
            throw CAMError(.handleClosed, "CAMIOQUEUE on \(name): the handle is closed")
        }
        if counted { outstanding += 1 }
        doneLock.unlock()
        do {
            try device.enqueue(ccb, on: pending, target: self, name: name)
        } catch {
            if counted { doneLock.withLock { outstanding -= 1 } }
            throw error
        }
    }

    /// Immediate CCBs complete at once, onto the done queue.
    private func runImmediate(_ ccb: CCB) throws(CAMError) {
        if isClosed { throw CAMError(.handleClosed, "CAMIOQUEUE on \(name): the handle is closed") }
        ccb.resetOutcome()
        switch ccb.function {
        case .pathInquiry:
            ccb.pathInquiry = device.bus.pathInquiry
            ccb.status = .requestComplete
        case .getDeviceInfo:
            ccb.deviceInfo = xpt.info(for: device)
            ccb.status = ccb.deviceInfo == nil ? .deviceNotThere : .requestComplete
        case .noop:
            ccb.status = .requestComplete
        case .abort:
            ccb.status = abort(ccb.abortTarget)
        default:
            ccb.status = .requestInvalid
        }
        ccb.state = .done
        if !ccb.isSynchronous { doneLock.withLock { outstanding += 1 } }
        ccbDone(ccb)
    }

    /// XPT_ABORT: a queued CCB is taken back at once; a started one is handed to the SIM.
    private func abort(_ target: CCB?) -> CAMStatus {
        guard let target else { return .pathInvalid }
        switch device.lookUpForAbort(target, in: pending) {
        case .notHere:
            return .pathInvalid
        case .finished:
            return .unableToAbort
        case .takenBack:
            target.state = .done
            target.status = .requestAborted
            CompletionQueues.deliver(target)
            return .requestComplete
        case .started:
            return device.bus.driver.abort(target, at: path) ? .requestComplete : .unableToAbort
        }
    }

    // MARK: CAMIOGET

    /// Takes one completed CCB (CAMIOGET), or nil when none is done (pass(4): ENOENT).
    public func get() -> CCB? {
        doneLock.lock()
        if doneHead == nil && device.isPolled.load(ordering: .relaxed) {
            doneLock.unlock()
            harvest()
            doneLock.lock()
        }
        guard let ccb = doneHead else { doneLock.unlock(); return nil }
        doneHead = ccb.queueNext
        ccb.queueNext = nil
        if doneHead == nil {
            doneTail = nil
            if !closed && eventArmed { clearEventLocked() }
        }
        doneCount -= 1
        outstanding -= 1
        doneLock.unlock()
        return ccb
    }

    /// Completed CCBs waiting to be taken.
    public var completedCount: Int { doneLock.withLock { doneCount } }

    /// CCBs queued and not yet taken back with `get`.
    public var outstandingCount: Int { doneLock.withLock { outstanding } }

    /// Waits until a completion is available or `timeout` passes (nil: for ever; zero: just
    /// looks). Returns true when `get` will return a CCB. A convenience over poll(2) on
    /// `descriptor`.
    public func wait(timeout: Duration? = nil) -> Bool {
        let polled = device.isPolled.load(ordering: .relaxed)
        var fds = [pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)]
        if polled {
            for fd in device.pollLock.withLock({ device.pollDescriptors }) {
                fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0))
            }
        }
        let limit = timeout?.nanosecondsRoundedUp ?? .max
        let start = camMonotonicNanoseconds()
        let deadline = limit > UInt64.max - start ? UInt64.max : start + limit
        while true {
            if isClosed { return false }
            if polled {
                harvest()
                if completedCount > 0 { return true }
                // Polling ended meanwhile: the descriptors may be gone; the caller asks again.
                if !device.isPolled.load(ordering: .acquiring) { return false }
            }
            var milliseconds: Int32 = -1
            if deadline != .max {
                let now = camMonotonicNanoseconds()
                milliseconds = now >= deadline ? 0 : Int32(clamping: (deadline - now + 999_999) / 1_000_000)
            }
            let rc = poll(&fds, nfds_t(fds.count), milliseconds)
            if rc < 0 && errno == EINTR { continue }
            if rc <= 0 { return false }
            if !polled || fds[0].revents != 0 { return true }
            // A SIM descriptor is readable: harvest at the top of the loop.
            fds[1...].indices.forEach { fds[$0].revents = 0 }
        }
    }

    // MARK: device buffers

    /// Buffers the device fills and empties with no copy (`CAMDeviceBufferSIM`; pass(4)'s
    /// to-do 1), for the data of this handle's CCBs. Empty when the SIM has none, or when the
    /// device cannot give them now (already polled, removed); then ordinary memory serves as
    /// well, only with a copy. Ask before `startPolling`.
    public func deviceBuffers(count: Int, size: Int) -> [any CAMDeviceBuffer] {
        guard let sim = device.bus.driver as? any CAMDeviceBufferSIM, count > 0, size > 0, size <= maxIO else { return [] }
        return (try? sim.deviceBuffers(at: path, count: count, size: size)) ?? []
    }

    // MARK: polled completion

    /// Turns on polled completion for this handle: completions are harvested by the thread
    /// that calls `get` or `wait`, not handed over from a SIM thread (CAM's `sim_poll`; Linux
    /// io_uring's IOPOLL is the same idea). Returns the descriptors to watch together with
    /// `descriptor` (poll/epoll), or nil when the device's SIM cannot poll (nothing changes).
    ///
    /// While any handle polls a device, the SIM's threads leave that device's completions to
    /// the pollers: the program must keep calling `get` or `wait` on a polling handle while
    /// it has commands outstanding, on any of the device's handles. Completions that `get`
    /// harvests for its own handle do not make `descriptor` readable: call `get` until it
    /// returns nil before sleeping on the descriptors (as with EPOLLET: drain, then wait).
    /// `execute` still works (it harvests while it waits). Not for handles read through
    /// `completions`.
    public func startPolling() -> [Int32]? {
        guard let sim = device.bus.pollingSIM else { return nil }
        device.pollLock.lock()
        defer { device.pollLock.unlock() }
        if isClosed { return nil }
        if polling { return device.pollDescriptors }
        if device.pollers == 0 {
            guard let fds = sim.startPolling(at: path) else { return nil }
            device.pollDescriptors = fds
            device.isPolled.store(true, ordering: .releasing)
        }
        device.pollers += 1
        polling = true
        return device.pollDescriptors
    }

    /// Turns polled completion off for this handle (see `startPolling`); `close` does it too.
    public func stopPolling() {
        device.pollLock.lock()
        guard polling else { device.pollLock.unlock(); return }
        polling = false
        device.pollers -= 1
        let last = device.pollers == 0
        if last {
            device.isPolled.store(false, ordering: .releasing)
            device.pollDescriptors = []
            device.bus.pollingSIM?.stopPolling(at: path)
        }
        device.pollLock.unlock()
        // Flush: whatever the SIM parked for a poller before it saw the device unpolled.
        if last { device.bus.pollingSIM?.poll(at: path) }
    }

    /// Whether this handle polls (`startPolling` succeeded and `stopPolling` was not called).
    public var isPolling: Bool { device.pollLock.withLock { polling } }

    /// Harvests the device's finished CCBs on this thread: this handle's go on its done queue
    /// without the eventfd (the caller reads the queue next), the others go to their owners.
    private func harvest() {
        guard let sim = device.bus.pollingSIM else { return }
        var chain = device.harvest { sim.poll(at: path) }
        while let ccb = chain {
            chain = ccb.queueNext
            ccb.queueNext = nil
            if !ccb.isSynchronous, let t = ccb.target, t === self {
                _ = ccb.leave()
                doneLock.withLock { appendLocked(ccb, signal: false) }
            } else {
                CompletionQueues.deliver(ccb)
            }
        }
    }

    // MARK: CAMIOCOMMAND

    /// Runs a CCB and waits for it (CAMIOCOMMAND). Throws only as `queue` does; the outcome is
    /// in the CCB. Must not be called on a SIM's own I/O thread.
    public func execute(_ ccb: CCB) throws(CAMError) {
        ccb.isSynchronous = true
        ccb.synchronousDone = false
        do {
            try queue(ccb)
        } catch {
            ccb.isSynchronous = false
            throw error
        }
        // On a polled device nobody else may be harvesting: harvest here until it is done
        // (short poll timeouts also catch polling being turned off meanwhile).
        while device.isPolled.load(ordering: .relaxed), !doneLock.withLock({ ccb.synchronousDone }) {
            harvest()
            if doneLock.withLock({ ccb.synchronousDone }) { break }
            var fds = device.pollLock.withLock { device.pollDescriptors }
                .map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            _ = poll(&fds, nfds_t(fds.count), 10)
        }
        doneLock.lock()
        while !ccb.synchronousDone { doneCondition.wait(doneLock) }
        ccb.isSynchronous = false
        doneLock.unlock()
    }

    // MARK: completion side

    /// The pass periph's done routine for this open: puts a finished CCB on the done queue
    /// and wakes pollers and waiters; drops it if the handle is closed.
    package func ccbDone(_ ccb: CCB) {
        doneLock.lock()
        if ccb.isSynchronous {
            ccb.synchronousDone = true
            doneCondition.broadcast()
            doneLock.unlock()
            return
        }
        if closed {
            // Abandoned: the drain pass(4) waits for. The last one lets go of the periph.
            outstanding -= 1
            let last = outstanding == 0 ? periph : nil
            if last != nil { periph = nil }
            doneLock.unlock()
            // Released here, outside the done lock: its deinit takes the device lock.
            withExtendedLifetime(last) {}
            return
        }
        if let w = waiter {
            waiter = nil
            outstanding -= 1
            doneLock.unlock()
            w.resume(returning: ccb)
            return
        }
        appendLocked(ccb, signal: true)
        doneLock.unlock()
    }

    private func appendLocked(_ ccb: CCB, signal: Bool) {
        if closed {
            outstanding -= 1
            return
        }
        ccb.queueNext = nil
        if let t = doneTail { t.queueNext = ccb } else {
            doneHead = ccb
            if signal { signalEventLocked() }
        }
        doneTail = ccb
        doneCount += 1
    }

    private func signalEventLocked() {
        event?.signal()
        eventArmed = true
    }

    private func clearEventLocked() {
        _ = event?.drain()
        eventArmed = false
    }

    // MARK: close

    /// Closes the handle (counted as the periph's close). Queued CCBs that have not started
    /// are dropped; started ones are abandoned and their completions dropped; the descriptor
    /// is closed. Idempotent.
    public func close() {
        doneLock.lock()
        if closed { doneLock.unlock(); return }
        closed = true
        // The close is counted whatever happens to the reference below (D_TRACKCLOSE).
        let opened = periph
        outstanding -= doneCount
        doneHead = nil
        doneTail = nil
        doneCount = 0
        event = nil
        let w = waiter
        waiter = nil
        doneLock.unlock()
        w?.resume(returning: nil)
        stopPolling()

        for ccb in device.detach(pending) {
            _ = ccb.leave()
            ccb.state = .done
            doneLock.withLock {
                if ccb.isSynchronous {
                    ccb.status = .requestAborted
                    ccb.synchronousDone = true
                    doneCondition.broadcast()
                } else {
                    outstanding -= 1
                }
            }
        }
        // Counted now (D_TRACKCLOSE); commands still out hold the periph until they drain
        // (see `ccbDone`).
        let last = doneLock.withLock { () -> CAMPeriph? in
            guard outstanding <= 0 else { return nil }
            let p = periph
            periph = nil
            return p
        }
        opened?.close()
        withExtendedLifetime(last) {}
    }

    /// Whether `close` was called.
    public var isClosed: Bool { doneLock.withLock { closed } }

    // MARK: listing, statistics

    /// What this handle has outstanding: queued and started CCBs (pass(4) to-do 2).
    public func outstandingCCBs() -> (queued: [CCB], started: [CCB]) {
        device.outstanding(of: pending)
    }

    /// The device's statistics (devstat), shared by all its handles.
    public var statistics: DeviceStatistics { device.statistics }

    /// The device as the XPT knows it now.
    public var deviceInfo: CAMDeviceInfo? { xpt.info(for: device) }

    // MARK: async

    /// Completions as an `AsyncSequence`: each `next()` waits for one; ends when the handle is
    /// closed or the waiting task is cancelled. One consumer at a time.
    public var completions: Completions { Completions(handle: self) }

    /// See `completions`.
    public struct Completions: AsyncSequence, Sendable {
        public typealias Element = CCB
        let handle: PassHandle

        public struct AsyncIterator: AsyncIteratorProtocol {
            let handle: PassHandle
            public mutating func next() async -> CCB? {
                await handle.nextCompletion()
            }
        }

        public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(handle: handle) }
    }

    func nextCompletion() async -> CCB? {
        if Task.isCancelled { return nil }
        if let c = get() { return c }
        precondition(!isPolling, "PassHandle.completions cannot read a polling handle: use get() and wait()")
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (cont: CheckedContinuation<CCB?, Never>) in
                doneLock.lock()
                if closed || Task.isCancelled {
                    doneLock.unlock()
                    cont.resume(returning: nil)
                    return
                }
                if doneHead != nil {
                    doneLock.unlock()
                    cont.resume(returning: get())
                    return
                }
                precondition(waiter == nil, "PassHandle.completions supports one consumer at a time")
                waiter = cont
                doneLock.unlock()
            }
        } onCancel: {
            let w = doneLock.withLock { () -> CheckedContinuation<CCB?, Never>? in
                let w = waiter
                waiter = nil
                return w
            }
            w?.resume(returning: nil)
        }
    }
}
