#if canImport(Glibc)
import Glibc
#endif
import CAM
import CAMSystem
import CLibISCSI
import SCSI
import Synchronization

/// One iSCSI session to one target, driven by one service thread that alone touches the
/// libiscsi context (libiscsi 1.19 is not thread-safe).
///
/// Requests are handed in through a locked queue and an eventfd; the thread polls the socket
/// and the eventfd, runs `iscsi_service`, and looks at time-outs at least once a second.
/// Completions go to `handler`, on the service thread.
///
/// Connection loss and reconnection. libiscsi 1.19 left to itself (auto-reconnect on, the
/// default) notices a dead connection inside `iscsi_service`, logs in again on a new context
/// with a fresh ISID (a new session to the target: nexus loss, so the target drops the old
/// session's tasks and reports a UNIT ATTENTION), and re-sends every SCSI command that had not
/// completed, with new ITT and CmdSN; DATA-OUT, NOP-OUT and task management PDUs are dropped
/// and re-made from the command. Commands queued during the reconnect wait on the old context,
/// where the time-out scan does not see them. It retries with a growing back-off (1 s, 2 s,
/// ... up to 30 s) forever unless `iscsi_set_reconnect_max_retries` bounds it, after which all
/// commands complete with SCSI_STATUS_CANCELLED. The application is told nothing, a command
/// that ran but whose response was lost runs twice, and nothing bounds how long a caller waits.
///
/// So this session switches that off (`iscsi_set_noautoreconnect`) and does it itself, visibly:
/// - Commands out on the wire when the connection fails complete with `.connectionLost`
///   (CAM: CAM_SCSI_IT_NEXUS_LOST): they may or may not have run. Nothing is re-sent behind the
///   caller's back, so a write is never replayed after the caller saw it fail; CAM's error
///   recovery retries it when the CCB asked for recovery (a plain WRITE is idempotent).
/// - Commands submitted while the session is down wait, each bounded by its own time-out.
/// - The thread logs in again at once, then every `Options.retryInterval`; after
///   `Options.reconnectWindow` without success, waiting and new commands complete
///   with `.unreachable` (CAM: selection time-out) at once, and logins go on being tried.
/// - The target's UNIT ATTENTION after the new login reaches the caller like any sense (CAM's
///   error recovery retries it without taking a retry when it follows a nexus loss that it
///   retried: the report of the same event).
/// - libiscsi, whose own reconnect is off, cancels the commands of a dead connection inside
///   `iscsi_service` while it still calls itself logged in: the link counts as broken from the
///   first such cancellation, so that what is submitted from those completions (CAM's retries)
///   waits for the next login instead of going out on the dead context.
///
/// Polled completion (CAM's `sim_poll`, see `startPolling`). The thread that touches the
/// context holds the *driver role*: the service thread takes it for each turn of its loop, and
/// while some LUN is polled a caller's thread takes it in `poll` (never waiting for it) and in
/// `submit`, so that commands go out and completions come back on the application's thread
/// with no thread wake-up in between, as a single-threaded libiscsi program (iscsi-perf) does.
/// Only a logged-in link is driven that way: logging in, reconnecting, the reconnect window and
/// time-outs stay with the service thread, which keeps waking every 100 ms while pollers run.
/// What a caller sees across a lost connection does not change with polling: the commands out
/// end as `.connectionLost` (on whichever thread noticed), later ones wait for the new login.
public final class ISCSISession: @unchecked Sendable {
    // @unchecked: `shared*` fields are guarded by `lock`; `ctx`, `link`, the waiting list, the
    // poll set and every slot field while a slot is owned by the driver are touched only by the
    // holder of the driver role (`sharedDriverBusy`, taken and given back under `lock`, which
    // orders the accesses of successive holders). A slot moves caller -> driver through
    // `sharedSubmitted` and driver -> free list under `lock`.

    /// Settings of a session.
    public struct Options: Sendable {
        /// Our iSCSI name.
        public var initiatorName = "iqn.2024-01.org.swiftcam:initiator"
        /// Requests a session holds at once (queued and started).
        public var commandSlots = 128
        /// Most segments one request may have.
        public var maxSegments = 256
        /// How long a login may take.
        public var loginTimeout: Duration = .seconds(10)
        /// How long the target may stay away before commands fail at once (a URL's
        /// `reconnect_window=SECONDS` replaces it).
        public var reconnectWindow: Duration = .seconds(15)
        /// Pause between login attempts after a failure.
        public var retryInterval: Duration = .seconds(1)
        public init() {}
    }

    public typealias Handler = @Sendable (ISCSICompletion) -> Void

    /// The URL the session logged in with (`description` is masked).
    public let url: ISCSIURL
    public let options: Options
    // The options' times in nanoseconds, as the service loop compares them (at most a century,
    // so that adding one to a monotonic time never overflows).
    private let loginTimeoutNanoseconds: UInt64
    private let reconnectWindowNanoseconds: UInt64
    private let retryIntervalNanoseconds: UInt64
    private let handler: Handler

    // shared, under `lock`
    private let lock = CAMLock()
    private let loginDone = CAMCondition()
    private var sharedFree: [Int32]
    private var sharedSubmitted: [Int32]
    private var sharedAborts: [(Int32, UInt32)]
    private var sharedStopping = false
    private var sharedWakePending = false
    private var sharedFirstLogin: Result<Void, ISCSIError>?
    private var sharedLinkUp = false
    /// The driver role is taken (see the type's note); waiters wait on `driverFree`.
    private var sharedDriverBusy = false
    private var sharedDriverWaiters = 0
    private let driverFree = CAMCondition()
    /// Some LUN is polled: `poll` may drive the context.
    private var sharedPolling = false
    /// The polled LUNs: their submitters drive the context themselves.
    private var sharedPolledLUNs: [UInt64] = []
    /// The driver's thread (pthread_t), 0 when none: a handler that submits or stops polling on
    /// the driver's own thread must not wait for the role it holds.
    private let driverThread = Atomic<UInt>(0)
    /// When a poller last called `poll` (monotonic ns): the service thread watches the socket
    /// itself when pollers go quiet, so that nothing waits on a caller that stopped asking.
    private let lastPoll = Atomic<UInt64>(0)

    // service thread only
    private let slots: [ISCSISlot]
    private var ctx: OpaquePointer?
    private enum Link { case down, loggingIn, up }
    private var link = Link.down
    private var loginDeadline: UInt64 = 0
    private var nextLoginAttempt: UInt64 = 0
    private var downSince: UInt64 = 0
    private var everUp = false
    private var loginFailure: String?
    private var connectionBroke = false
    private var waiting: [Int32]
    private var taken: [Int32]
    private var takenAborts: [(Int32, UInt32)]
    private var nextSweep: UInt64 = 0
    /// LUNs being polled (driver), once per `startPolling` not yet stopped: two device
    /// records at one path (a LUN lost and found again) may both poll it. An array: one or two
    /// entries in practice, and looked up for every command.
    private var polledLUNs: [UInt64] = []
    /// The epoll set pollers watch (`startPolling`): the socket while logged in and polled.
    /// Made on the first `startPolling`, closed with the session.
    private var pollSet: Epoll?
    private var watchedFD: Int32 = -1
    private var watchedOut = false
    /// Commands out for LUNs nobody polls: the service thread watches the socket for them.
    private var unpolledIssued = 0
    /// Completions in this holding of the driver role (`poll`'s answer).
    private var completions = 0
    /// Bumped with every new context, so that a socket event seen before is not applied to
    /// the next context.
    private var contextGeneration: UInt64 = 0

    /// Wakes the service thread.
    private let wake: EventFD
    private var thread: CAMThread?
    private var serviceThreadID = pthread_t()

    /// Logs in to `url` (which must name a target) and starts the service thread. Throws when
    /// the first login fails: connection refused, authentication failure, no such target.
    ///
    /// The service thread keeps the session alive until `close()`: call it when done.
    public init(url: ISCSIURL, options: Options = Options(), handler: @escaping Handler) throws(ISCSIError) {
        guard url.target != nil else {
            throw ISCSIError(.badURL, "\(url): a session needs a target name (iscsi://host/target-iqn/lun)")
        }
        self.url = url
        var options = options
        if let w = url.reconnectWindow { options.reconnectWindow = w }
        self.options = options
        let century = Duration.seconds(100 * 365 * 86_400).nanosecondsRoundedUp
        loginTimeoutNanoseconds = min(options.loginTimeout.nanosecondsRoundedUp, century)
        reconnectWindowNanoseconds = min(options.reconnectWindow.nanosecondsRoundedUp, century)
        retryIntervalNanoseconds = min(options.retryInterval.nanosecondsRoundedUp, century)
        self.handler = handler
        let n = max(1, options.commandSlots)
        var free: [Int32] = []
        free.reserveCapacity(n)
        for i in (0..<n).reversed() { free.append(Int32(i)) }
        sharedFree = free
        sharedSubmitted = []
        sharedSubmitted.reserveCapacity(n)
        sharedAborts = []
        sharedAborts.reserveCapacity(n)
        waiting = []
        waiting.reserveCapacity(n)
        taken = []
        taken.reserveCapacity(n)
        takenAborts = []
        takenAborts.reserveCapacity(n)
        do throws(SystemError) {
            wake = try EventFD(for: "the iSCSI session to \(url)")
        } catch {
            throw ISCSIError(.systemCall, "eventfd for the iSCSI session to \(url): \(error.text)", errno: error.errno)
        }
        var made: [ISCSISlot] = []
        made.reserveCapacity(n)
        for i in 0..<n { made.append(ISCSISlot(index: i, maxSegments: max(1, options.maxSegments))) }
        slots = made
        for s in slots { s.session = self }
        ISCSISecrets.register(url)

        let name = "iscsi-\(url.port)"
        thread = CAMThread(name: name) { [self] in self.run() }

        // Wait for the first login, bounded by the login time-out and a margin.
        let limit = loginTimeoutNanoseconds + 2_000_000_000
        let start = camMonotonicNanoseconds()
        lock.lock()
        while sharedFirstLogin == nil {
            let spent = camMonotonicNanoseconds() &- start
            if spent >= limit { break }
            loginDone.wait(lock, timeoutNanoseconds: limit - spent)
        }
        let first = sharedFirstLogin
        lock.unlock()
        switch first {
        case .success?:
            return
        case .failure(let e)?:
            shutDownThread()
            throw e
        case nil:
            shutDownThread()
            throw ISCSIError(.loginFailed, "login to \(url) did not finish within \(options.loginTimeout.camDescription)")
        }
    }

    deinit {
        close()
        ISCSISecrets.unregister(url)
        for s in slots { s.free() }
    }

    /// True while the session is logged in.
    public var isLoggedIn: Bool { lock.withLock { sharedLinkUp } }

    /// Free request slots now.
    public var freeSlots: Int { lock.withLock { sharedFree.count } }

    // MARK: submitting

    /// Hands a request to the service thread. Never waits for I/O; the completion comes to the
    /// handler. Throws only for a bad request, a full session or a closed one.
    public func submit(_ request: ISCSIRequest) throws(ISCSIError) {
        if request.kind == .command {
            guard request.cdb.count > 0, request.cdb.count <= 16 else {
                throw ISCSIError(.badRequest, "\(url): a \(request.cdb.count)-byte CDB; libiscsi sends 1 to 16 bytes")
            }
            if request.segments.count > slots[0].capacity {
                throw ISCSIError(.badRequest, "\(url): \(request.segments.count) segments; at most \(slots[0].capacity)")
            }
            if request.direction == .none && request.segments.contains(where: { $0.iov_len > 0 }) {
                throw ISCSIError(.badRequest, "\(url): data given without a direction")
            }
        }
        lock.lock()
        if sharedStopping {
            lock.unlock()
            throw ISCSIError(.closed, "\(url): the session is closed")
        }
        guard let index = sharedFree.popLast() else {
            lock.unlock()
            throw ISCSIError(.queueFull, "\(url): all \(slots.count) command slots are in use")
        }
        lock.unlock()

        // The slot is ours alone until it is on the submitted list.
        let slot = slots[Int(index)]
        // The coarse clock: a deadline at most a tick (4 ms) early, checked every 100 ms.
        slot.fill(request, now: camiscsi_coarse_nanoseconds())

        lock.lock()
        if sharedStopping {
            // Closed meanwhile: the service thread may be gone, nobody would take it.
            slot.reset()
            sharedFree.append(index)
            lock.unlock()
            throw ISCSIError(.closed, "\(url): the session is closed")
        }
        slot.sharedContextIdentity = request.context.map(ObjectIdentifier.init)
        sharedSubmitted.append(index)
        if sharedPolling && sharedPolledLUNs.contains(request.lun) {
            // Polled: issue on this thread. When the role is taken, its holder issues this
            // before it lets go (`releaseRole`), so nobody is woken either way.
            if sharedDriverBusy {
                lock.unlock()
                return
            }
            takeRoleLocked()
            lock.unlock()
            // The commands go out at the next `poll`, together with any queued after this
            // one: the poller calls it before it sleeps (`PassHandle.get` and `wait` do).
            releaseRole(flush: false)
            return
        }
        let wake = !sharedWakePending && !isServiceThread
        if wake { sharedWakePending = true }
        lock.unlock()
        if wake { signalThread() }
    }

    /// Asks the target to abort the request whose context is `context` (ABORT TASK). Returns
    /// false when no such request is outstanding. The completion comes later: `.aborted`, or
    /// the normal one when the command finished first.
    @discardableResult
    public func abort(context: AnyObject) -> Bool {
        // Slot contexts are written by the owner before submit and read here under the lock
        // only as an identity; a stale match is caught by the generation on the thread.
        var found: (Int32, UInt32)?
        lock.lock()
        for s in slots where s.sharedContextIdentity == ObjectIdentifier(context) {
            found = (Int32(s.index), s.sharedGeneration)
            break
        }
        if let found { sharedAborts.append(found) }
        let wake = found != nil && !sharedWakePending && !isServiceThread
        if wake { sharedWakePending = true }
        lock.unlock()
        if wake { signalThread() }
        return found != nil
    }

    /// Stops the service thread. Outstanding requests complete with `.closed`. The target is
    /// not logged out of politely: closing the connection ends the session on its side.
    public func close() {
        shutDownThread()
    }

    private func shutDownThread() {
        lock.lock()
        let t = thread
        thread = nil
        sharedStopping = true
        lock.unlock()
        guard let t else { return }
        signalThread()
        t.join()
    }

    private var isServiceThread: Bool { pthread_equal(pthread_self(), serviceThreadID) != 0 }

    // MARK: the driver role

    /// Takes the role, waiting for its holder to let go. Not on the holder's own thread.
    private func acquireRole() {
        lock.lock()
        while sharedDriverBusy {
            sharedDriverWaiters += 1
            driverFree.wait(lock)
            sharedDriverWaiters -= 1
        }
        takeRoleLocked()
        lock.unlock()
    }

    private func takeRoleLocked() {
        sharedDriverBusy = true
        driverThread.store(UInt(pthread_self()), ordering: .relaxed)
        completions = 0
    }

    private var isDriverThread: Bool { driverThread.load(ordering: .relaxed) == UInt(pthread_self()) }

    /// Gives the role back, after issuing what other threads handed to it meanwhile, sending
    /// what is queued (`flush`) and bringing the poll set up to date. Returns how many requests
    /// completed while it was held.
    @discardableResult
    private func releaseRole(flush: Bool = true) -> Int {
        while true {
            if flush { flushOutput() }
            syncPollSet(flushed: flush)
            lock.lock()
            if sharedStopping || (sharedSubmitted.isEmpty && sharedAborts.isEmpty) {
                let n = completions
                sharedDriverBusy = false
                driverThread.store(0, ordering: .relaxed)
                if sharedDriverWaiters > 0 { driverFree.signal() }
                lock.unlock()
                return n
            }
            moveSharedWorkLocked()
            lock.unlock()
            startTaken()
            if link == .up { issueWaiting() }
        }
    }

    // MARK: polled completion

    /// Polling of `lun` starts: from now on `poll` and `submit` drive the context on their
    /// callers' threads, and the service thread stops watching the socket (except for other
    /// LUNs' commands). Returns the descriptor to watch, readable when `poll` has something to
    /// do: an epoll set that holds the socket while the session is logged in (the socket
    /// changes on reconnection, the set does not). Nil when the session is closed.
    ///
    /// The program must call `poll` while it has commands out on a polled LUN; if it stops
    /// for more than 200 ms the service thread takes their completions again meanwhile. Each
    /// successful call is undone by one `stopPolling`; a LUN stays polled until the last.
    public func startPolling(lun: UInt64) -> Int32? {
        let inline = isDriverThread
        if !inline { acquireRole() }
        if pollSet == nil { pollSet = try? Epoll(capacity: 1, for: "the iSCSI session to \(url)") }
        let fd = pollSet?.descriptor ?? -1
        let stopping = lock.withLock { () -> Bool in
            if !sharedStopping && fd >= 0 {
                sharedPolling = true
                sharedPolledLUNs.append(lun)
            }
            return sharedStopping
        }
        if !stopping && fd >= 0 {
            polledLUNs.append(lun)
            lastPoll.store(camiscsi_coarse_nanoseconds(), ordering: .relaxed)
        }
        if !inline { releaseRole() }
        // The service thread leaves the socket alone from its next turn.
        signalThread()
        return stopping || fd < 0 ? nil : fd
    }

    /// Polling of `lun` ends; the service thread watches the socket again (and takes what
    /// arrived since the last `poll`) once no LUN is polled.
    public func stopPolling(lun: UInt64) {
        let inline = isDriverThread
        if !inline { acquireRole() }
        if let i = polledLUNs.firstIndex(of: lun) { polledLUNs.remove(at: i) }
        let none = polledLUNs.isEmpty
        lock.withLock {
            if let i = sharedPolledLUNs.firstIndex(of: lun) { sharedPolledLUNs.remove(at: i) }
            if none { sharedPolling = false }
        }
        if !inline { releaseRole() }
        signalThread()
    }

    /// Services the context on the calling thread: reads what the target sent, completes
    /// those requests through the handler (on this thread), and sends what is queued. Never
    /// waits: returns 0 at once when another thread drives the context, when nothing is
    /// polled, or when the session is not logged in (then the service thread has the link).
    /// Returns how many requests completed.
    @discardableResult
    public func poll() -> Int {
        lastPoll.store(camiscsi_coarse_nanoseconds(), ordering: .relaxed)
        lock.lock()
        if !sharedPolling || sharedDriverBusy {
            lock.unlock()
            return 0
        }
        takeRoleLocked()
        lock.unlock()
        if link == .up, let c = ctx {
            // Read whatever is there (EAGAIN when nothing: one call, as a poll(2) would be);
            // what is queued goes out in `releaseRole`.
            service(c, revents: Int32(POLLIN))
        }
        return releaseRole()
    }

    /// Sends what libiscsi has queued, as far as the socket takes it. Several PDUs go out
    /// corked (TCP_CORK), as one segment rather than one each: libiscsi writes one PDU per
    /// send(2), and on loopback every segment costs the target a wake-up and a read.
    private func flushOutput() {
        guard link == .up, let c = ctx, iscsi_which_events(c) & Int32(POLLOUT) != 0 else { return }
        let fd = iscsi_get_fd(c)
        let cork = fd >= 0 && iscsi_out_queue_length(c) > 1 && camiscsi_set_cork(fd, 1) == 0
        service(c, revents: Int32(POLLOUT))
        if cork && ctx == c { _ = camiscsi_set_cork(fd, 0) }
    }

    /// One `iscsi_service` call, and what it says about the link.
    private func service(_ c: OpaquePointer, revents: Int32) {
        if iscsi_service(c, revents) < 0 {
            connectionBroke = true
        }
        guard ctx == c else { return }
        if link == .up && (connectionBroke || iscsi_is_logged_in(c) == 0 || iscsi_get_fd(c) < 0) {
            linkLost(reason: ISCSISecrets.lastError(c))
            // Logging in again is the service thread's.
            if !isServiceThread { signalThread() }
        } else if link == .loggingIn && connectionBroke {
            loginFailed(ISCSISecrets.lastError(c))
        }
    }

    /// Keeps the poll set holding the socket exactly while the session is logged in and
    /// polled, watching for writability while libiscsi has something it could not send (the
    /// socket was full at the last `flushed` attempt; commands only queued by `submit` go out
    /// at the next `poll`, which the poller makes before it sleeps, so they need no wake-up and
    /// no epoll_ctl call each).
    private func syncPollSet(flushed: Bool) {
        guard pollSet != nil else { return }
        var want: Int32 = -1
        var out = false
        if !polledLUNs.isEmpty, link == .up, let c = ctx {
            want = iscsi_get_fd(c)
            out = flushed ? iscsi_which_events(c) & Int32(POLLOUT) != 0 : watchedOut
        }
        if want != watchedFD {
            forgetSocket()
            if want >= 0 && watch(want, add: true, out: out) {
                watchedFD = want
                watchedOut = out
            }
        } else if want >= 0 && out != watchedOut {
            if watch(want, add: false, out: out) { watchedOut = out }
        }
    }

    /// Adds the socket to the poll set or changes its events: always readable and hang-up,
    /// writable when `out`. False when epoll refused.
    private func watch(_ fd: Int32, add: Bool, out: Bool) -> Bool {
        let events: Epoll.Events = out ? [.readable, .readHangup, .writable] : [.readable, .readHangup]
        do throws(SystemError) {
            if add {
                try pollSet?.add(fd, events, token: 0, on: "the iSCSI socket")
            } else {
                try pollSet?.modify(fd, events, token: 0, on: "the iSCSI socket")
            }
            return true
        } catch {
            return false
        }
    }

    /// Takes the socket out of the poll set (before libiscsi closes it: a new socket may get
    /// the same number).
    private func forgetSocket() {
        if watchedFD >= 0 { pollSet?.remove(watchedFD) }
        watchedFD = -1
        watchedOut = false
    }

    private func signalThread() {
        wake.signal()
    }

    // MARK: the service thread

    private func run() {
        lock.withLock { serviceThreadID = pthread_self() }
        // The eventfd and libiscsi's socket (which changes on reconnection).
        var fds = PollSet(capacity: 2)
        var revents: Int32 = 0
        var seenGeneration: UInt64 = 0
        while true {
            acquireRole()
            if let c = ctx, link != .down {
                // What the socket said before the sleep, unless the context changed since.
                service(c, revents: seenGeneration == contextGeneration ? revents : 0)
            }
            let now = camMonotonicNanoseconds()
            if takeWork() {
                startTaken()
                closeAll()
                releaseRole(flush: false)
                return
            }
            startTaken()

            manageLink(now: now)
            if link == .up { issueWaiting() }
            if now >= nextSweep {
                sweepDeadlines(now: now)
                nextSweep = now + 100_000_000
            }
            if !everUp, let failure = loginFailure {
                finishFirstLogin(.failure(failure.loginError(url)))
                closeAll()
                releaseRole(flush: false)
                return
            }

            // Sleep on the eventfd and libiscsi's socket; at most a second, for time-outs.
            // While LUNs are polled and logged in, the pollers watch the socket: this thread
            // does only for commands of LUNs nobody polls, or when pollers have gone quiet.
            fds.removeAll()
            fds.append(wake.descriptor, events: Int16(POLLIN))
            var timeout: Int64 = 1_000
            if let c = ctx, link != .down {
                let polled = !polledLUNs.isEmpty && link == .up
                let quiet = camiscsi_coarse_nanoseconds() &- lastPoll.load(ordering: .relaxed) > 200_000_000
                if !polled || unpolledIssued > 0 || quiet {
                    let events = iscsi_which_events(c)
                    let fd = iscsi_get_fd(c)
                    if fd >= 0 && events != 0 {
                        fds.append(fd, events: Int16(truncatingIfNeeded: events))
                    }
                }
                if polled { timeout = 100 }
            }
            if link == .down || (fds.count == 1 && ctx != nil) { timeout = 100 }
            seenGeneration = contextGeneration
            releaseRole()
            let hasWork = lock.withLock { !sharedSubmitted.isEmpty || !sharedAborts.isEmpty || sharedStopping }
            if hasWork { timeout = 0 }
            let rc = (try? fds.wait(timeout: .milliseconds(timeout), on: "the iSCSI session to \(url)")) ?? -1
            if rc > 0 && fds.revents(0) != 0 { wake.drain() }
            revents = fds.count == 2 && rc > 0 ? Int32(fds.revents(1)) : 0
        }
    }

    /// Submitted requests wait to be issued; aborts are handled (driver).
    private func startTaken() {
        for i in taken {
            slots[Int(i)].state = .waiting
            waiting.append(i)
        }
        taken.removeAll(keepingCapacity: true)
        handleAborts()
    }

    private func moveSharedWorkLocked() {
        for i in sharedSubmitted { taken.append(i) }
        sharedSubmitted.removeAll(keepingCapacity: true)
        for a in sharedAborts { takenAborts.append(a) }
        sharedAborts.removeAll(keepingCapacity: true)
    }

    /// Takes submitted requests and aborts; true when the session is stopping.
    private func takeWork() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        sharedWakePending = false
        moveSharedWorkLocked()
        return sharedStopping
    }

    private func finishFirstLogin(_ result: Result<Void, ISCSIError>) {
        lock.lock()
        if sharedFirstLogin == nil { sharedFirstLogin = result }
        if case .success = result { sharedLinkUp = true }
        loginDone.broadcast()
        lock.unlock()
    }

    // MARK: logging in

    private func manageLink(now: UInt64) {
        switch link {
        case .up:
            return
        case .loggingIn:
            if now >= loginDeadline {
                loginFailed("login did not finish within \(options.loginTimeout.camDescription)")
            }
        case .down:
            if everUp && now &- downSince > reconnectWindowNanoseconds {
                failWaiting(.unreachable, detail: "the target at \(url.portal) has not answered for "
                    + "\(options.reconnectWindow.camDescription) (the reconnect window; "
                    + "?reconnect_window=SECONDS in the URL sets it)")
            }
            if now >= nextLoginAttempt { startLogin(now: now) }
        }
    }

    private func startLogin(now: UInt64) {
        guard let c = iscsi_create_context(options.initiatorName) else {
            loginFailed("iscsi_create_context failed")
            return
        }
        if getenv("LIBISCSI_DEBUG") != nil { iscsi_set_log_fn(c, ISCSISecrets.logFunction) }
        iscsi_set_targetname(c, url.target ?? "")
        iscsi_set_session_type(c, ISCSI_SESSION_NORMAL)
        switch url.headerDigest {
        case .negotiate: break
        case .none: iscsi_set_header_digest(c, ISCSI_HEADER_DIGEST_NONE)
        case .crc32c: iscsi_set_header_digest(c, ISCSI_HEADER_DIGEST_CRC32C)
        }
        if let chap = url.chap {
            iscsi_set_initiator_username_pwd(c, chap.user, chap.password)
            if let t = url.targetChap { iscsi_set_target_username_pwd(c, t.user, t.password) }
        }
        // Reconnection is ours (see the type's note).
        iscsi_set_noautoreconnect(c, 1)
        ctx = c
        contextGeneration &+= 1
        link = .loggingIn
        connectionBroke = false
        loginDeadline = now + loginTimeoutNanoseconds
        // LUN -1: no TEST UNIT READY at login, so that no UNIT ATTENTION is eaten for the caller.
        let rc = iscsi_full_connect_async(c, url.portal, -1, ISCSISession.loginCallback,
                                          Unmanaged.passUnretained(self).toOpaque())
        if rc != 0 { loginFailed(ISCSISecrets.lastError(c)) }
    }

    private static let loginCallback: iscsi_command_cb = { _, status, _, priv in
        let session = Unmanaged<ISCSISession>.fromOpaque(priv!).takeUnretainedValue()
        session.loginAnswered(status: status)
    }

    private func loginAnswered(status: Int32) {
        switch link {
        case .loggingIn:
            if status == 0 {
                link = .up
                everUp = true
                loginFailure = nil
                finishFirstLogin(.success(()))
                lock.withLock { sharedLinkUp = true }
            } else {
                connectionBroke = true
            }
        case .up:
            // libiscsi calls the connect callback again when the connection dies.
            if status != 0 { connectionBroke = true }
        case .down:
            break
        }
    }

    private func loginFailed(_ reason: String) {
        dropContext(reason: reason)
        loginFailure = reason
        nextLoginAttempt = camMonotonicNanoseconds() + retryIntervalNanoseconds
        if everUp && downSince == 0 { downSince = camMonotonicNanoseconds() }
    }

    private func linkLost(reason: String) {
        downSince = camMonotonicNanoseconds()
        lock.withLock { sharedLinkUp = false }
        dropContext(reason: reason)
        // At once: a restarted target is back within a second or two.
        nextLoginAttempt = downSince
    }

    /// Destroys the context; commands still out complete with `.connectionLost` (or what their
    /// flags say: time-out, abort, close).
    private func dropContext(reason: String) {
        guard let c = ctx else { link = .down; return }
        forgetSocket()
        ctx = nil
        link = .down
        lostReason = "connection to \(url.portal) lost: \(reason)"
        // libiscsi calls every outstanding callback with SCSI_STATUS_CANCELLED here.
        iscsi_destroy_context(c)
        // Anything libiscsi did not call back for ends now, the same way.
        for s in slots where s.state == .issued {
            complete(s, outcome: s.cancelOutcome, detail: s.cancelDetail(lostReason))
        }
        lostReason = nil
    }

    private var lostReason: String?

    // MARK: issuing

    private func issueWaiting() {
        guard let c = ctx, !waiting.isEmpty, !connectionBroke else { return }
        // `waiting` may grow while we issue (a failed issue completes, and the handler may
        // submit on this thread, but that goes through `sharedSubmitted`), so walk a copy of
        // the count.
        let n = waiting.count
        for k in 0..<n {
            issue(slots[Int(waiting[k])], on: c)
            if ctx == nil { break }
        }
        waiting.removeFirst(min(n, waiting.count))
    }

    private func issue(_ slot: ISCSISlot, on c: OpaquePointer) {
        guard slot.state == .waiting else { return }
        let priv = Unmanaged.passUnretained(slot).toOpaque()
        slot.state = .issued
        if !polledLUNs.isEmpty && polledLUNs.contains(slot.lun) {
            slot.unpolled = false
        } else {
            slot.unpolled = true
            unpolledIssued += 1
        }
        switch slot.kind {
        case .command:
            slot.prepareTask()
            let rc = iscsi_scsi_command_async(c, Int32(truncatingIfNeeded: slot.lun), slot.task,
                                              ISCSISession.commandCallback, nil, priv)
            if rc != 0 {
                complete(slot, outcome: .transportError, detail: "\(url): \(ISCSISecrets.lastError(c))")
                return
            }
            slot.itt = slot.task.pointee.itt
            slot.cmdsn = slot.task.pointee.cmdsn
        case .lunReset:
            // Every command of the LUN still out ends as reset when the target says it is done.
            for s in slots where s.state == .issued && s.kind == .command && s.lun == slot.lun {
                s.resetPending = true
            }
            let rc = iscsi_task_mgmt_async(c, Int32(truncatingIfNeeded: slot.lun), ISCSI_TM_LUN_RESET,
                                           0xFFFF_FFFF, 0, ISCSISession.managementCallback,
                                           ISCSISession.encode(slot))
            if rc != 0 {
                complete(slot, outcome: .transportError, detail: "\(url): LUN RESET: \(ISCSISecrets.lastError(c))")
            }
        }
    }

    private static let commandCallback: iscsi_command_cb = { _, status, _, priv in
        let slot = Unmanaged<ISCSISlot>.fromOpaque(priv!).takeUnretainedValue()
        slot.session?.commandAnswered(slot, status: status)
    }

    private func commandAnswered(_ slot: ISCSISlot, status: Int32) {
        guard slot.state == .issued else { return }
        let task = slot.task
        var outcome = ISCSICompletion.Outcome.status
        var scsiStatus = SCSIStatus.good
        var residual = slot.length
        var overflow = false
        var detail: String?
        var sense = UnsafeRawBufferPointer(start: nil, count: 0)

        switch UInt32(bitPattern: status) {
        case SCSI_STATUS_GOOD.rawValue:
            residual = 0
            switch task.pointee.residual_status {
            case SCSI_RESIDUAL_UNDERFLOW: residual = min(slot.length, Int(task.pointee.residual))
            case SCSI_RESIDUAL_OVERFLOW: overflow = true
            default: break
            }
        case SCSI_STATUS_CHECK_CONDITION.rawValue:
            scsiStatus = .checkCondition
            // The SCSI Response PDU's data segment: SenseLength (2 bytes) then the sense.
            let d = task.pointee.datain
            if let p = d.data, d.size >= 2 {
                let n = min(Int(p[0]) << 8 | Int(p[1]), Int(d.size) - 2)
                if n > 0 { sense = UnsafeRawBufferPointer(start: p + 2, count: n) }
            }
        case SCSI_STATUS_RESERVATION_CONFLICT.rawValue:
            scsiStatus = .reservationConflict
        case SCSI_STATUS_CANCELLED.rawValue:
            outcome = slot.cancelOutcome
            detail = slot.cancelDetail(lostReason)
            // Outside `dropContext`, libiscsi cancels a command for a dead connection (it
            // defers its own reconnect, which is off). It still says it is logged in, so mark
            // the link broken now: a retry submitted from this completion must wait for the
            // new login, not go out on this context and fail the same way.
            if outcome == .connectionLost && lostReason == nil { connectionBroke = true }
        case SCSI_STATUS_TIMEOUT.rawValue:
            outcome = .timedOut
            detail = "no answer within \(slot.timeoutDescription)"
        default:
            // libiscsi 1.19 passes on only GOOD, CHECK CONDITION and RESERVATION CONFLICT;
            // other status bytes (BUSY, TASK SET FULL, ...) become SCSI_STATUS_ERROR with the
            // byte in the error text. Recover it so that CAM can retry BUSY and TASK SET FULL.
            let text = ISCSISecrets.lastError(ctx)
            if let byte = ISCSISession.statusByte(inError: text) {
                scsiStatus = SCSIStatus(rawValue: byte)
            } else {
                outcome = .transportError
                detail = "\(url): \(text)"
            }
        }
        complete(slot, outcome: outcome, scsiStatus: scsiStatus, sense: sense, residual: residual,
                 overflow: overflow, detail: detail)
    }

    /// The SCSI status byte in libiscsi's "Cant handle  scsi status %d yet." and
    /// "Unknown SCSI status :%d." messages.
    static func statusByte(inError text: String) -> UInt8? {
        for marker in ["scsi status ", "SCSI status :"] {
            guard let r = text.firstRange(of: marker) else { continue }
            let digits = text[r.upperBound...].prefix(while: { $0.isNumber })
            if let v = Int(digits), (0...0xFF).contains(v) { return UInt8(v) }
        }
        return nil
    }

    // MARK: task management

    /// The task management callback's private data: the slot, with the generation it had
    /// when the function was sent, so an answer for a slot used again since is ignored.
    private static func encode(_ slot: ISCSISlot) -> UnsafeMutableRawPointer? {
        slot.managementGeneration = slot.generation
        return Unmanaged.passUnretained(slot).toOpaque()
    }

    private static let managementCallback: iscsi_command_cb = { _, status, data, priv in
        // nil: an ABORT TASK sent after a time-out, whose answer changes nothing.
        guard let priv else { return }
        let slot = Unmanaged<ISCSISlot>.fromOpaque(priv).takeUnretainedValue()
        // The response code (RFC 7143 11.6.1) is a uint32 pointed to by `data` on GOOD.
        var response: UInt32 = 0xFF
        if status == 0, let data { response = data.load(as: UInt32.self) }
        slot.session?.managementAnswered(slot, ok: status == 0, response: response)
    }

    private func managementAnswered(_ slot: ISCSISlot, ok: Bool, response: UInt32) {
        guard slot.managementGeneration == slot.generation, slot.state == .issued else { return }
        switch slot.kind {
        case .lunReset:
            let done = ok && response == ISCSI_TMR_FUNC_COMPLETE.rawValue
            if done, let c = ctx {
                for s in slots where s.state == .issued && s.kind == .command && s.resetPending {
                    iscsi_scsi_cancel_task(c, s.task)
                }
            } else {
                for s in slots where s.resetPending { s.resetPending = false }
            }
            complete(slot, outcome: done ? .status : .transportError,
                     detail: done ? nil : "LUN RESET of LUN \(slot.lun): \(ISCSISession.responseName(ok ? response : 0xFF))")
        case .command:
            // An ABORT TASK answered. Whatever the answer, a task still out here was not
            // answered before the target handled the abort, so the target no longer has it
            // (function complete) or never had it (does not exist): end it locally.
            guard slot.abortRequested else { return }
            if ok && (response == ISCSI_TMR_FUNC_COMPLETE.rawValue || response == ISCSI_TMR_TASK_DOES_NOT_EXIST.rawValue),
               let c = ctx {
                iscsi_scsi_cancel_task(c, slot.task)
            } else {
                // Rejected: the command runs on and completes normally.
                slot.abortRequested = false
            }
        }
    }

    static func responseName(_ r: UInt32) -> String {
        switch r {
        case 0: return "function complete"
        case 1: return "task does not exist"
        case 2: return "LUN does not exist"
        case 3: return "task still allegiant"
        case 4: return "task allegiance reassignment not supported"
        case 5: return "task management function not supported"
        case 6: return "function authorization failed"
        default: return "function rejected"
        }
    }

    private func handleAborts() {
        for (index, generation) in takenAborts {
            let slot = slots[Int(index)]
            guard slot.generation == generation else { continue }
            switch slot.state {
            case .waiting:
                // Not sent yet: end it here.
                if let k = waiting.firstIndex(of: index) { waiting.remove(at: k) }
                complete(slot, outcome: .aborted, detail: "aborted before it was sent")
            case .issued:
                guard slot.kind == .command, !slot.abortRequested, let c = ctx, link == .up else { continue }
                slot.abortRequested = true
                if iscsi_task_mgmt_async(c, Int32(truncatingIfNeeded: slot.lun), ISCSI_TM_ABORT_TASK,
                                         slot.itt, slot.cmdsn, ISCSISession.managementCallback,
                                         ISCSISession.encode(slot)) != 0 {
                    slot.abortRequested = false
                }
            case .free:
                continue
            }
        }
        takenAborts.removeAll(keepingCapacity: true)
    }

    // MARK: time-outs

    private func sweepDeadlines(now: UInt64) {
        for s in slots where s.state != .free && s.deadline != 0 && now >= s.deadline {
            switch s.state {
            case .waiting:
                if let k = waiting.firstIndex(of: Int32(s.index)) { waiting.remove(at: k) }
                complete(s, outcome: .timedOut, detail: "not sent within \(s.timeoutDescription): the target at \(url.portal) is not logged in")
            case .issued:
                guard let c = ctx else { continue }
                s.timedOut = true
                s.deadline = 0
                if s.kind == .command {
                    let itt = s.itt, cmdsn = s.cmdsn, lun = s.lun
                    // Ends locally with SCSI_STATUS_CANCELLED, which `cancelOutcome` turns
                    // into a time-out; then tell the target to drop it.
                    iscsi_scsi_cancel_task(c, s.task)
                    if s.state == .issued {
                        complete(s, outcome: .timedOut, detail: s.cancelDetail(nil))
                    }
                    _ = iscsi_task_mgmt_async(c, Int32(truncatingIfNeeded: lun), ISCSI_TM_ABORT_TASK, itt, cmdsn,
                                              ISCSISession.managementCallback, nil)
                } else {
                    for r in slots where r.resetPending && r.lun == s.lun { r.resetPending = false }
                    complete(s, outcome: .timedOut, detail: "LUN RESET not answered within \(s.timeoutDescription)")
                }
            default:
                continue
            }
        }
    }

    private func failWaiting(_ outcome: ISCSICompletion.Outcome, detail: String) {
        guard !waiting.isEmpty else { return }
        let list = waiting
        waiting.removeAll(keepingCapacity: true)
        for i in list { complete(slots[Int(i)], outcome: outcome, detail: detail) }
    }

    // MARK: completing

    private func complete(_ slot: ISCSISlot, outcome: ISCSICompletion.Outcome, scsiStatus: SCSIStatus = .good,
                          sense: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
                          residual: Int? = nil, overflow: Bool = false, detail: String? = nil) {
        guard slot.state != .free else { return }
        if slot.state == .issued && slot.unpolled { unpolledIssued -= 1 }
        completions += 1
        // Moved out of the slot, not copied: one retain and release fewer per command.
        let context = slot.context.take()
        let completion = ISCSICompletion(
            tag: slot.tag, context: context, lun: slot.lun, kind: slot.kind, outcome: outcome,
            scsiStatus: outcome == .status ? scsiStatus : .good, sense: sense,
            residual: residual ?? slot.length, overflow: overflow, length: slot.length,
            detail: detail.map(ISCSISecrets.redact))
        // The slot goes back before the handler runs, so that an abort after the completion
        // finds nothing and the handler may submit into it at once. The sense lives in
        // libiscsi's copy, freed after the handler; nothing but this thread touches the task.
        let taskData = slot.task.pointee.datain.data
        slot.task.pointee.datain.data = nil
        slot.task.pointee.datain.size = 0
        lock.lock()
        slot.reset()
        sharedFree.append(Int32(slot.index))
        lock.unlock()
        handler(completion)
        if let taskData { Glibc.free(taskData) }
    }

    private func closeAll() {
        for s in slots where s.state != .free { s.closing = true }
        if let c = ctx {
            forgetSocket()
            ctx = nil
            link = .down
            iscsi_destroy_context(c)
        }
        let detail = "\(url): the session was closed"
        for s in slots where s.state != .free { complete(s, outcome: .closed, detail: detail) }
        waiting.removeAll()
        lock.withLock { sharedLinkUp = false }
        finishFirstLogin(.failure(ISCSIError(.closed, "\(url): closed before the login finished")))
    }
}

extension String {
    /// A login failure's text, classified.
    fileprivate func loginError(_ url: ISCSIURL) -> ISCSIError {
        let code: ISCSIError.Code
        if contains("Authentication") || contains("CHAP") {
            code = .authenticationFailed
        } else if contains("connect") || contains("Connection refused") {
            code = .connectFailed
        } else {
            code = .loginFailed
        }
        let who = url.chap.map { " as \($0.user)" } ?? " without CHAP"
        var hint = ""
        if code == .authenticationFailed {
            hint = url.chap == nil
                ? " (the target wants CHAP: iscsi://user%password@host/..., or LIBISCSI_CHAP_USERNAME and LIBISCSI_CHAP_PASSWORD)"
                : " (check the user and password)"
        }
        return ISCSIError(code, "login to \(url.target ?? "?") at \(url.portal)\(who) failed: \(self)\(hint)")
    }
}
