#if canImport(Glibc)
import Glibc
#endif

/// A failed system call: the call, the object it was made on, and the errno. Each module
/// turns it into its own error type (`CAMError`, `LinuxSGError`, ...), keeping all three.
package struct SystemError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The call as a person would look it up: "epoll_ctl(EPOLL_CTL_ADD)", "ioctl(BLKSSZGET)".
    package var call: String
    /// What it was made on: a device path, "pass3", "the sg poller".
    package var object: String
    package var errno: Int32

    package init(_ call: String, errno: Int32, on object: String) {
        self.call = call
        self.errno = errno
        self.object = object
    }

    /// strerror(3) of the errno.
    package var text: String { String(cString: strerror(errno)) }

    /// "epoll_ctl on the sg poller: Bad file descriptor (errno 9)".
    package var description: String { "\(call) on \(object): \(text) (errno \(errno))" }
}
