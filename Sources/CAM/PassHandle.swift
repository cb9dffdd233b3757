#if canImport(Glibc)
import Glibc
#endif
import SCSI
import CAMSystem

/// An open pass device: the asynchronous CAMIOQUEUE / CAMIOGET interface of pass(4), per
/// opener.
///
/// - `queue` never waits for I/O and fails only for a bad request; what happens on the device
///   comes back as status in the completed CCB.
/// - `get` returns one completed CCB or nil (pass(4): ENOENT). Completions come in any order;
///   each CCB's `cookie` and `context` come back unchanged.
/// - `descriptor` is readable exactly while completed CCBs wait, for poll/epoll/select.
/// - `completions` is the same queue as an `AsyncSequence`.
/// - Each handle has its own queues (pass(4) shared one between openers); the device's command
///   slots are shared round-robin between the handles that have work.
/// - `close` with commands in flight abandons them: their completions are dropped, and the
///   device record lives until they drain.
public final class PassHandle: @unchecked Sendable {
    // @unchecked: `pending*` fields are guarded by the device record's lock; `done*`, `closed`,
    // `waiter` and the use of `descriptor` by `doneLock`. Lock order: device lock before doneLock.
    let device: CAMDeviceRecord
    // Strong: a handle keeps its transport alive until the handle itself goes (handles stay
    // valid until closed, whoever else lets go of the XPT).
    let xpt: XPT

    // device lock
    /// Set by `close` under the device lock once the handle has left the device's list, so a
    /// racing `queue` cannot strand a CCB on a handle the device no longer serves.
    var detached = false
    var pendingHead: CCB?
    var pendingTail: CCB?
    var pendingCount = 0

    // done lock
    let doneLock = CAMLock()
    let doneCondition = CAMCondition()
    var doneHead: CCB?
    var doneTail: CCB?
    var doneCount = 0
    var closed = false
    var waiter: CheckedContinuation<CCB?, Never>?
    var outstanding = 0
    /// `get` is harvesting a polled device on the thread that will look at the done queue
    /// next: what is delivered to this handle meanwhile does not need the eventfd.
    var harvesting = false
    /// The eventfd holds a count (it was written and not yet read back).
    var eventArmed = false

    // device's pollLock
    /// This handle asked for polled completion (`startPolling`).
    var polling = false

    /// The eventfd: readable while completed CCBs wait. Valid until `close`.
    public let descriptor: Int32
    /// Owns `descriptor`; nil once closed (done lock).
    var event: EventFD?
    /// The unit ("pass3" is 3) and path of the device.
    public let unit: Int
    public let path: CAMPath

    init(device: CAMDeviceRecord, xpt: XPT, unit: Int) throws(CAMError) {
        self.device = device
        self.xpt = xpt
        self.unit = unit
        self.path = device.path
        do {
            let event = try EventFD(for: "pass\(unit)")
            self.descriptor = event.descriptor
            self.event = consume event
        } catch {
            throw CAMError.system(error)
        }
    }

    /// The device's name for messages ("pass3").
    public var name: String { "pass\(unit)" }

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
        try validate(ccb)
        if ccb.function.isImmediate {
            try runImmediate(ccb)
            return
        }
        ccb.resetOutcome()
        ccb.owner = self
        ccb.deviceRecord = device
        ccb.retriesLeft = ccb.flags.contains(.errorRecovery) ? max(0, ccb.retryCount) : 0
        ccb.retriesDone = 0
        ccb.expectsResetAttention = false
        let counted = !ccb.isSynchronous
        doneLock.lock()
        if closed {
            doneLock.unlock()
            release(ccb)
            throw CAMError(.handleClosed, "CAMIOQUEUE on \(name): the handle is closed")
        }
        if counted { outstanding += 1 }
        doneLock.unlock()
        device.lock.lock()
        if device.gone || detached {
            let gone = device.gone
            device.lock.unlock()
            if counted { doneLock.withLock { outstanding -= 1 } }
            release(ccb)
            throw gone ? CAMError(.deviceGone, "CAMIOQUEUE on \(name): the device is gone")
                       : CAMError(.handleClosed, "CAMIOQUEUE on \(name): the handle is closed")
        }
        pushPendingLocked(ccb, atHead: ccb.flags.contains(.queueAtHead))
        device.kickLocked()
    }

    func closedUnlocked() -> Bool { doneLock.withLock { closed } }

    private func validate(_ ccb: CCB) throws(CAMError) {
        if ccb.state == .pending || ccb.state == .inFlight {
            throw CAMError(.ccbBusy, "CAMIOQUEUE on \(name): this CCB is already queued")
        }
        if ccb.function.isXPTOnly {
            throw CAMError(.xptOnlyFunction, "CAMIOQUEUE on \(name): \(ccb.function) is for the XPT only; pass devices do not take it")
        }
        guard ccb.function == .scsiIO else { return }
        if ccb.cdb.count == 0 {
            throw CAMError(.badCDB, "CAMIOQUEUE on \(name): the CCB has no CDB")
        }
        let length = ccb.data.length
        if length > device.maxIO {
            throw CAMError(.dataTooLong, "CAMIOQUEUE on \(name): \(ccb.cdb.commandName) carries \(length) bytes, more than the bus's maxio of \(device.maxIO)")
        }
        switch ccb.data {
        case .none:
            if ccb.direction != .none {
                throw CAMError(.badDataDescriptor, "CAMIOQUEUE on \(name): data direction is set but the CCB has no data")
            }
        case .buffer(let b):
            if b.baseAddress == nil && b.count > 0 {
                throw CAMError(.badDataDescriptor, "CAMIOQUEUE on \(name): buffer with no address")
            }
            if ccb.direction == .none && b.count > 0 {
                throw CAMError(.badDataDescriptor, "CAMIOQUEUE on \(name): the CCB has data but no direction (set .dataIn or .dataOut)")
            }
        case .scatterGather(let sg):
            if sg.count == 0 {
                throw CAMError(.badDataDescriptor, "CAMIOQUEUE on \(name): the scatter/gather list is empty")
            }
            for i in 0..<sg.count where sg.segments[i].iov_base == nil && sg.segments[i].iov_len > 0 {
                throw CAMError(.badDataDescriptor, "CAMIOQUEUE on \(name): S/G segment \(i) has no address")
            }
            if ccb.direction == .none {
                throw CAMError(.badDataDescriptor, "CAMIOQUEUE on \(name): the CCB has an S/G list but no direction")
            }
        }
    }

    /// Immediate CCBs complete at once, onto the done queue.
    private func runImmediate(_ ccb: CCB) throws(CAMError) {
        if closedUnlocked() { throw CAMError(.handleClosed, "CAMIOQUEUE on \(name): the handle is closed") }
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
        ccb.owner = self
        ccb.state = .inFlight
        if !ccb.isSynchronous { doneLock.withLock { outstanding += 1 } }
        deliver(ccb)
    }

    /// XPT_ABORT: a queued CCB is taken back at once; a started one is handed to the SIM.
    private func abort(_ target: CCB?) -> CAMStatus {
        guard let target, target.owner === self else { return .pathInvalid }
        device.lock.lock()
        if target.state == .pending, removePendingLocked(target) {
            device.lock.unlock()
            target.status = .requestAborted
            target.state = .inFlight
            deliver(target)
            return .requestComplete
        }
        let started = target.state == .inFlight
        device.lock.unlock()
        guard started else { return .unableToAbort }
        return device.bus.sim.abort(target, at: device.path) ? .requestComplete : .unableToAbort
    }

    // MARK: CAMIOGET

    /// Takes one completed CCB (CAMIOGET), or nil when none is done (pass(4): ENOENT).
    public func get() -> CCB? {
        doneLock.lock()
        if doneHead == nil && device.isPolled.load(ordering: .relaxed) {
            // Polled device: harvest on this thread, then look again. Completions this
            // thread delivers to this handle skip the eventfd (two system calls a command).
            harvesting = true
            doneLock.unlock()
            device.bus.pollingSIM?.poll(at: path)
            doneLock.lock()
            harvesting = false
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
        release(ccb)
        return ccb
    }

    /// Completed CCBs waiting to be taken.
    public var completedCount: Int { doneLock.withLock { doneCount } }

    /// CCBs queued and not yet taken back with `get`.
    public var outstandingCount: Int { doneLock.withLock { outstanding } }

    private func release(_ ccb: CCB) {
        ccb.owner = nil
        ccb.deviceRecord = nil
        ccb.state = .idle
    }

    /// Waits until a completion is available or `timeoutMilliseconds` pass (-1: forever).
    /// Returns true when `get` will return a CCB. A convenience over poll(2) on `descriptor`.
    public func wait(timeoutMilliseconds: Int32 = -1) -> Bool {
        let polled = device.isPolled.load(ordering: .relaxed)
        var fds = [pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)]
        if polled {
            for fd in device.pollLock.withLock({ device.pollDescriptors }) {
                fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0))
            }
        }
        let deadline = timeoutMilliseconds < 0 ? UInt64.max
            : camMonotonicNanoseconds() + UInt64(timeoutMilliseconds) * 1_000_000
        while true {
            if closedUnlocked() { return false }
            if polled {
                device.bus.pollingSIM?.poll(at: path)
                if completedCount > 0 { return true }
                // Polling ended meanwhile: the descriptors may be gone; the caller asks again.
                if !device.isPolled.load(ordering: .acquiring) { return false }
            }
            var timeout = timeoutMilliseconds
            if deadline != .max {
                let now = camMonotonicNanoseconds()
                timeout = now >= deadline ? 0 : Int32((deadline - now + 999_999) / 1_000_000)
            }
            let rc = poll(&fds, nfds_t(fds.count), timeout)
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
        guard let sim = device.bus.sim as? any CAMDeviceBufferSIM, count > 0, size > 0, size <= maxIO else { return [] }
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
    /// returns nil before sleeping on the descriptors (as with EPOLLET: drain, then wait). `execute` still works (it
    /// harvests while it waits). Not for handles read through `completions`.
    public func startPolling() -> [Int32]? {
        guard let sim = device.bus.pollingSIM else { return nil }
        device.pollLock.lock()
        defer { device.pollLock.unlock() }
        if closedUnlocked() { return nil }
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
        if device.isPolled.load(ordering: .relaxed) {
            waitPolling(for: ccb)
        }
        doneLock.lock()
        while !ccb.synchronousDone { doneCondition.wait(doneLock) }
        ccb.isSynchronous = false
        doneLock.unlock()
        release(ccb)
    }

    /// `execute` on a polled device: nobody else may be harvesting, so harvest here until the
    /// CCB is done (short poll timeouts also catch polling being turned off meanwhile).
    private func waitPolling(for ccb: CCB) {
        let sim = device.bus.pollingSIM
        while device.isPolled.load(ordering: .relaxed) {
            sim?.poll(at: path)
            if doneLock.withLock({ ccb.synchronousDone }) { return }
            var fds = device.pollLock.withLock { device.pollDescriptors }
                .map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            _ = poll(&fds, nfds_t(fds.count), 10)
        }
    }

    // MARK: completion side (called by the XPT)

    /// Puts a finished CCB on the done queue, wakes pollers and waiters; drops it if closed.
    func deliver(_ ccb: CCB) {
        doneLock.lock()
        if ccb.isSynchronous {
            ccb.synchronousDone = true
            doneCondition.broadcast()
            doneLock.unlock()
            return
        }
        if closed {
            // Abandoned: pass(4) keeps the record alive until the last one drains; dropping
            // our reference to the device here is that drain.
            outstanding -= 1
            doneLock.unlock()
            release(ccb)
            return
        }
        if let w = waiter {
            waiter = nil
            outstanding -= 1
            doneLock.unlock()
            release(ccb)
            w.resume(returning: ccb)
            return
        }
        ccb.queueNext = nil
        if let t = doneTail { t.queueNext = ccb } else {
            doneHead = ccb
            if !harvesting { signalEventLocked() }
        }
        doneTail = ccb
        doneCount += 1
        doneLock.unlock()
    }

    private func signalEventLocked() {
        event?.signal()
        eventArmed = true
    }

    private func clearEventLocked() {
        event?.drain()
        eventArmed = false
    }

    // MARK: pending queue (device lock held)

    func pushPendingLocked(_ ccb: CCB, atHead: Bool) {
        ccb.state = .pending
        if atHead {
            ccb.queueNext = pendingHead
            pendingHead = ccb
            if pendingTail == nil { pendingTail = ccb }
        } else {
            ccb.queueNext = nil
            if let t = pendingTail { t.queueNext = ccb } else { pendingHead = ccb }
            pendingTail = ccb
        }
        pendingCount += 1
    }

    func popPendingLocked() -> CCB? {
        guard let ccb = pendingHead else { return nil }
        pendingHead = ccb.queueNext
        if pendingHead == nil { pendingTail = nil }
        ccb.queueNext = nil
        pendingCount -= 1
        return ccb
    }

    func removePendingLocked(_ target: CCB) -> Bool {
        var prev: CCB?
        var c = pendingHead
        while let ccb = c {
            if ccb === target {
                if let prev { prev.queueNext = ccb.queueNext } else { pendingHead = ccb.queueNext }
                if pendingTail === ccb { pendingTail = prev }
                ccb.queueNext = nil
                pendingCount -= 1
                return true
            }
            prev = ccb
            c = ccb.queueNext
        }
        return false
    }

    func drainPendingLocked() -> [CCB] {
        var out: [CCB] = []
        while let c = popPendingLocked() { out.append(c) }
        return out
    }

    // MARK: close

    /// Closes the handle. Queued CCBs that have not started are dropped; started ones are
    /// abandoned and their completions dropped; the descriptor is closed. Idempotent.
    public func close() {
        doneLock.lock()
        if closed { doneLock.unlock(); return }
        closed = true
        var c = doneHead
        while let ccb = c { c = ccb.queueNext; ccb.queueNext = nil; outstanding -= 1; release(ccb) }
        doneHead = nil
        doneTail = nil
        doneCount = 0
        event = nil
        let w = waiter
        waiter = nil
        doneLock.unlock()
        w?.resume(returning: nil)
        stopPolling()

        device.lock.lock()
        detached = true
        device.handles.removeAll { $0 === self }
        let dropped = drainPendingLocked()
        device.lock.unlock()
        doneLock.withLock { outstanding -= dropped.filter { !$0.isSynchronous }.count }
        for ccb in dropped {
            if ccb.isSynchronous {
                ccb.status = .requestAborted
                doneLock.withLock { ccb.synchronousDone = true; doneCondition.broadcast() }
            } else {
                release(ccb)
            }
        }
        xpt.handleClosed(device)
    }

    /// Whether `close` was called.
    public var isClosed: Bool { closedUnlocked() }

    // MARK: listing, statistics

    /// What this handle has outstanding: queued and started CCBs (pass(4) to-do 2).
    public func outstandingCCBs() -> (queued: [CCB], started: [CCB]) {
        device.lock.lock()
        defer { device.lock.unlock() }
        var queued: [CCB] = []
        var c = pendingHead
        while let ccb = c { queued.append(ccb); c = ccb.queueNext }
        let started = device.inFlightLocked().filter { $0.owner === self }
        return (queued, started)
    }

    /// The device's statistics (devstat), shared by all its handles.
    public var statistics: DeviceStatistics {
        device.lock.withLock { DeviceStatistics(storage: device.stats) }
    }

    /// The device as the XPT knows it now.
    public var deviceInfo: CAMDeviceInfo? { xpt.info(for: device) }

    // MARK: async

    /// Completions as an `AsyncSequence`: each `next()` waits for one; ends when the handle is
    /// closed. One consumer at a time.
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
        if let c = get() { return c }
        precondition(!isPolling, "PassHandle.completions cannot read a polling handle: use get() and wait()")
        return await withCheckedContinuation { (cont: CheckedContinuation<CCB?, Never>) in
            doneLock.lock()
            if closed {
                doneLock.unlock()
                cont.resume(returning: nil)
                return
            }
            if let ccb = doneHead {
                doneLock.unlock()
                _ = ccb
                cont.resume(returning: get())
                return
            }
            precondition(waiter == nil, "PassHandle.completions supports one consumer at a time")
            waiter = cont
            doneLock.unlock()
        }
    }
}
