#if canImport(Glibc)
import Glibc
#endif
import CLibISCSI

/// A target a portal announced, with the portals it can be reached at.
public struct ISCSIDiscoveredTarget: Sendable, Equatable {
    /// The target's IQN.
    public var name: String
    /// "address:port,tpgt" as the target reports them (RFC 7143 TargetAddress).
    public var portals: [String]
}

/// SendTargets discovery (RFC 7143 appendix D): log in to a portal with a discovery session and
/// ask it for every target it offers.
public enum ISCSIDiscovery {
    /// The targets `portal` offers. Blocks for the round trips, at most about `timeout`
    /// per step. CHAP from the URL (or the environment) is used for the discovery login.
    public static func sendTargets(_ portal: ISCSIURL, initiatorName: String = ISCSISession.Options().initiatorName,
                                   timeout: Duration = .seconds(10)) throws(ISCSIError) -> [ISCSIDiscoveredTarget] {
        ISCSISecrets.register(portal)
        defer { ISCSISecrets.unregister(portal) }
        guard let ctx = iscsi_create_context(initiatorName) else {
            throw ISCSIError(.libraryFailure, "iscsi_create_context failed for discovery at \(portal.portal)")
        }
        defer { iscsi_destroy_context(ctx) }
        if getenv("LIBISCSI_DEBUG") != nil { iscsi_set_log_fn(ctx, ISCSISecrets.logFunction) }
        iscsi_set_session_type(ctx, ISCSI_SESSION_DISCOVERY)
        iscsi_set_noautoreconnect(ctx, 1)
        // The synchronous calls run libiscsi's own event loop, which services time-outs.
        // libiscsi counts whole seconds.
        let ns = timeout.nanosecondsRoundedUp
        iscsi_set_timeout(ctx, Int32(clamping: ns / 1_000_000_000 + (ns % 1_000_000_000 == 0 ? 0 : 1)))
        if let chap = portal.chap {
            iscsi_set_initiator_username_pwd(ctx, chap.user, chap.password)
            if let t = portal.targetChap { iscsi_set_target_username_pwd(ctx, t.user, t.password) }
        }
        let who = portal.chap.map { " as \($0.user)" } ?? ""
        if iscsi_connect_sync(ctx, portal.portal) != 0 {
            throw ISCSIError(.connectFailed, "discovery at \(portal.portal): cannot connect: \(ISCSISecrets.lastError(ctx))")
        }
        if iscsi_login_sync(ctx) != 0 {
            let text = ISCSISecrets.lastError(ctx)
            let code: ISCSIError.Code = text.contains("Authentication") || text.contains("CHAP") ? .authenticationFailed : .loginFailed
            throw ISCSIError(code, "discovery login at \(portal.portal)\(who) failed: \(text)")
        }
        guard let list = iscsi_discovery_sync(ctx) else {
            throw ISCSIError(.discoveryFailed, "SendTargets at \(portal.portal) failed: \(ISCSISecrets.lastError(ctx))")
        }
        var targets: [ISCSIDiscoveredTarget] = []
        var node: UnsafeMutablePointer<iscsi_discovery_address>? = list
        while let n = node {
            var portals: [String] = []
            var p = n.pointee.portals
            while let q = p {
                if let s = q.pointee.portal { portals.append(String(cString: s)) }
                p = q.pointee.next
            }
            if let name = n.pointee.target_name {
                targets.append(ISCSIDiscoveredTarget(name: String(cString: name), portals: portals))
            }
            node = n.pointee.next
        }
        iscsi_free_discovery_data(ctx, list)
        _ = iscsi_logout_sync(ctx)
        return targets.sorted { $0.name < $1.name }
    }
}
