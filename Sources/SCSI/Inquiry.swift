/// PERIPHERAL DEVICE TYPE (SPC-5 6.6.2, table 149), named as camcontrol and SPC name it.
public struct PeripheralDeviceType: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue & 0x1F }

    public static let directAccess = PeripheralDeviceType(rawValue: 0x00)
    public static let sequentialAccess = PeripheralDeviceType(rawValue: 0x01)
    public static let printer = PeripheralDeviceType(rawValue: 0x02)
    public static let processor = PeripheralDeviceType(rawValue: 0x03)
    public static let writeOnce = PeripheralDeviceType(rawValue: 0x04)
    public static let cdDVD = PeripheralDeviceType(rawValue: 0x05)
    public static let opticalMemory = PeripheralDeviceType(rawValue: 0x07)
    public static let mediumChanger = PeripheralDeviceType(rawValue: 0x08)
    public static let storageArray = PeripheralDeviceType(rawValue: 0x0C)
    public static let enclosureServices = PeripheralDeviceType(rawValue: 0x0D)
    public static let simplifiedDirectAccess = PeripheralDeviceType(rawValue: 0x0E)
    public static let opticalCard = PeripheralDeviceType(rawValue: 0x0F)
    public static let objectStorage = PeripheralDeviceType(rawValue: 0x11)
    public static let automationDriveInterface = PeripheralDeviceType(rawValue: 0x12)
    public static let hostManagedZoned = PeripheralDeviceType(rawValue: 0x14)
    public static let wellKnownLogicalUnit = PeripheralDeviceType(rawValue: 0x1E)
    public static let unknown = PeripheralDeviceType(rawValue: 0x1F)

    /// "Direct Access", "Sequential Access", "CD-ROM", ... (FreeBSD's scsi_print_inquiry).
    public var name: String {
        switch rawValue {
        case 0x00: return "Direct Access"
        case 0x01: return "Sequential Access"
        case 0x02: return "Printer"
        case 0x03: return "Processor"
        case 0x04: return "WORM"
        case 0x05: return "CD-ROM"
        case 0x06: return "Scanner"
        case 0x07: return "Optical"
        case 0x08: return "Changer"
        case 0x09: return "Communication"
        case 0x0A, 0x0B: return "Graphic Arts"
        case 0x0C: return "Storage Array"
        case 0x0D: return "Enclosure Services"
        case 0x0E: return "Simplified Direct Access"
        case 0x0F: return "Optical Card"
        case 0x10: return "Bridging Expander"
        case 0x11: return "Object-based Storage"
        case 0x12: return "Automation/Drive Interface"
        case 0x13: return "Security Manager"
        case 0x14: return "Host Managed Zoned Block"
        case 0x1E: return "Well Known Logical Unit"
        case 0x1F: return "Unknown"
        default: return "Reserved"
        }
    }

    public var description: String { name }

    /// True for the types whose medium is addressed by logical block (READ CAPACITY, READ and
    /// WRITE by LBA): direct access (SBC), write-once, CD/DVD (MMC), optical memory, simplified
    /// direct access (RBC) and host-managed zoned (ZBC). camdd copies to and from these only.
    public var isBlockAddressed: Bool {
        switch rawValue {
        case 0x00, 0x04, 0x05, 0x07, 0x0E, 0x14: return true
        default: return false
        }
    }
}

/// PERIPHERAL QUALIFIER (SPC-5 6.6.2, table 148).
public enum PeripheralQualifier: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// A device of the given type is connected to this logical unit (or may be).
    case connected = 0
    /// The device server can support a device here, but none is connected now.
    case notConnected = 1
    case reserved = 2
    /// No device can be supported at this logical unit.
    case notSupported = 3
    /// 4-7: vendor specific (kept in `PeripheralQualifier.vendorSpecific`).
    case vendorSpecific = 4

    public init(bits: UInt8) {
        self = PeripheralQualifier(rawValue: bits & 0x07) ?? .vendorSpecific
    }

    public var description: String {
        switch self {
        case .connected: return "connected"
        case .notConnected: return "not connected"
        case .reserved: return "reserved"
        case .notSupported: return "not supported"
        case .vendorSpecific: return "vendor specific"
        }
    }
}

/// Standard INQUIRY data (SPC-5 6.6.2; FreeBSD's `struct scsi_inquiry_data`).
///
/// Parsing takes whatever length arrived: fields past the end read as zero, false or empty,
/// and `length` says how much there was. Only an empty buffer gives nil.
public struct StandardInquiry: Sendable, Equatable {
    /// The bytes parsed.
    public let bytes: [UInt8]

    public init?<C: Collection>(_ data: C) where C.Element == UInt8 {
        let b = Array(data)
        guard !b.isEmpty else { return nil }
        bytes = b
    }

    public init?(_ raw: UnsafeRawBufferPointer) {
        self.init(Array(raw))
    }

    /// The number of bytes received.
    public var length: Int { bytes.count }

    public var peripheralQualifier: PeripheralQualifier { PeripheralQualifier(bits: bytes[0] >> 5) }
    public var peripheralDeviceType: PeripheralDeviceType { PeripheralDeviceType(rawValue: bytes[0]) }
    /// RMB: removable medium.
    public var removable: Bool { bytes.bit(7, of: 1) ?? false }
    /// LU_CONG: the logical unit is a conglomerate.
    public var logicalUnitConglomerate: Bool { bytes.bit(6, of: 1) ?? false }
    /// VERSION: the SPC standard claimed (see `versionName`).
    public var version: UInt8 { bytes.byte(at: 2) ?? 0 }
    public var normalACA: Bool { bytes.bit(5, of: 3) ?? false }
    /// HISUP: hierarchical LUN addressing.
    public var hierarchicalSupport: Bool { bytes.bit(4, of: 3) ?? false }
    /// RESPONSE DATA FORMAT: 2 for any device newer than SCSI-2.
    public var responseDataFormat: UInt8 { (bytes.byte(at: 3) ?? 0) & 0x0F }
    /// ADDITIONAL LENGTH: bytes after byte 4 the device has (it may have sent fewer).
    public var additionalLength: Int { Int(bytes.byte(at: 4) ?? 0) }
    /// SCCS: embedded storage array controller.
    public var sccs: Bool { bytes.bit(7, of: 5) ?? false }
    /// ACC: access controls coordinator.
    public var acc: Bool { bytes.bit(6, of: 5) ?? false }
    /// TPGS: target port group support (ALUA): 0 none, 1 implicit, 2 explicit, 3 both.
    public var tpgs: UInt8 { ((bytes.byte(at: 5) ?? 0) >> 4) & 0x03 }
    /// 3PC: third-party copy.
    public var thirdPartyCopy: Bool { bytes.bit(3, of: 5) ?? false }
    /// PROTECT: protection information supported.
    public var protect: Bool { bytes.bit(0, of: 5) ?? false }
    /// ENCSERV: embedded enclosure services.
    public var enclosureServices: Bool { bytes.bit(6, of: 6) ?? false }
    /// MULTIP: multiple ports.
    public var multiPort: Bool { bytes.bit(4, of: 6) ?? false }
    /// ADDR16 (obsolete, parallel SCSI).
    public var addr16: Bool { bytes.bit(0, of: 6) ?? false }
    /// WBUS16 (obsolete, parallel SCSI).
    public var wbus16: Bool { bytes.bit(5, of: 7) ?? false }
    /// SYNC (obsolete, parallel SCSI).
    public var sync: Bool { bytes.bit(4, of: 7) ?? false }
    /// CMDQUE: command queuing.
    public var commandQueuing: Bool { bytes.bit(1, of: 7) ?? false }

    /// T10 VENDOR IDENTIFICATION, leading and trailing spaces removed (as FreeBSD's
    /// `cam_strvis` shows it).
    public var vendor: String { bytes.asciiField(8, 16, trimLeading: true) }
    /// PRODUCT IDENTIFICATION, trimmed as `vendor`.
    public var product: String { bytes.asciiField(16, 32, trimLeading: true) }
    /// PRODUCT REVISION LEVEL, trimmed as `vendor`.
    public var revision: String { bytes.asciiField(32, 36, trimLeading: true) }
    /// The drive serial number some vendors put in bytes 36-43 (vendor specific).
    public var vendorSpecific: [UInt8] { Array(bytes.clamped(36, 56)) }

    /// VERSION DESCRIPTORs (bytes 58-73), zeros left out.
    public var versionDescriptors: [UInt16] {
        stride(from: 58, to: 74, by: 2).compactMap { bytes.be16(at: $0) }.filter { $0 != 0 }
    }

    /// The VERSION field as the standard it names ("SPC-3").
    public var versionName: String {
        switch version {
        case 0x00: return "no standard"
        case 0x01, 0x81: return "SCSI-1"
        case 0x02, 0x80, 0x82: return "SCSI-2"
        case 0x03, 0x83: return "SPC"
        case 0x04: return "SPC-2"
        case 0x05: return "SPC-3"
        case 0x06: return "SPC-4"
        case 0x07: return "SPC-5"
        default: return "version 0x" + hexByte(version)
        }
    }

    /// The SCSI revision camcontrol prints: "SCSI-2", "SPC-3 SCSI", ...
    public var scsiRevisionText: String {
        switch version {
        case 0x00: return "SCSI"
        case 0x01, 0x81: return "SCSI-1 device"
        case 0x02, 0x80, 0x82: return "SCSI-2 device"
        case 0x03, 0x83: return "SCSI-3 device"
        default: return versionName + " SCSI device"
        }
    }

    /// camcontrol's "<VENDOR PRODUCT REV>" (each field trimmed, as `camcontrol devlist`).
    public var identification: String {
        "<" + [vendor, product, revision].filter { !$0.isEmpty }.joined(separator: " ") + ">"
    }
}

/// Builds standard INQUIRY data, as an emulated device returns it.
extension StandardInquiry {
    /// 96 bytes of standard INQUIRY data for a device of `type`: SPC-5 (version 7),
    /// response format 2, HISUP and CMDQUE set, fields padded with spaces.
    public static func encode(
        type: PeripheralDeviceType = .directAccess, qualifier: PeripheralQualifier = .connected,
        removable: Bool = false, version: UInt8 = 0x07, vendor: String, product: String,
        revision: String, protect: Bool = false, thirdPartyCopy: Bool = false,
        versionDescriptors: [UInt16] = []
    ) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: 96)
        b[0] = (qualifier.rawValue & 0x07) << 5 | type.rawValue
        b[1] = removable ? 0x80 : 0
        b[2] = version
        b[3] = 0x10 | 0x02
        b[4] = UInt8(b.count - 5)
        b[5] = (thirdPartyCopy ? 0x08 : 0) | (protect ? 0x01 : 0)
        b[7] = 0x02
        func put(_ s: String, _ range: Range<Int>) { b.replaceSubrange(range, with: paddedASCII(s, range.count)) }
        put(vendor, 8..<16)
        put(product, 16..<32)
        put(revision, 32..<36)
        for (i, d) in versionDescriptors.prefix(8).enumerated() {
            b[58 + 2 * i] = UInt8(d >> 8)
            b[59 + 2 * i] = UInt8(truncatingIfNeeded: d)
        }
        return b
    }
}
