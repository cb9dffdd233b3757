#if canImport(Glibc)
import Glibc
#endif

/// One wrapper per system call: errno is read at once, EINTR retried, and the error names the
/// call and the object. What would block (EAGAIN) is an answer, not an error, where a caller
/// works with non-blocking descriptors: `read` and `write` return nil for it.
package enum Syscall {
    /// Runs `body` until it does not fail with EINTR; a negative result throws.
    @inline(__always)
    package static func retrying<T: FixedWidthInteger>(
        _ call: @autoclosure () -> String, on object: @autoclosure () -> String, _ body: () -> T
    ) throws(SystemError) -> T {
        while true {
            let rc = body()
            if rc >= 0 { return rc }
            let e = Glibc.errno
            if e == EINTR { continue }
            throw SystemError(call(), errno: e, on: object())
        }
    }

    /// open(2).
    package static func open(_ path: String, flags: Int32, mode: mode_t = 0) throws(SystemError) -> Int32 {
        try retrying("open", on: path) { Glibc.open(path, flags, mode) }
    }

    /// close(2). EINTR is not retried: Linux has released the descriptor either way.
    package static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }

    /// read(2); nil when nothing is ready (EAGAIN on a non-blocking descriptor).
    @inline(__always)
    package static func read(_ fd: Int32, into pointer: UnsafeMutableRawPointer, count: Int,
                             on object: @autoclosure () -> String) throws(SystemError) -> Int? {
        while true {
            let rc = Glibc.read(fd, pointer, count)
            if rc >= 0 { return rc }
            let e = Glibc.errno
            if e == EINTR { continue }
            if e == EAGAIN { return nil }
            throw SystemError("read", errno: e, on: object())
        }
    }

    /// write(2); nil when the descriptor would block (EAGAIN).
    @inline(__always)
    package static func write(_ fd: Int32, from pointer: UnsafeRawPointer, count: Int,
                              on object: @autoclosure () -> String) throws(SystemError) -> Int? {
        while true {
            let rc = Glibc.write(fd, pointer, count)
            if rc >= 0 { return rc }
            let e = Glibc.errno
            if e == EINTR { continue }
            if e == EAGAIN { return nil }
            throw SystemError("write", errno: e, on: object())
        }
    }

    /// ioctl(2) with a pointer argument; `name` is the request's ("SG_GET_SCSI_ID").
    package static func ioctl(_ fd: Int32, _ request: UInt, _ name: @autoclosure () -> String,
                              _ argument: UnsafeMutableRawPointer, on object: @autoclosure () -> String) throws(SystemError) -> Int32 {
        try retrying("ioctl(\(name()))", on: object()) { Glibc.ioctl(fd, request, argument) }
    }

    /// ioctl(2) with an integer argument passed by value.
    package static func ioctl(_ fd: Int32, _ request: UInt, _ name: @autoclosure () -> String,
                              value: Int32, on object: @autoclosure () -> String) throws(SystemError) -> Int32 {
        try retrying("ioctl(\(name()))", on: object()) { Glibc.ioctl(fd, request, value) }
    }

    /// poll(2) over `fds`; nil `timeout` waits for ever. Returns how many have events (0: the
    /// time ran out). The caller owns the array, so a loop allocates nothing per call.
    @inline(__always)
    package static func poll(_ fds: UnsafeMutableBufferPointer<pollfd>, timeout: Duration?,
                             on object: @autoclosure () -> String) throws(SystemError) -> Int {
        let ms = Syscall.milliseconds(timeout)
        return Int(try retrying("poll", on: object()) { Glibc.poll(fds.baseAddress, nfds_t(fds.count), ms) })
    }

    /// A time-out for poll(2) and epoll_wait(2): -1 for nil (for ever), whole milliseconds
    /// rounded up (a wait never ends early), at most Int32.max.
    @inline(__always)
    package static func milliseconds(_ timeout: Duration?) -> Int32 {
        guard let timeout else { return -1 }
        let (s, atto) = timeout.components
        if s < 0 || (s == 0 && atto <= 0) { return 0 }
        let ms = s * 1000 + (atto + 999_999_999_999_999) / 1_000_000_000_000_000
        return ms > Int64(Int32.max) ? Int32.max : Int32(ms)
    }
}
