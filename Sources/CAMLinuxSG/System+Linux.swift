#if canImport(Glibc)
import Glibc
#endif
import CCAMLinuxSG

/// One wrapper for each system call this module makes: errno is read at once, EINTR retried,
/// and the error names the call and the device.
enum SGSystem {
    @inline(__always)
    private static func retrying<T: BinaryInteger>(
        _ call: @autoclosure () -> String, on device: @autoclosure () -> String, _ body: () -> T
    ) throws(LinuxSGError) -> T {
        while true {
            let rc = body()
            if rc >= 0 { return rc }
            let e = Glibc.errno
            if e == EINTR { continue }
            throw LinuxSGError.system(call(), e, on: device())
        }
    }

    /// open(2).
    static func open(_ path: String, flags: Int32) throws(LinuxSGError) -> Int32 {
        try retrying("open", on: path) { Glibc.open(path, flags) }
    }

    /// close(2). EINTR is not retried: Linux has released the descriptor either way.
    static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }

    /// write(2) of one whole structure; nil when the descriptor would block (EAGAIN).
    static func write(_ fd: Int32, _ pointer: UnsafeRawPointer, _ count: Int, on device: String) throws(LinuxSGError) -> Int? {
        while true {
            let rc = Glibc.write(fd, pointer, count)
            if rc >= 0 { return rc }
            let e = Glibc.errno
            if e == EINTR { continue }
            if e == EAGAIN { return nil }
            throw LinuxSGError.system("write", e, on: device)
        }
    }

    /// read(2); nil when nothing is ready (EAGAIN).
    static func read(_ fd: Int32, _ pointer: UnsafeMutableRawPointer, _ count: Int, on device: String) throws(LinuxSGError) -> Int? {
        while true {
            let rc = Glibc.read(fd, pointer, count)
            if rc >= 0 { return rc }
            let e = Glibc.errno
            if e == EINTR { continue }
            if e == EAGAIN { return nil }
            throw LinuxSGError.system("read", e, on: device)
        }
    }

    /// ioctl(2) with a pointer argument.
    static func ioctl(_ fd: Int32, _ request: Int32, _ name: String, _ argument: UnsafeMutableRawPointer,
                      on device: String) throws(LinuxSGError) -> Int32 {
        try retrying("ioctl(\(name))", on: device) { Glibc.ioctl(fd, UInt(request), argument) }
    }

    /// ioctl(2) with an integer argument passed by value.
    static func ioctl(_ fd: Int32, _ request: Int32, _ name: String, value: Int32, on device: String) throws(LinuxSGError) -> Int32 {
        try retrying("ioctl(\(name))", on: device) { Glibc.ioctl(fd, UInt(request), value) }
    }

    /// poll(2) of one descriptor without waiting; the revents.
    static func pollNow(_ fd: Int32, events: Int16, on device: String) throws(LinuxSGError) -> Int16 {
        var p = pollfd(fd: fd, events: events, revents: 0)
        _ = try retrying("poll", on: device) { Glibc.poll(&p, 1, 0) }
        return p.revents
    }

    /// epoll_create1(2) with EPOLL_CLOEXEC.
    static func epollCreate() throws(LinuxSGError) -> Int32 {
        try retrying("epoll_create1", on: "the sg poller") { epoll_create1(Int32(EPOLL_CLOEXEC)) }
    }

    /// epoll_ctl(2).
    static func epollControl(_ epfd: Int32, _ op: Int32, _ fd: Int32, events: UInt32, on device: String) throws(LinuxSGError) {
        var event = epoll_event()
        event.events = events
        event.data.fd = fd
        _ = try retrying("epoll_ctl", on: device) { epoll_ctl(epfd, op, fd, &event) }
    }

    /// epoll_wait(2) into a caller-owned array; returns the number of events.
    static func epollWait(_ epfd: Int32, _ events: UnsafeMutablePointer<epoll_event>, _ capacity: Int32,
                          timeoutMilliseconds: Int32) throws(LinuxSGError) -> Int {
        Int(try retrying("epoll_wait", on: "the sg poller") { epoll_wait(epfd, events, capacity, timeoutMilliseconds) })
    }

    /// eventfd(2) with EFD_CLOEXEC | EFD_NONBLOCK.
    static func eventFD() throws(LinuxSGError) -> Int32 {
        try retrying("eventfd", on: "the sg poller") { eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK)) }
    }

    /// Adds 1 to an eventfd's counter.
    static func signal(eventFD fd: Int32) {
        var one: UInt64 = 1
        // EAGAIN (counter at its maximum) still leaves the descriptor readable: nothing to do.
        _ = try? write(fd, &one, 8, on: "the sg poller's eventfd")
    }

    /// Reads (and so resets) an eventfd's counter.
    static func drain(eventFD fd: Int32) {
        var value: UInt64 = 0
        _ = try? read(fd, &value, 8, on: "the sg poller's eventfd")
    }
}
