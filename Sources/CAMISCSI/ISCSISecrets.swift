#if canImport(Glibc)
import Glibc
#endif
import CAM
import CLibISCSI

/// The CHAP secrets in use in this process, so that no text from libiscsi can carry one out.
///
/// libiscsi formats its own error and log strings; none of 1.19's quote a secret when the URL
/// is parsed here, but its debug log (`LIBISCSI_DEBUG`) prints what it is told, so every
/// string that leaves libiscsi goes through `redact` before anyone sees it.
public enum ISCSISecrets {
    private static let secrets = CAMLockedBox<[String: Int]>([:])

    /// Remembers a secret (counted: two sessions may share one).
    static func register(_ secret: String) {
        guard !secret.isEmpty else { return }
        secrets.withLock { $0[secret, default: 0] += 1 }
    }

    /// Forgets a secret registered once.
    static func unregister(_ secret: String) {
        guard !secret.isEmpty else { return }
        secrets.withLock {
            if let n = $0[secret] { $0[secret] = n > 1 ? n - 1 : nil }
        }
    }

    static func register(_ url: ISCSIURL) {
        if let c = url.chap { register(c.password) }
        if let c = url.targetChap { register(c.password) }
    }

    static func unregister(_ url: ISCSIURL) {
        if let c = url.chap { unregister(c.password) }
        if let c = url.targetChap { unregister(c.password) }
    }

    /// `text` with every known secret replaced by `ISCSIURL.passwordMask`.
    public static func redact(_ text: String) -> String {
        let known = secrets.withLock { Array($0.keys) }
        var out = text
        // Longest first, so a secret that contains another is masked whole.
        for s in known.sorted(by: { $0.count > $1.count }) where out.contains(s) {
            out = out.masking(s)
        }
        return out
    }

    /// libiscsi's last error on `context`, redacted.
    static func lastError(_ context: OpaquePointer?) -> String {
        guard let context, let p = iscsi_get_error(context) else { return "unknown libiscsi error" }
        let s = String(cString: p)
        return s.isEmpty ? "unknown libiscsi error" : redact(s)
    }

    /// Replaces libiscsi's stderr logger: the same lines, redacted. Installed on every context
    /// when `LIBISCSI_DEBUG` asks for logging.
    static let logFunction: iscsi_log_fn = { level, message in
        guard let message else { return }
        let line = "libiscsi: " + redact(String(cString: message)) + "\n"
        // write(2) on descriptor 2: the line goes out whole, and no shared FILE is touched.
        _ = line.withCString { Glibc.write(2, $0, strlen($0)) }
    }
}

extension String {
    fileprivate func masking(_ target: String) -> String {
        let replacement = ISCSIURL.passwordMask
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = Substring(self)
        while let r = rest.firstRange(of: target) {
            result += rest[..<r.lowerBound]
            result += replacement
            rest = rest[r.upperBound...]
        }
        result += rest
        return result
    }
}
