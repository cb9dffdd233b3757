#if canImport(Glibc)
import Glibc
#endif
import CAM
import CAMSystem

/// One thread that waits in epoll on many sg descriptors and calls each one's handler when it
/// has completions to collect or its device went away. The Linux counterpart of the select(2)
/// loop a pass(4) user runs over its CAMIOGET descriptors.
///
/// Level-triggered: a handler that leaves completions unread is called again.
///
/// Removal: a hung-up descriptor (POLLHUP/POLLERR) stays ready forever, so it leaves epoll.
/// Commands in flight when the device went still complete afterwards, and a non-blocking
/// read never says ENODEV, so the handler gets `.hangup` once and then `.readable` every
/// `drainInterval` until it unregisters the descriptor, which it does when it
/// has collected everything or given up waiting.
public final class SGPoller: @unchecked Sendable {
    // @unchecked: `registrations`, `tokens`, `draining`, `nextToken`, `dispatching` and
    // `stopping` are guarded by `lock`; `epoll`, `wake` are set in init and never change
    // (epoll_ctl and eventfd writes are thread-safe; only the poller's thread waits);
    // `thread` is guarded by `lock`.

    /// Why a handler is called.
    public enum Event: Sendable {
        /// Completions may be waiting: collect until `collect()` returns nil.
        case readable
        /// The device is gone (POLLHUP). `.readable` follows at intervals until unregistered.
        case hangup
    }

    /// How often a hung-up descriptor's handler is called to collect what is left.
    public static let drainInterval: Duration = .milliseconds(10)

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
    private let epoll: Epoll
    private let wake: EventFD
    private var thread: CAMThread?
    private let threadID = CAMLockedBox<pthread_t?>(nil)

    /// Token of the wake-up eventfd in epoll's data.
    private static let wakeToken: UInt64 = 0

    /// Starts the poller's thread, named `name` (15 bytes are kept).
    public init(name: String = "sg-poller") throws(LinuxSGError) {
        do throws(SystemError) {
            let wake = try EventFD(for: "the sg poller")
            epoll = try Epoll(capacity: 64, for: "the sg poller") { (set) throws(SystemError) in
                try set.add(wake.descriptor, .readable, token: Self.wakeToken, on: "the sg poller")
            }
            self.wake = wake
        } catch {
            throw LinuxSGError.system(error)
        }
        thread = CAMThread(name: name) { [self] in run() }
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
        do throws(SystemError) {
            try epoll.add(fd, [.readable, .readHangup], token: token, on: device)
        } catch {
            lock.withLock {
                registrations[token] = nil
                tokens[fd] = nil
            }
            throw LinuxSGError.system(error)
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
        epoll.remove(fd)
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
        wake.signal()
        if let t, !isPollerThread() { t.join() }
    }

    private func isPollerThread() -> Bool {
        guard let id = threadID.withLock({ $0 }) else { return false }
        return pthread_equal(id, pthread_self()) != 0
    }

    private func run() {
        threadID.withLock { $0 = pthread_self() }
        let drainInterval = Self.drainInterval
        while true {
            let timeout: Duration? = lock.withLock { draining.isEmpty } ? nil : drainInterval
            do {
                // The event array is the set's own, allocated once (STYLE).
                try epoll.wait(timeout: timeout) { token, mask in
                    if token == Self.wakeToken {
                        wake.drain()
                        return
                    }
                    let hungUp = !mask.isDisjoint(with: [.hangup, .error, .readHangup])
                    dispatch(token) { r in
                        // The hang-up first: completions read in the same round then already
                        // belong to a device that is going.
                        if hungUp {
                            let first: Bool = lock.withLock {
                                guard registrations[token] != nil, !draining.contains(token) else { return false }
                                draining.insert(token)
                                epoll.remove(r.fd)
                                return true
                            }
                            if first { r.handler(.hangup) }
                        }
                        if mask.contains(.readable) || hungUp { r.handler(.readable) }
                    }
                }
            } catch {
                // epoll_wait fails only for a broken epoll descriptor; nothing left to poll.
                return
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
