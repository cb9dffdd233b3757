/// What the XPT knows about one device (a LUN): XPT_GDEV_TYPE's answer.
public struct CAMDeviceInfo: Sendable, Equatable {
    /// The pass unit number (`pass3` is unit 3).
    public var unit: Int
    /// Bus, target, LUN.
    public var path: CAMPath
    /// The standard INQUIRY data as the device returned it (SCSI devices).
    public var inquiry: [UInt8]
    /// Peripheral device type (INQUIRY byte 0, bits 0-4): 0 disk, 1 tape, 5 CD/DVD...
    public var peripheralType: UInt8 { inquiry.first.map { $0 & 0x1F } ?? 0x1F }
    /// T10 vendor, product and revision, trimmed.
    public var vendor: String { Self.ascii(inquiry, 8, 16) }
    public var product: String { Self.ascii(inquiry, 16, 32) }
    public var revision: String { Self.ascii(inquiry, 32, 36) }
    /// The SIM's name for the device ("/dev/sg2", a masked iSCSI URL, "emu:disk").
    public var deviceName: String
    /// The bus's path inquiry.
    public var pathInquiry: PathInquiry
    /// False once the device has gone away.
    public var isPresent: Bool
    /// The periphs attached, in the order they attached ("pass0", "ses0").
    public var periphs: [String]
    /// The protocol the device speaks (the bus's, as XPT_PATH_INQ gives it).
    public var `protocol`: CAMProtocol { pathInquiry.protocol }

    public init(unit: Int, path: CAMPath, inquiry: [UInt8], deviceName: String, pathInquiry: PathInquiry,
                isPresent: Bool, periphs: [String] = []) {
        self.unit = unit; self.path = path; self.inquiry = inquiry
        self.deviceName = deviceName; self.pathInquiry = pathInquiry; self.isPresent = isPresent
        self.periphs = periphs.isEmpty && unit >= 0 ? ["pass\(unit)"] : periphs
    }

    /// "pass3".
    public var passName: String { "pass\(unit)" }

    static func ascii(_ b: [UInt8], _ from: Int, _ to: Int) -> String {
        guard b.count > from else { return "" }
        let bytes = b[from..<min(to, b.count)].map { ($0 >= 0x20 && $0 < 0x7F) ? $0 : 0x20 }
        return String(decoding: bytes, as: UTF8.self).trimmingSpaces()
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}

/// Counts device records alive, so tests can see a record freed once its commands drain.
public final class CAMRecordCounter: @unchecked Sendable {
    // Guarded by its own lock.
    private let lock = CAMLock()
    private var n = 0
    func add(_ d: Int) { lock.withLock { n += d } }
    public var count: Int { lock.withLock { n } }
}
