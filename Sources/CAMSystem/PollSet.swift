#if canImport(Glibc)
import Glibc
#endif

/// A few descriptors for poll(2), in an array allocated once: for loops that wait on a
/// descriptor that changes (a pipe, libiscsi's socket) beside their wake-up eventfd, where an
/// epoll set would cost an epoll_ctl per change. `wait` allocates nothing.
package struct PollSet: ~Copyable {
    private let fds: UnsafeMutableBufferPointer<pollfd>
    /// How many of the array's entries `wait` passes to poll(2).
    package private(set) var count = 0

    /// Room for `capacity` descriptors.
    package init(capacity: Int) {
        fds = .allocate(capacity: max(1, capacity))
        fds.initialize(repeating: pollfd(fd: -1, events: 0, revents: 0))
    }

    deinit { fds.deallocate() }

    /// Empties the set.
    package mutating func removeAll() { count = 0 }

    /// Adds `fd` for `events` (POLLIN, POLLOUT); returns its index.
    @discardableResult
    package mutating func append(_ fd: Int32, events: Int16) -> Int {
        precondition(count < fds.count, "PollSet: more descriptors than its capacity")
        fds[count] = pollfd(fd: fd, events: events, revents: 0)
        count += 1
        return count - 1
    }

    /// What poll(2) reported for the descriptor at `index` in the last `wait`.
    package func revents(_ index: Int) -> Int16 { fds[index].revents }

    /// poll(2) on the set (nil `timeout`: for ever). Returns how many descriptors have events.
    @inline(__always)
    package func wait(timeout: Duration?, on object: @autoclosure () -> String) throws(SystemError) -> Int {
        for i in 0..<count { fds[i].revents = 0 }
        return try Syscall.poll(UnsafeMutableBufferPointer(rebasing: fds[0..<count]), timeout: timeout, on: object())
    }

    /// poll(2) of one descriptor (a zero time-out asks without waiting); its revents.
    package static func poll(_ fd: Int32, events: Int16, timeout: Duration?,
                             on object: @autoclosure () -> String) throws(SystemError) -> Int16 {
        var p = pollfd(fd: fd, events: events, revents: 0)
        _ = try withUnsafeMutablePointer(to: &p) { (q) throws(SystemError) -> Int in
            try Syscall.poll(UnsafeMutableBufferPointer(start: q, count: 1), timeout: timeout, on: object())
        }
        return p.revents
    }
}
