import SCSI

/// What the XPT knows about one device (a LUN): XPT_GDEV_TYPE's answer.
public struct CAMDeviceInfo: Sendable, Equatable {
    /// The pass unit number (`pass3` is unit 3).
    public var unit: Int
    /// Bus, target, LUN.
    public var path: CAMPath
    /// The standard INQUIRY data as the device returned it (SCSI devices).
    public var inquiry: [UInt8]
    /// The standard INQUIRY data decoded (nil when the device returned none).
    public var standardInquiry: StandardInquiry? { StandardInquiry(inquiry) }
    /// Peripheral device type: direct access, sequential access, CD-ROM...; unknown without
    /// INQUIRY data.
    public var peripheralType: PeripheralDeviceType { standardInquiry?.peripheralDeviceType ?? .unknown }
    /// T10 vendor, product and revision, trimmed.
    public var vendor: String { standardInquiry?.vendor ?? "" }
    public var product: String { standardInquiry?.product ?? "" }
    public var revision: String { standardInquiry?.revision ?? "" }
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

    package init(unit: Int, path: CAMPath, inquiry: [UInt8], deviceName: String, pathInquiry: PathInquiry,
                isPresent: Bool, periphs: [String] = []) {
        self.unit = unit; self.path = path; self.inquiry = inquiry
        self.deviceName = deviceName; self.pathInquiry = pathInquiry; self.isPresent = isPresent
        self.periphs = periphs.isEmpty && unit >= 0 ? ["pass\(unit)"] : periphs
    }

    /// "pass3".
    public var passName: String { "pass\(unit)" }
}

/// Counts device records alive, so tests can see a record freed once its commands drain.
package final class CAMRecordCounter: @unchecked Sendable {
    // Guarded by its own lock.
    private let lock = CAMLock()
    private var n = 0
    func add(_ d: Int) { lock.withLock { n += d } }
    package var count: Int { lock.withLock { n } }
}
