#if canImport(Glibc)
import Glibc
#endif
import CAMSystem

/// The error every CAMDD call throws: a stable code, the errno where there is one, and a
/// message a person can act on ("Blocksize 1000 for pass0 is not a multiple of sector size 512").
public struct CAMDDError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, stable across releases. A struct, not an enum, so that codes can be
    /// added without breaking a caller's `switch` (which needs a `default:`); the raw value is
    /// the code's stable spelling ("bad-argument").
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// An `-i`/`-o` argument list, a size or a number that cannot be used.
        public static let badArgument = Code(rawValue: "bad-argument")
        /// A file or device could not be opened.
        public static let openFailed = Code(rawValue: "open-failed")
        /// Probing a device (READ CAPACITY, device type, sector size) failed.
        public static let probeFailed = Code(rawValue: "probe-failed")
        /// The endpoint cannot do what was asked (offset on a pipe, an unsupported device type).
        public static let unsupported = Code(rawValue: "unsupported")
        /// A system call failed.
        public static let systemCall = Code(rawValue: "system-call")
        /// A read or write failed during the copy.
        public static let ioFailed = Code(rawValue: "io-failed")
    }

    public var code: Code
    public var message: String
    /// The errno, for system call failures.
    public var errno: Int32?

    public init(_ code: Code, _ message: String, errno: Int32? = nil) {
        self.code = code
        self.message = message
        self.errno = errno
    }

    /// A failed call of CAMSystem's wrappers, keeping its call, object and errno.
    static func system(_ error: SystemError) -> CAMDDError {
        system(error.call, error.errno, on: error.object)
    }

    /// A system call failure naming the call, the object and the errno's text.
    static func system(_ call: String, _ errno: Int32, on object: String) -> CAMDDError {
        CAMDDError(.systemCall, "\(call) on \(object): \(errnoText(errno))", errno: errno)
    }

    public var description: String { message }
}

/// strerror(3) as a Swift string.
func errnoText(_ e: Int32) -> String {
    String(cString: strerror(e))
}
