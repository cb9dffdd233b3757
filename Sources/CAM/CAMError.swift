#if canImport(Glibc)
import Glibc
#endif
import CAMSystem

/// The error every CAM call throws: a stable code, the errno where there is one, and context
/// a person can act on.
///
/// Only bad requests and system failures are errors; whatever happens on the device comes
/// back as status in the completed CCB (pass(4): CAMIOQUEUE fails only for a bad request).
public struct CAMError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, stable across releases. A struct, not an enum, so that codes can be
    /// added without breaking a caller's `switch` (which needs a `default:`); the raw value is
    /// the code's stable spelling ("data-too-long").
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The CCB's data is longer than the SIM's `maxio` (pass(4) EINVAL).
        public static let dataTooLong = Code(rawValue: "data-too-long")
        /// The function code is for the XPT only (XPT_SCAN_BUS, XPT_DEV_MATCH, ...).
        public static let xptOnlyFunction = Code(rawValue: "xpt-only-function")
        /// Empty or inconsistent scatter/gather list, or data with no direction.
        public static let badDataDescriptor = Code(rawValue: "bad-data-descriptor")
        /// The CDB is missing or malformed.
        public static let badCDB = Code(rawValue: "bad-cdb")
        /// The handle was closed.
        public static let handleClosed = Code(rawValue: "handle-closed")
        /// The device went away (pass(4) ENXIO).
        public static let deviceGone = Code(rawValue: "device-gone")
        /// No device answers to that unit, path or specifier.
        public static let noSuchDevice = Code(rawValue: "no-such-device")
        /// A CCB that is already queued was queued again.
        public static let ccbBusy = Code(rawValue: "ccb-busy")
        /// The request is not valid for other reasons.
        public static let invalidRequest = Code(rawValue: "invalid-request")
        /// A system call failed.
        public static let systemCall = Code(rawValue: "system-call")
        /// A SIM could not be set up (login failed, device cannot be opened...).
        public static let simFailure = Code(rawValue: "sim-failure")
        /// Not supported by this SIM or transport.
        public static let unsupported = Code(rawValue: "unsupported")
    }

    public var code: Code
    /// The errno, for system call failures.
    public var errno: Int32?
    /// What was being done, on what ("CAMIOQUEUE on pass2: READ(10) carries 2097152 bytes...").
    public var message: String

    public init(_ code: Code, _ message: String, errno: Int32? = nil) {
        self.code = code
        self.message = message
        self.errno = errno
    }

    /// A failed system call of CAMSystem's wrappers, keeping its call, object and errno.
    package static func system(_ error: SystemError) -> CAMError {
        system(error.call, error.errno, on: error.object)
    }

    /// A system call failure: names the call, the object, and the errno's text.
    public static func system(_ call: String, _ errno: Int32, on object: String) -> CAMError {
        let text = String(cString: strerror(errno))
        return CAMError(.systemCall, "\(call) on \(object): \(text) (errno \(errno))", errno: errno)
    }

    public var description: String { message }
}
