#if canImport(Glibc)
import Glibc
#endif

/// A CHAP user name and secret. Its printed and reflected forms never show the secret.
public struct ISCSICredentials: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    public var user: String
    /// The CHAP secret. Never printed: `description`, `debugDescription` and `dump` mask it.
    public var password: String

    public init(user: String, password: String) {
        self.user = user
        self.password = password
    }

    public var description: String { "\(user)%\(ISCSIURL.passwordMask)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["user": user, "password": ISCSIURL.passwordMask]) }
}

/// libiscsi's iSCSI URL, `iscsi://[user[%password]@]host[:port]/target-iqn/lun`, or a portal
/// URL without target and LUN for discovery (`iscsi://[user[%password]@]host[:port]`).
///
/// Parsed here rather than by `iscsi_parse_full_url`, whose error messages quote the whole URL,
/// password included. The rules are libiscsi 1.19's: the password follows the first `%` (or
/// `:`) of the user part; the target name is %-decoded (`%3A` is `:`); `?target_user=U&
/// target_password=P` give mutual CHAP, `?header_digest=crc32c|none` the header digest (and,
/// ours, not libiscsi's: `?reconnect_window=SECONDS`, how long commands wait for a target that
/// went away, `ISCSISession.Options.reconnectWindow`); CHAP
/// comes from `LIBISCSI_CHAP_USERNAME` / `LIBISCSI_CHAP_PASSWORD` when the URL has none, and
/// mutual CHAP from `LIBISCSI_CHAP_TARGET_USERNAME` / `LIBISCSI_CHAP_TARGET_PASSWORD`.
///
/// `description` is the masked form: the password shows as `***`.
public struct ISCSIURL: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// How the header digest is negotiated.
    public enum HeaderDigest: String, Sendable {
        /// libiscsi's default: offer none, accept CRC32C.
        case negotiate
        case none
        case crc32c
    }

    /// Host name or address, without IPv6 brackets.
    public var host: String
    public var port: Int
    /// The target's IQN, decoded; nil for a portal URL.
    public var target: String?
    /// The LUN; nil for a portal URL.
    public var lun: UInt64?
    /// One-way CHAP: the initiator proves itself to the target.
    public var chap: ISCSICredentials?
    /// Mutual CHAP: the target proves itself to the initiator (its OutgoingUser in tgt).
    public var targetChap: ISCSICredentials?
    public var headerDigest: HeaderDigest = .negotiate
    /// `reconnect_window=SECONDS`: replaces the session's reconnect window when given.
    public var reconnectWindow: Duration?
    /// The largest `reconnect_window` accepted (an hour).
    public static let maxReconnectWindow: Duration = .seconds(3600)

    /// The well-known iSCSI port (RFC 7143).
    public static let defaultPort = 3260

    public init(host: String, port: Int = ISCSIURL.defaultPort, target: String? = nil, lun: UInt64? = nil,
                chap: ISCSICredentials? = nil, targetChap: ISCSICredentials? = nil) {
        self.host = host
        self.port = port
        self.target = target
        self.lun = lun
        self.chap = chap
        self.targetChap = targetChap
    }

    /// "host:port" as libiscsi connects to it ("[::1]:3260" for IPv6).
    public var portal: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// The portal URL of this URL (no target, no LUN), credentials kept.
    public var portalURL: ISCSIURL {
        var u = self
        u.target = nil
        u.lun = nil
        return u
    }

    /// The same URL for another target and LUN (what discovery hands out).
    public func with(target: String, lun: UInt64) -> ISCSIURL {
        var u = self
        u.target = target
        u.lun = lun
        return u
    }

    /// Parses a full URL (target and LUN required).
    public static func parse(_ text: String, environment: [String: String]? = nil) throws(ISCSIError) -> ISCSIURL {
        try parse(text, requireTarget: true, environment: environment)
    }

    /// Parses a portal URL, for discovery; a target and LUN, when present, are kept.
    public static func parsePortal(_ text: String, environment: [String: String]? = nil) throws(ISCSIError) -> ISCSIURL {
        try parse(text, requireTarget: false, environment: environment)
    }

    static func parse(_ text: String, requireTarget: Bool, environment: [String: String]?) throws(ISCSIError) -> ISCSIURL {
        let syntax = requireTarget
            ? "iscsi://[user[%password]@]host[:port]/target-iqn/lun[?arg=value&...]"
            : "iscsi://[user[%password]@]host[:port][/target-iqn/lun][?arg=value&...]"
        // Every message names the URL in its masked form only.
        func bad(_ why: String) -> ISCSIError {
            ISCSIError(.badURL, "invalid iSCSI URL \(maskedForMessage(text)): \(why); the form is \(syntax)")
        }
        let scheme = "iscsi://"
        if text.hasPrefix("iser://") { throw bad("iSER is not supported, only iSCSI over TCP") }
        guard text.hasPrefix(scheme) else { throw bad("it does not start with iscsi://") }
        var rest = Substring(text.dropFirst(scheme.count))

        func env(_ name: String) -> String? {
            if let environment { return environment[name] }
            guard let v = getenv(name) else { return nil }
            return String(cString: v)
        }
        var user = env("LIBISCSI_CHAP_USERNAME")
        var password = env("LIBISCSI_CHAP_PASSWORD")
        var targetUser = env("LIBISCSI_CHAP_TARGET_USERNAME")
        var targetPassword = env("LIBISCSI_CHAP_TARGET_PASSWORD")
        var digest = HeaderDigest.negotiate
        var window: Duration?

        if let q = rest.firstIndex(of: "?") {
            let query = rest[rest.index(after: q)...]
            rest = rest[..<q]
            for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let key = String(kv[0])
                let value = kv.count > 1 ? String(kv[1]) : ""
                switch key {
                case "header_digest":
                    guard let d = HeaderDigest(rawValue: value), d != .negotiate else {
                        throw bad("header_digest must be crc32c or none")
                    }
                    digest = d
                case "target_user": targetUser = value
                case "target_password": targetPassword = value
                case "reconnect_window":
                    guard let w = UInt32(value), .seconds(w) <= maxReconnectWindow else {
                        throw bad("reconnect_window must be whole seconds from 0 to \(maxReconnectWindow.components.seconds), not '\(value)'")
                    }
                    window = .seconds(w)
                default:
                    throw bad("unknown argument '\(key)' (known: header_digest, target_user, target_password, reconnect_window)")
                }
            }
        }

        if let at = rest.firstIndex(of: "@") {
            let userPart = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let sep = userPart.firstIndex(of: "%") ?? userPart.firstIndex(of: ":") {
                user = String(userPart[..<sep])
                password = String(userPart[userPart.index(after: sep)...])
            } else {
                user = String(userPart)
            }
        }

        // host[:port], then /target/lun
        let hostPort: Substring
        var path: Substring = ""
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw bad("unclosed [ in the IPv6 address") }
            let afterClose = rest.index(after: close)
            if let slash = rest[afterClose...].firstIndex(of: "/") {
                hostPort = rest[..<slash]
                path = rest[rest.index(after: slash)...]
            } else {
                hostPort = rest
            }
        } else if let slash = rest.firstIndex(of: "/") {
            hostPort = rest[..<slash]
            path = rest[rest.index(after: slash)...]
        } else {
            hostPort = rest
        }

        var host: String
        var port = defaultPort
        if hostPort.hasPrefix("[") {
            let close = hostPort.firstIndex(of: "]")!
            host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            let tail = hostPort[hostPort.index(after: close)...]
            if !tail.isEmpty {
                guard tail.hasPrefix(":"), let p = Int(tail.dropFirst()) else { throw bad("bad port after the IPv6 address") }
                port = p
            }
        } else if let colon = hostPort.lastIndex(of: ":") {
            host = String(hostPort[..<colon])
            guard let p = Int(hostPort[hostPort.index(after: colon)...]) else {
                throw bad("the port '\(hostPort[hostPort.index(after: colon)...])' is not a number")
            }
            port = p
        } else {
            host = String(hostPort)
        }
        guard !host.isEmpty else { throw bad("no host") }
        guard (1...65535).contains(port) else { throw bad("port \(port) is out of range") }

        var target: String?
        var lun: UInt64?
        if !path.isEmpty {
            let parts = path.split(separator: "/", omittingEmptySubsequences: false)
            do {
                guard parts.count == 2, !parts[0].isEmpty else {
                    throw bad(parts[0].isEmpty ? "no target name" : "no LUN after the target name")
                }
                guard let l = UInt64(parts[1]) else { throw bad("the LUN '\(parts[1])' is not a number") }
                target = try percentDecoded(parts[0], bad)
                lun = l
            }
        }
        if requireTarget && target == nil { throw bad("no target name and LUN") }

        var url = ISCSIURL(host: host, port: port, target: target, lun: lun)
        url.headerDigest = digest
        url.reconnectWindow = window
        // libiscsi's rule: CHAP needs both a user and a secret; mutual CHAP needs one-way CHAP.
        if let u = user, let p = password, !u.isEmpty, !p.isEmpty {
            url.chap = ISCSICredentials(user: u, password: p)
        } else if let u = user, !u.isEmpty, text.contains("@") {
            throw bad("user \(u) has no password (give it in the URL or LIBISCSI_CHAP_PASSWORD)")
        }
        if let u = targetUser, let p = targetPassword, !u.isEmpty, !p.isEmpty {
            guard url.chap != nil else {
                throw bad("mutual CHAP (target_user) needs one-way CHAP as well (user%password@)")
            }
            url.targetChap = ISCSICredentials(user: u, password: p)
        }
        return url
    }

    private static func percentDecoded(_ s: Substring, _ bad: (String) -> ISCSIError) throws(ISCSIError) -> String {
        var out: [UInt8] = []
        var bytes = Array(s.utf8)[...]
        while let b = bytes.popFirst() {
            if b == UInt8(ascii: "%") {
                guard bytes.count >= 2, let hi = hexValue(bytes.removeFirst()), let lo = hexValue(bytes.removeFirst()) else {
                    throw bad("bad %-escape in the target name")
                }
                out.append(hi << 4 | lo)
            } else {
                out.append(b)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// What every password shows as wherever SwiftCAM prints one: `iscsi://user%***@host/...`
    /// (the form the README documents), `target_password=***`, and libiscsi's messages.
    public static let passwordMask = "***"

    /// The one masker for text that may hold an iSCSI URL (every tool and message uses it): a
    /// URL as typed, parsed or not, with whatever stands between `%`/`:` and `@` in the user
    /// part, and any `target_password=` value, replaced by `passwordMask`. Text without a
    /// user part (`pass3`, `/dev/sg2`, `emu:disk`) comes back unchanged.
    public static func maskedForMessage(_ text: String) -> String {
        var s = Substring(text)
        var prefix = ""
        if let r = s.range(of: "://") {
            prefix = String(s[..<r.upperBound])
            s = s[r.upperBound...]
        }
        var query = ""
        if let q = s.firstIndex(of: "?") {
            query = s[q...].split(separator: "&", omittingEmptySubsequences: false).map { part -> String in
                let p = part.hasPrefix("?") ? part.dropFirst() : part
                let lead = part.hasPrefix("?") ? "?" : ""
                if p.hasPrefix("target_password=") { return lead + "target_password=" + passwordMask }
                return String(part)
            }.joined(separator: "&")
            s = s[..<q]
        }
        if let at = s.firstIndex(of: "@") {
            let userPart = s[..<at]
            if let sep = userPart.firstIndex(of: "%") ?? userPart.firstIndex(of: ":") {
                let masked = String(userPart[...sep]) + passwordMask
                return prefix + masked + String(s[at...]) + query
            }
        }
        return prefix + String(s) + query
    }

    /// The masked URL: `iscsi://alice%***@host:3260/iqn.2024-01.example:disk/1`.
    public var description: String {
        var s = "iscsi://"
        if let chap { s += "\(chap)@" }
        s += portal
        if let target, let lun { s += "/\(target)/\(lun)" }
        var args: [String] = []
        if let targetChap { args.append("target_user=\(targetChap.user)&target_password=\(Self.passwordMask)") }
        if headerDigest != .negotiate { args.append("header_digest=\(headerDigest.rawValue)") }
        if let w = reconnectWindow { args.append("reconnect_window=\(w.components.seconds)") }
        if !args.isEmpty { s += "?" + args.joined(separator: "&") }
        return s
    }

    public var debugDescription: String { description }

    public var customMirror: Mirror { Mirror(self, children: ["url": description]) }
}

extension StringProtocol {
    fileprivate func range(of needle: String) -> Range<Index>? {
        guard !needle.isEmpty else { return nil }
        var i = startIndex
        while i < endIndex {
            if self[i...].hasPrefix(needle) {
                return i..<index(i, offsetBy: needle.count)
            }
            i = index(after: i)
        }
        return nil
    }
}
