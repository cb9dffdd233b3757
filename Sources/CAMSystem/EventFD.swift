#if canImport(Glibc)
import Glibc
#endif
import CCAMSystem

/// An eventfd(2) counter (EFD_CLOEXEC | EFD_NONBLOCK): readable while its count is not zero.
/// The wake-up of every event loop here: `signal` from any thread, `drain` on the loop's.
/// Closed when it goes.
package struct EventFD: ~Copyable, Sendable {
    /// For poll(2) and epoll; valid while this value lives.
    package let descriptor: Int32

    /// A new counter at zero. `object` names it in the error ("pass3", "camdd mailbox").
    package init(for object: @autoclosure () -> String) throws(SystemError) {
        descriptor = try Syscall.retrying("eventfd", on: object()) {
            eventfd(0, Int32(EFD_CLOEXEC) | Int32(EFD_NONBLOCK))
        }
    }

    deinit { Syscall.close(descriptor) }

    /// Adds 1 to the count: the descriptor is readable until `drain`. A full counter (EAGAIN)
    /// is readable already, so nothing fails here that a caller could act on.
    @inline(__always)
    package func signal() {
        var one: UInt64 = 1
        _ = try? Syscall.write(descriptor, from: &one, count: 8, on: "eventfd")
    }

    /// Reads and so resets the count; returns it, 0 when it was zero already.
    @inline(__always)
    @discardableResult
    package func drain() -> UInt64 {
        var value: UInt64 = 0
        guard let n = try? Syscall.read(descriptor, into: &value, count: 8, on: "eventfd"), n == 8 else { return 0 }
        return value
    }
}
