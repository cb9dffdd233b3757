/// The error every CAMISCSI call throws: a stable code and a message a person can act on.
///
/// Messages never hold a password: URLs in them are masked, and text that comes from libiscsi
/// passes through `ISCSISecrets.redact` first.
public struct ISCSIError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, stable across releases. A struct, not an enum, so that codes can be
    /// added without breaking a caller's `switch` (which needs a `default:`); the raw value is
    /// the code's stable spelling ("bad-url").
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The URL does not follow `iscsi://[user[%password]@]host[:port]/target-iqn/lun`.
        public static let badURL = Code(rawValue: "bad-url")
        /// No TCP connection to the portal.
        public static let connectFailed = Code(rawValue: "connect-failed")
        /// The target refused the login for want of (right) credentials.
        public static let authenticationFailed = Code(rawValue: "authentication-failed")
        /// The login failed for another reason (no such target, LUN not there...).
        public static let loginFailed = Code(rawValue: "login-failed")
        /// SendTargets discovery failed.
        public static let discoveryFailed = Code(rawValue: "discovery-failed")
        /// The request is malformed (CDB longer than 16 bytes, too many segments...).
        public static let badRequest = Code(rawValue: "bad-request")
        /// Every command slot of the session is in use.
        public static let queueFull = Code(rawValue: "queue-full")
        /// The session was closed.
        public static let closed = Code(rawValue: "closed")
        /// A system call failed.
        public static let systemCall = Code(rawValue: "system-call")
        /// libiscsi could not set up a context.
        public static let libraryFailure = Code(rawValue: "library-failure")
    }

    public var code: Code
    public var message: String
    public var errno: Int32?

    public init(_ code: Code, _ message: String, errno: Int32? = nil) {
        self.code = code
        self.message = message
        self.errno = errno
    }

    public var description: String { message }
}
