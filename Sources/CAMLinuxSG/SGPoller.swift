#if canImport(Glibc)
import Glibc
#endif
import CAM
import CCAMLinuxSG

/// One thread that waits in epoll on many sg descriptors and calls each one's handler when it
/// has completions to collect or its device went away. The Linux counterpart of the select(2)
/// loop a pass(4) user runs over its CAMIOGET descriptors.
///
/// Level-triggered: a handler that leaves completions unread is called again.
///
/// Removal: a hung-up descriptor (POLLHUP/POLLERR) stays ready forever, so it leaves epoll.
/// Commands in flight when the device went still complete afterwards, and a non-blocking
/// read never says ENODEV, so the handler gets `.hangup` once and then `.readable` every
/// `drainIntervalMilliseconds` until it unregisters the descriptor, which it does when it
/// has collected everything or given up waiting.
public final class SGPoller: @unchecked Sendable {
    // @unchecked: `registrations`, `tokens`, `draining`, `nextToken`, `dispatching` and
    // `stopping` are guarded by `lock`; `epollFD`, `wakeFD` are set in init and never change;
    // `thread` is guarded by `lock`.

    /// Why a handler is called.
    public enum Event: Sendable {
        /// Completions may be waiting: collect until `collect()` returns nil.
        case readable
        /// The device is gone (POLLHUP). `.readable` follows at intervals until unregistered.
        case hangup
    }

    /// How often a hung-up descriptor's handler is called to collect what is left.
    public static let drainIntervalMilliseconds: Int32 = 10

    public typealias Handler = @Sendable (Event) -> Void

    private struct Registration {
        let fd: Int32
        let device: String
        let handler: Handler
    }

    private let lock = CAMLock()
    private let idle = CAMCondition()
    private var registrations: [UInt64: Registration] = [:]
    private var tokens: [Int32: UInt64] = [:]
    private var draining: Set<UInt64> = []
    private var nextToken: UInt64 = 1
    private var dispatching: UInt64 = 0
    private var stopping = false
    private let epollFD: Int32
    private let wakeFD: Int32
    private var thread: CAMThread?
    private let threadID = CAMLockedBox<pthread_t?>(nil)

    /// Token of the wake-up eventfd in epoll's data.
    private static let wakeToken: UInt64 = 0

    /// Starts the poller's thread, named `name` (15 bytes are kept).
    public init(name: String = "sg-poller") throws(LinuxSGError) {
        epollFD = try SGSystem.epollCreate()
        do {
            wakeFD = try SGSystem.eventFD()
        } catch {
            SGSystem.close(epollFD)
            throw error
        }
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.u64 = Self.wakeToken
        if epoll_ctl(epollFD, EPOLL_CTL_ADD, wakeFD, &event) != 0 {
            let e = errno
            SGSystem.close(wakeFD)
            SGSystem.close(epollFD)
            throw LinuxSGError.system("epoll_ctl", e, on: "the sg poller")
        }
        thread = CAMThread(name: name) { [self] in run() }
    }

    deinit {
        SGSystem.close(wakeFD)
        SGSystem.close(epollFD)
    }

    /// Polls `fd` (an sg descriptor at `device`) and calls `handler` on the poller's thread.
    /// With `ifAbsent`, a descriptor already polled is left as it is instead of an error (the
    /// sg SIM hands descriptors back after polled completion from more than one path).
    public func register(fd: Int32, device: String, ifAbsent: Bool = false, handler: @escaping Handler) throws(LinuxSGError) {
        lock.lock()
        if stopping {
            lock.unlock()
            throw LinuxSGError(.systemCall, "the sg poller is shut down; cannot poll \(device)")
        }
        if tokens[fd] != nil {
            lock.unlock()
            if ifAbsent { return }
            throw LinuxSGError(.invalidRequest, "\(device) (fd \(fd)) is already polled")
        }
        let token = nextToken
        nextToken += 1
        registrations[token] = Registration(fd: fd, device: device, handler: handler)
        tokens[fd] = token
        lock.unlock()
        var event = epoll_event()
        event.events = EPOLLIN.rawValue | EPOLLRDHUP.rawValue
        event.data.u64 = token
        if epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &event) != 0 {
            let e = errno
            lock.withLock {
                registrations[token] = nil
                tokens[fd] = nil
            }
            throw LinuxSGError.system("epoll_ctl(EPOLL_CTL_ADD)", e, on: device)
        }
    }

    /// Stops polling `fd`. When this returns, its handler is not running and will not run
    /// again, so the caller may close the descriptor. Safe to call from the handler itself.
    public func unregister(fd: Int32) {
        lock.lock()
        guard let token = tokens.removeValue(forKey: fd) else { lock.unlock(); return }
        registrations[token] = nil
        draining.remove(token)
        // ENOENT/EBADF: already removed after a hang-up, or closed; either way not polled.
        _ = epoll_ctl(epollFD, EPOLL_CTL_DEL, fd, nil)
        if !isPollerThread() {
            while dispatching == token { idle.wait(lock) }
        }
        lock.unlock()
    }

    /// Stops the thread. Handlers are not called after this returns.
    public func shutdown() {
        let t: CAMThread? = lock.withLock {
            stopping = true
            let t = thread
            thread = nil
            return t
        }
        SGSystem.signal(eventFD: wakeFD)
        if let t, !isPollerThread() { t.join() }
    }

    private func isPollerThread() -> Bool {
        guard let id = threadID.withLock({ $0 }) else { return false }
        return pthread_equal(id, pthread_self()) != 0
    }

    private func run() {
        threadID.withLock { $0 = pthread_self() }
        let capacity: Int32 = 64
        // Allocated once for the life of the loop (STYLE: the event array allocated once).
        let events = UnsafeMutablePointer<epoll_event>.allocate(capacity: Int(capacity))
        defer { events.deallocate() }
        while true {
            let timeout = lock.withLock { draining.isEmpty } ? -1 : Self.drainIntervalMilliseconds
            let n: Int
            do {
                n = try SGSystem.epollWait(epollFD, events, capacity, timeoutMilliseconds: timeout)
            } catch {
                // epoll_wait fails only for a broken epoll descriptor; nothing left to poll.
                return
            }
            for i in 0..<n {
                let token = events[i].data.u64
                let mask = events[i].events
                if token == Self.wakeToken {
                    SGSystem.drain(eventFD: wakeFD)
                    continue
                }
                let hungUp = mask & (EPOLLHUP.rawValue | EPOLLERR.rawValue | EPOLLRDHUP.rawValue) != 0
                dispatch(token) { r in
                    // The hang-up first: completions read in the same round then already
                    // belong to a device that is going.
                    if hungUp {
                        let first: Bool = lock.withLock {
                            guard registrations[token] != nil, !draining.contains(token) else { return false }
                            draining.insert(token)
                            _ = epoll_ctl(epollFD, EPOLL_CTL_DEL, r.fd, nil)
                            return true
                        }
                        if first { r.handler(.hangup) }
                    }
                    if mask & EPOLLIN.rawValue != 0 || hungUp { r.handler(.readable) }
                }
            }
            // Hung-up descriptors: collect what completes after the removal.
            for token in lock.withLock({ Array(draining) }) {
                dispatch(token) { r in r.handler(.readable) }
            }
            if lock.withLock({ stopping }) { return }
        }
    }

    /// Runs `body` for a registration, marked as dispatching so `unregister` can wait for it.
    private func dispatch(_ token: UInt64, _ body: (Registration) -> Void) {
        lock.lock()
        guard !stopping, let r = registrations[token] else { lock.unlock(); return }
        dispatching = token
        lock.unlock()
        body(r)
        lock.lock()
        dispatching = 0
        idle.broadcast()
        lock.unlock()
    }
}
