/// The error every CAMISCSI call throws: a stable code and a message a person can act on.
///
/// Messages never hold a password: URLs in them are masked, and text that comes from libiscsi
/// passes through `ISCSISecrets.redact` first.
public struct ISCSIError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, stable across releases.
    public enum Code: String, Sendable {
        /// The URL does not follow `iscsi://[user[%password]@]host[:port]/target-iqn/lun`.
        case badURL = "bad-url"
        /// No TCP connection to the portal.
        case connectFailed = "connect-failed"
        /// The target refused the login for want of (right) credentials.
        case authenticationFailed = "authentication-failed"
        /// The login failed for another reason (no such target, LUN not there...).
        case loginFailed = "login-failed"
        /// SendTargets discovery failed.
        case discoveryFailed = "discovery-failed"
        /// The request is malformed (CDB longer than 16 bytes, too many segments...).
        case badRequest = "bad-request"
        /// Every command slot of the session is in use.
        case queueFull = "queue-full"
        /// The session was closed.
        case closed = "closed"
        /// A system call failed.
        case systemCall = "system-call"
        /// libiscsi could not set up a context.
        case libraryFailure = "library-failure"
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
