import CAM
import CAMISCSI

/// A device as a person names it on the command line (DESIGN.md, "Device specifiers").
///
/// - `emu:disk[:size=64m][:file=PATH][:sector=512][:...]` — an emulated disk
/// - `/dev/sgN` — a Linux SCSI generic device
/// - `iscsi://[user[%password]@]host[:port]/target-iqn/lun` — an iSCSI LUN
/// - `passN` — a unit as the XPT numbers it after scanning
/// - `B:T[:L]` — a bus:target:lun path
public enum DeviceSpecifier: Sendable, Equatable, CustomStringConvertible {
    case emulated(options: String)
    case sg(path: String)
    case iscsi(url: String)
    case unit(Int)
    case path(CAMPath)

    /// Parses a specifier; the error says what forms are accepted.
    public init(parsing text: String) throws(CAMError) {
        let s = text.trimmingCharacters(in: " \t")
        if s.isEmpty {
            throw CAMError(.invalidRequest, "empty device specifier; \(DeviceSpecifier.forms)")
        }
        if s.hasPrefix("emu:") || s == "emu" {
            let rest = s.dropFirst(3)
            guard rest.isEmpty || rest.hasPrefix(":disk") else {
                throw CAMError(.invalidRequest, "'\(s)': the emulator has one device kind, disk: write emu:disk[:size=64m][:file=PATH][:sector=512]")
            }
            var opts = rest.dropFirst(rest.isEmpty ? 0 : 5)
            if opts.hasPrefix(":") { opts = opts.dropFirst() }
            self = .emulated(options: String(opts))
            return
        }
        if s.hasPrefix("iscsi://") {
            self = .iscsi(url: s)
            return
        }
        if s.hasPrefix("/dev/") || s.hasPrefix("sg"), let n = DeviceSpecifier.sgNumber(s) {
            self = .sg(path: "/dev/sg\(n)")
            return
        }
        if s.hasPrefix("/") {
            throw CAMError(.invalidRequest, "'\(s)': not a SCSI generic device; pass devices are /dev/sgN (use file= in camdd for files and block devices)")
        }
        if s.hasPrefix("pass") {
            guard let n = Int(s.dropFirst(4)), n >= 0 else {
                throw CAMError(.invalidRequest, "'\(s)': a pass unit is 'pass' and a number, as camcontrol devlist shows (pass0, pass1...)")
            }
            self = .unit(n)
            return
        }
        let parts = s.split(separator: ":", omittingEmptySubsequences: false)
        if (2...3).contains(parts.count), let b = Int(parts[0]), let t = Int(parts[1]), b >= 0, t >= 0 {
            var lun: UInt64 = 0
            if parts.count == 3 {
                guard let l = UInt64(parts[2]) else {
                    throw CAMError(.invalidRequest, "'\(s)': the LUN in bus:target:lun must be a number")
                }
                lun = l
            }
            self = .path(CAMPath(bus: b, target: t, lun: lun))
            return
        }
        throw CAMError(.invalidRequest, "'\(s)': unknown device; \(DeviceSpecifier.forms)")
    }

    static let forms = "a device is emu:disk[:size=64m][:file=PATH], /dev/sgN, iscsi://host[:port]/IQN/LUN, passN or bus:target[:lun]"

    static func sgNumber(_ s: String) -> Int? {
        var t = Substring(s)
        if t.hasPrefix("/dev/") { t = t.dropFirst(5) }
        guard t.hasPrefix("sg") else { return nil }
        return Int(t.dropFirst(2))
    }

    /// True for specifiers that name a bus of their own (opened on the spot).
    public var opensBus: Bool {
        switch self {
        case .emulated, .sg, .iscsi: return true
        case .unit, .path: return false
        }
    }

    /// Printable form; passwords in iSCSI URLs are masked.
    public var description: String {
        switch self {
        case .emulated(let o): return o.isEmpty ? "emu:disk" : "emu:disk:\(o)"
        case .sg(let p): return p
        case .iscsi(let u): return ISCSIURL.maskedForMessage(u)
        case .unit(let n): return "pass\(n)"
        case .path(let p): return p.description
        }
    }
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
