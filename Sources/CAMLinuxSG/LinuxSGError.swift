#if canImport(Glibc)
import Glibc
#endif
import CAMSystem

/// The error every call of this module throws: a stable code, the errno where there is one,
/// and a message that names the call and the device ("write on /dev/sg2: ...").
///
/// The raw sg layer throws it for system call failures; what happens on the device comes back
/// as status in an `SGCompletion`, never as an error.
public struct LinuxSGError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, stable across releases. A struct, not an enum, so that codes can be
    /// added without breaking a caller's `switch` (which needs a `default:`); the raw value is
    /// the code's stable spelling ("permission-denied").
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The caller may not open the device (EACCES, EPERM).
        public static let permissionDenied = Code(rawValue: "permission-denied")
        /// No such device, or it went away (ENOENT, ENXIO, ENODEV, POLLHUP).
        public static let deviceGone = Code(rawValue: "device-gone")
        /// The descriptor has `SGDescriptor.maxOutstanding` commands not yet read (EDOM).
        public static let queueFull = Code(rawValue: "queue-full")
        /// The driver refused the request as malformed (EINVAL, EFAULT, ENOMSG, EMSGSIZE).
        public static let invalidRequest = Code(rawValue: "invalid-request")
        /// The path is not an sg device, or sysfs does not describe it.
        public static let notSGDevice = Code(rawValue: "not-sg-device")
        /// Any other system call failure.
        public static let systemCall = Code(rawValue: "system-call")
    }

    public var code: Code
    /// The errno, for system call failures.
    public var errno: Int32?
    /// What was being done, on what, and what would help.
    public var message: String

    public init(_ code: Code, _ message: String, errno: Int32? = nil) {
        self.code = code
        self.message = message
        self.errno = errno
    }

    /// A failed call of CAMSystem's wrappers, keeping its call, object and errno.
    static func system(_ error: SystemError) -> LinuxSGError {
        system(error.call, error.errno, on: error.object)
    }

    /// A failed system call: the call, the device, the errno's text, and a hint where one helps.
    public static func system(_ call: String, _ errno: Int32, on device: String) -> LinuxSGError {
        let text = "\(call) on \(device): \(String(cString: strerror(errno))) (errno \(errno))"
        switch errno {
        case EACCES, EPERM:
            return LinuxSGError(
                .permissionDenied,
                text + "; SCSI generic devices need read and write access to \(device) (root, or its group, "
                    + "often 'disk'), and CAP_SYS_RAWIO for commands the kernel does not deem safe",
                errno: errno)
        case ENOENT, ENXIO, ENODEV:
            return LinuxSGError(.deviceGone, text + "; the device is not there", errno: errno)
        case EDOM:
            return LinuxSGError(
                .queueFull,
                text + "; the sg driver takes \(SGDescriptor.maxOutstanding) commands per descriptor until they are read",
                errno: errno)
        case EINVAL, EFAULT, ENOMSG, EMSGSIZE:
            return LinuxSGError(.invalidRequest, text, errno: errno)
        default:
            return LinuxSGError(.systemCall, text, errno: errno)
        }
    }

    public var description: String { message }
}
