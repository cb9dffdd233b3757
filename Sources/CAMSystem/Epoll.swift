#if canImport(Glibc)
import Glibc
#endif
import CCAMSystem

/// An epoll(7) set (EPOLL_CLOEXEC) with its event array, allocated once: `wait` allocates
/// nothing. Each watched descriptor carries a token that comes back with its events.
/// Level-triggered. Closed when it goes.
///
/// Sendable: epoll_ctl may be called from any thread while another waits (the kernel
/// serialises them); the event array is used only by `wait`, which one thread calls.
package struct Epoll: ~Copyable, @unchecked Sendable {
    /// Events to watch and events reported.
    package struct Events: OptionSet, Sendable {
        package let rawValue: UInt32
        package init(rawValue: UInt32) { self.rawValue = rawValue }
        /// EPOLLIN.
        package static let readable = Events(rawValue: EPOLLIN.rawValue)
        /// EPOLLOUT.
        package static let writable = Events(rawValue: EPOLLOUT.rawValue)
        /// EPOLLRDHUP: the peer closed, or the device went.
        package static let readHangup = Events(rawValue: EPOLLRDHUP.rawValue)
        /// EPOLLHUP (always reported, never asked for).
        package static let hangup = Events(rawValue: EPOLLHUP.rawValue)
        /// EPOLLERR (always reported, never asked for).
        package static let error = Events(rawValue: EPOLLERR.rawValue)
    }

    /// The set's own descriptor: readable while a watched descriptor is ready, so a set can
    /// itself be watched (the iSCSI SIM hands one to pollers).
    package let descriptor: Int32
    private let events: UnsafeMutablePointer<epoll_event>
    private let capacity: Int32
    private let object: String

    /// A set reporting up to `capacity` events per `wait`. `object` names it in errors.
    package init(capacity: Int = 64, for object: String) throws(SystemError) {
        descriptor = try Syscall.retrying("epoll_create1", on: object) { epoll_create1(Int32(EPOLL_CLOEXEC)) }
        self.capacity = Int32(max(1, capacity))
        events = .allocate(capacity: Int(self.capacity))
        events.initialize(repeating: epoll_event(), count: Int(self.capacity))
        self.object = object
    }

    /// A set reporting up to `capacity` events per `wait`, with its first descriptors added by
    /// `setUp`; if that throws, the set is closed and the error passed on. (A noncopyable local
    /// must be set up in one step to be declared before a `do` and used after it.)
    package init(capacity: Int = 64, for object: String,
                 setUp: (borrowing Epoll) throws(SystemError) -> Void) throws(SystemError) {
        let set = try Epoll(capacity: capacity, for: object)
        try setUp(set)
        self = set
    }

    deinit {
        Syscall.close(descriptor)
        events.deallocate()
    }

    /// Watches `fd` (EPOLL_CTL_ADD). `object` names the descriptor in the error.
    package func add(_ fd: Int32, _ watched: Events, token: UInt64, on object: @autoclosure () -> String) throws(SystemError) {
        try control(EPOLL_CTL_ADD, "epoll_ctl(EPOLL_CTL_ADD)", fd, watched, token, object())
    }

    /// Changes what `fd` is watched for (EPOLL_CTL_MOD).
    package func modify(_ fd: Int32, _ watched: Events, token: UInt64, on object: @autoclosure () -> String) throws(SystemError) {
        try control(EPOLL_CTL_MOD, "epoll_ctl(EPOLL_CTL_MOD)", fd, watched, token, object())
    }

    /// Stops watching `fd` (EPOLL_CTL_DEL). ENOENT and EBADF (not watched, or closed and so
    /// gone from the set) mean it is not watched, which is what the caller wants.
    package func remove(_ fd: Int32) {
        var unused = epoll_event()
        _ = epoll_ctl(descriptor, EPOLL_CTL_DEL, fd, &unused)
    }

    private func control(_ op: Int32, _ call: String, _ fd: Int32, _ watched: Events, _ token: UInt64,
                         _ object: @autoclosure () -> String) throws(SystemError) {
        var event = epoll_event()
        event.events = watched.rawValue
        event.data.u64 = token
        _ = try Syscall.retrying(call, on: object()) { epoll_ctl(descriptor, op, fd, &event) }
    }

    /// Waits for events (nil `timeout`: for ever) and calls `body` with each one's token and
    /// events. Returns how many came (0: the time ran out).
    @inline(__always)
    @discardableResult
    package func wait(timeout: Duration? = nil, _ body: (_ token: UInt64, _ events: Events) -> Void) throws(SystemError) -> Int {
        let ms = Syscall.milliseconds(timeout)
        let n = Int(try Syscall.retrying("epoll_wait", on: object) { epoll_wait(descriptor, events, capacity, ms) })
        for i in 0..<n { body(events[i].data.u64, Events(rawValue: events[i].events)) }
        return n
    }
}
