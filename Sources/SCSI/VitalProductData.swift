// Vital product data pages (SPC-5 7.7, SBC-4 6.6): INQUIRY with EVPD set. Every page starts
// with the same 4-byte header; the parsers read what arrived and stop at the end of the page
// or of the buffer, whichever comes first.

/// The common VPD page header: device type, page code, page length (SPC-5 7.7.1).
public struct VPDHeader: Sendable, Equatable {
    public var peripheralQualifier: PeripheralQualifier
    public var peripheralDeviceType: PeripheralDeviceType
    public var pageCode: UInt8
    /// PAGE LENGTH: the bytes after the header the device has.
    public var pageLength: Int

    /// Nil when fewer than 4 bytes arrived.
    public init?(_ b: [UInt8]) {
        guard b.count >= 4 else { return nil }
        peripheralQualifier = PeripheralQualifier(bits: b[0] >> 5)
        peripheralDeviceType = PeripheralDeviceType(rawValue: b[0])
        pageCode = b[1]
        pageLength = Int(b[2]) << 8 | Int(b[3])
    }

    /// The page body: bytes 4 up to the page length, clamped to what arrived.
    func body(_ b: [UInt8]) -> ArraySlice<UInt8> { b.clamped(4, 4 + pageLength) }
}

/// Names of the VPD pages a block device may have.
public enum VPDPage {
    public static let supportedPages: UInt8 = 0x00
    public static let unitSerialNumber: UInt8 = 0x80
    public static let deviceIdentification: UInt8 = 0x83
    public static let extendedInquiry: UInt8 = 0x86
    public static let modePagePolicy: UInt8 = 0x87
    public static let scsiPorts: UInt8 = 0x88
    public static let ataInformation: UInt8 = 0x89
    public static let powerCondition: UInt8 = 0x8A
    public static let thirdPartyCopy: UInt8 = 0x8F
    public static let blockLimits: UInt8 = 0xB0
    public static let blockDeviceCharacteristics: UInt8 = 0xB1
    public static let logicalBlockProvisioning: UInt8 = 0xB2
    public static let referrals: UInt8 = 0xB3
    public static let zonedBlockDeviceCharacteristics: UInt8 = 0xB6

    /// The page's SPC/SBC name, or nil.
    public static func name(_ page: UInt8) -> String? {
        switch page {
        case 0x00: return "Supported VPD Pages"
        case 0x80: return "Unit Serial Number"
        case 0x83: return "Device Identification"
        case 0x84: return "Software Interface Identification"
        case 0x85: return "Management Network Addresses"
        case 0x86: return "Extended INQUIRY Data"
        case 0x87: return "Mode Page Policy"
        case 0x88: return "SCSI Ports"
        case 0x89: return "ATA Information"
        case 0x8A: return "Power Condition"
        case 0x8B: return "Device Constituents"
        case 0x8C: return "CFA Profile Information"
        case 0x8D: return "Power Consumption"
        case 0x8F: return "Third-party Copy"
        case 0x90: return "Protocol Specific Logical Unit Information"
        case 0x91: return "Protocol Specific Port Information"
        case 0x92: return "SCSI Feature Sets"
        case 0xB0: return "Block Limits"
        case 0xB1: return "Block Device Characteristics"
        case 0xB2: return "Logical Block Provisioning"
        case 0xB3: return "Referrals"
        case 0xB4: return "Supported Block Lengths and Protection Types"
        case 0xB5: return "Block Device Characteristics Extension"
        case 0xB6: return "Zoned Block Device Characteristics"
        case 0xB7: return "Block Limits Extension"
        case 0xB8: return "Format Presets"
        case 0xB9: return "Concurrent Positioning Ranges"
        default: return nil
        }
    }
}

/// VPD page 0x00, Supported VPD Pages (SPC-5 7.7.16).
public struct SupportedVPDPages: Sendable, Equatable {
    public var header: VPDHeader
    /// The page codes listed, in the device's order.
    public var pages: [UInt8]

    /// Nil when the header is short or the page code is not 0x00.
    public init?<C: Collection>(_ data: C) where C.Element == UInt8 {
        let b = Array(data)
        guard let h = VPDHeader(b), h.pageCode == 0x00 else { return nil }
        header = h
        pages = Array(h.body(b))
    }
}

/// VPD page 0x80, Unit Serial Number (SPC-5 7.7.18).
public struct UnitSerialNumber: Sendable, Equatable {
    public var header: VPDHeader
    /// PRODUCT SERIAL NUMBER as sent (devices right-align it with leading spaces).
    public var rawSerialNumber: String
    /// The serial number with leading and trailing spaces removed.
    public var serialNumber: String

    public init?<C: Collection>(_ data: C) where C.Element == UInt8 {
        let b = Array(data)
        guard let h = VPDHeader(b), h.pageCode == 0x80 else { return nil }
        header = h
        let end = 4 + h.pageLength
        rawSerialNumber = String(decoding: b.clamped(4, end).map { $0 >= 0x20 && $0 < 0x7F ? $0 : 0x2E }, as: UTF8.self)
        serialNumber = b.asciiField(4, end, trimLeading: true)
    }
}

/// One designation descriptor of the Device Identification page (SPC-5 7.7.6.1).
public struct Designator: Sendable, Equatable, CustomStringConvertible {
    /// PROTOCOL IDENTIFIER (meaningful when `protocolIdentifierValid`): 5 is iSCSI, 6 SAS.
    public var protocolIdentifier: UInt8
    /// CODE SET: 1 binary, 2 ASCII, 3 UTF-8.
    public var codeSet: UInt8
    /// PIV: the protocol identifier is valid (only for target port or target device association).
    public var protocolIdentifierValid: Bool
    /// ASSOCIATION: 0 logical unit, 1 target port, 2 target device.
    public var association: UInt8
    /// DESIGNATOR TYPE (see `typeName`).
    public var designatorType: UInt8
    /// The DESIGNATOR bytes (fewer than its length says when the page was cut short).
    public var identifier: [UInt8]

    public init(
        protocolIdentifier: UInt8 = 0, codeSet: UInt8, protocolIdentifierValid: Bool = false,
        association: UInt8 = 0, designatorType: UInt8, identifier: [UInt8]
    ) {
        self.protocolIdentifier = protocolIdentifier
        self.codeSet = codeSet
        self.protocolIdentifierValid = protocolIdentifierValid
        self.association = association
        self.designatorType = designatorType
        self.identifier = identifier
    }

    public enum Kind {
        public static let vendorSpecific: UInt8 = 0
        public static let t10VendorID: UInt8 = 1
        public static let eui64: UInt8 = 2
        public static let naa: UInt8 = 3
        public static let relativeTargetPort: UInt8 = 4
        public static let targetPortGroup: UInt8 = 5
        public static let logicalUnitGroup: UInt8 = 6
        public static let md5LogicalUnitIdentifier: UInt8 = 7
        public static let scsiNameString: UInt8 = 8
        public static let protocolSpecificPortIdentifier: UInt8 = 9
        public static let uuid: UInt8 = 0xA
    }

    public var typeName: String {
        switch designatorType {
        case 0: return "vendor specific"
        case 1: return "T10 vendor ID"
        case 2: return "EUI-64"
        case 3: return "NAA"
        case 4: return "relative target port"
        case 5: return "target port group"
        case 6: return "logical unit group"
        case 7: return "MD5 logical unit identifier"
        case 8: return "SCSI name string"
        case 9: return "protocol specific port identifier"
        case 0xA: return "UUID"
        default: return "reserved"
        }
    }

    public var codeSetName: String {
        switch codeSet {
        case 1: return "binary"
        case 2: return "ASCII"
        case 3: return "UTF-8"
        default: return "reserved"
        }
    }

    public var associationName: String {
        switch association {
        case 0: return "logical unit"
        case 1: return "target port"
        case 2: return "target device"
        default: return "reserved"
        }
    }

    /// The identifier as text, for the ASCII and UTF-8 code sets (NULs and trailing spaces
    /// removed); nil for binary.
    public var text: String? {
        guard codeSet == 2 || codeSet == 3 else { return nil }
        var s = identifier[...]
        while let last = s.last, last == 0 || last == 0x20 { s = s.dropLast() }
        return String(decoding: s, as: UTF8.self)
    }

    /// The NAA field (first nibble) of an NAA designator: 2 IEEE extended, 3 locally
    /// assigned, 5 IEEE registered, 6 IEEE registered extended.
    public var naa: UInt8? {
        guard designatorType == 3, let f = identifier.first else { return nil }
        return f >> 4
    }

    /// RELATIVE TARGET PORT IDENTIFIER of a type 4 designator.
    public var relativeTargetPort: UInt16? {
        guard designatorType == 4 else { return nil }
        return identifier.be16(at: 2)
    }

    /// TARGET PORT GROUP of a type 5 designator.
    public var targetPortGroup: UInt16? {
        guard designatorType == 5 else { return nil }
        return identifier.be16(at: 2)
    }

    /// LOGICAL UNIT GROUP of a type 6 designator.
    public var logicalUnitGroup: UInt16? {
        guard designatorType == 6 else { return nil }
        return identifier.be16(at: 2)
    }

    /// A one-line form in the notation Linux and sg3_utils use: "naa.6000...", "eui.0123...",
    /// "t10.VENDOR ...", "iqn.2026-11.test:cap,t,0x1", "relative target port 1".
    public var description: String {
        switch designatorType {
        case 1: return "t10." + (text ?? hexString(identifier, separator: ""))
        case 2: return "eui." + hexString(identifier, separator: "")
        case 3: return "naa." + hexString(identifier, separator: "")
        case 4: return "relative target port " + (relativeTargetPort.map { String($0) } ?? "?")
        case 5: return "target port group " + (targetPortGroup.map { String($0) } ?? "?")
        case 6: return "logical unit group " + (logicalUnitGroup.map { String($0) } ?? "?")
        case 8: return text ?? hexString(identifier, separator: "")
        case 0xA where identifier.count >= 18:
            // UUID designator: 2 header bytes, then the 16-byte RFC 4122 UUID.
            let u = Array(identifier[2..<18])
            return "uuid." + [0..<4, 4..<6, 6..<8, 8..<10, 10..<16].map { hexString(u[$0], separator: "") }
                .joined(separator: "-")
        default: return typeName + " " + (text ?? hexString(identifier, separator: ""))
        }
    }
}

/// VPD page 0x83, Device Identification (SPC-5 7.7.6): the designators in page order.
public struct DeviceIdentification: Sendable, Equatable {
    public var header: VPDHeader
    public var designators: [Designator]

    public init?<C: Collection>(_ data: C) where C.Element == UInt8 {
        let b = Array(data)
        guard let h = VPDHeader(b), h.pageCode == 0x83 else { return nil }
        header = h
        designators = []
        let end = Swift.min(b.count, 4 + h.pageLength)
        var i = 4
        while i + 4 <= end {
            let length = Int(b[i + 3])
            designators.append(Designator(
                protocolIdentifier: b[i] >> 4,
                codeSet: b[i] & 0x0F,
                protocolIdentifierValid: b[i + 1] & 0x80 != 0,
                association: (b[i + 1] >> 4) & 0x03,
                designatorType: b[i + 1] & 0x0F,
                identifier: Array(b.clamped(i + 4, i + 4 + length))))
            i += 4 + length
        }
    }

    /// The designators for the logical unit itself (association 0).
    public var logicalUnitDesignators: [Designator] { designators.filter { $0.association == 0 } }

    /// The best name for the logical unit, in the order SPC recommends (NAA, EUI-64, UUID,
    /// SCSI name string, T10 vendor ID), or nil.
    public var preferredLogicalUnitDesignator: Designator? {
        let lu = logicalUnitDesignators
        for t: UInt8 in [3, 2, 0xA, 8, 1] {
            if let d = lu.first(where: { $0.designatorType == t }) { return d }
        }
        return lu.first
    }
}

/// VPD page 0xB0, Block Limits (SBC-4 6.6.4). Fields past the end of a short page (SBC-2
/// devices send 16 bytes) are nil.
public struct BlockLimits: Sendable, Equatable {
    public var header: VPDHeader
    let page: [UInt8]

    public init?<C: Collection>(_ data: C) where C.Element == UInt8 {
        let b = Array(data)
        guard let h = VPDHeader(b), h.pageCode == 0xB0 else { return nil }
        header = h
        page = Array(b.clamped(0, 4 + h.pageLength))
    }

    /// WSNZ: WRITE SAME with a zero length is not supported.
    public var writeSameNonZero: Bool? { page.bit(0, of: 4) }
    /// MAXIMUM COMPARE AND WRITE LENGTH, in blocks.
    public var maximumCompareAndWriteLength: UInt8? { page.byte(at: 5) }
    /// OPTIMAL TRANSFER LENGTH GRANULARITY, in blocks.
    public var optimalTransferLengthGranularity: UInt16? { page.be16(at: 6) }
    /// MAXIMUM TRANSFER LENGTH, in blocks (0: no limit reported).
    public var maximumTransferLength: UInt32? { page.be32(at: 8) }
    /// OPTIMAL TRANSFER LENGTH, in blocks.
    public var optimalTransferLength: UInt32? { page.be32(at: 12) }
    /// MAXIMUM PREFETCH LENGTH, in blocks.
    public var maximumPrefetchLength: UInt32? { page.be32(at: 16) }
    /// MAXIMUM UNMAP LBA COUNT (0: UNMAP not supported; 0xFFFFFFFF: no limit).
    public var maximumUnmapLBACount: UInt32? { page.be32(at: 20) }
    /// MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT.
    public var maximumUnmapBlockDescriptorCount: UInt32? { page.be32(at: 24) }
    /// OPTIMAL UNMAP GRANULARITY, in blocks.
    public var optimalUnmapGranularity: UInt32? { page.be32(at: 28) }
    /// UGAVALID: the unmap granularity alignment is valid.
    public var unmapGranularityAlignmentValid: Bool? { page.bit(7, of: 32) }
    /// UNMAP GRANULARITY ALIGNMENT.
    public var unmapGranularityAlignment: UInt32? { page.be32(at: 32).map { $0 & 0x7FFF_FFFF } }
    /// MAXIMUM WRITE SAME LENGTH, in blocks.
    public var maximumWriteSameLength: UInt64? { page.be64(at: 36) }
    /// MAXIMUM ATOMIC TRANSFER LENGTH, in blocks.
    public var maximumAtomicTransferLength: UInt32? { page.be32(at: 44) }
    /// ATOMIC ALIGNMENT.
    public var atomicAlignment: UInt32? { page.be32(at: 48) }
    /// ATOMIC TRANSFER LENGTH GRANULARITY.
    public var atomicTransferLengthGranularity: UInt32? { page.be32(at: 52) }
    /// MAXIMUM ATOMIC TRANSFER LENGTH WITH ATOMIC BOUNDARY.
    public var maximumAtomicTransferLengthWithAtomicBoundary: UInt32? { page.be32(at: 56) }
    /// MAXIMUM ATOMIC BOUNDARY SIZE.
    public var maximumAtomicBoundarySize: UInt32? { page.be32(at: 60) }
}

/// VPD page 0xB1, Block Device Characteristics (SBC-4 6.6.5).
public struct BlockDeviceCharacteristics: Sendable, Equatable {
    public var header: VPDHeader
    /// MEDIUM ROTATION RATE: 0 not reported, 1 non-rotating (solid state), else RPM.
    public var mediumRotationRate: UInt16?
    /// NOMINAL FORM FACTOR: 0 not reported, 1 5.25", 2 3.5", 3 2.5", 4 1.8", 5 less than 1.8".
    public var nominalFormFactor: UInt8?

    public init?<C: Collection>(_ data: C) where C.Element == UInt8 {
        let b = Array(data)
        guard let h = VPDHeader(b), h.pageCode == 0xB1 else { return nil }
        header = h
        let page = Array(b.clamped(0, 4 + h.pageLength))
        mediumRotationRate = page.be16(at: 4)
        nominalFormFactor = page.byte(at: 7).map { $0 & 0x0F }
    }
}

/// VPD page 0xB2, Logical Block Provisioning (SBC-4 6.6.6).
public struct LogicalBlockProvisioning: Sendable, Equatable {
    public var header: VPDHeader
    public var thresholdExponent: UInt8
    /// LBPU: UNMAP supported.
    public var unmapSupported: Bool
    /// LBPWS: WRITE SAME(16) with UNMAP supported.
    public var writeSame16UnmapSupported: Bool
    /// LBPWS10: WRITE SAME(10) with UNMAP supported.
    public var writeSame10UnmapSupported: Bool
    /// LBPRZ (3 bits in SBC-4): nonzero when unmapped blocks read back as zeroes.
    public var readZeroes: UInt8
    /// ANC_SUP: anchored LBAs supported.
    public var anchorSupported: Bool
    /// DP: a provisioning group descriptor follows.
    public var descriptorPresent: Bool
    /// PROVISIONING TYPE: 0 full, 1 resource provisioned, 2 thin.
    public var provisioningType: UInt8

    public init?<C: Collection>(_ data: C) where C.Element == UInt8 {
        let b = Array(data)
        guard let h = VPDHeader(b), h.pageCode == 0xB2 else { return nil }
        header = h
        let page = Array(b.clamped(0, 4 + h.pageLength))
        thresholdExponent = page.byte(at: 4) ?? 0
        let f = page.byte(at: 5) ?? 0
        unmapSupported = f & 0x80 != 0
        writeSame16UnmapSupported = f & 0x40 != 0
        writeSame10UnmapSupported = f & 0x20 != 0
        readZeroes = (f >> 2) & 0x07
        anchorSupported = f & 0x02 != 0
        descriptorPresent = f & 0x01 != 0
        provisioningType = (page.byte(at: 6) ?? 0) & 0x07
    }
}
