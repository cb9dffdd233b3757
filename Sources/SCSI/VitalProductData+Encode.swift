// VPD pages as a device returns them (SPC-5 7.7, SBC-4 6.6), for emulated devices and tests.
// Each encoder is the inverse of the parser of the same page in VitalProductData.swift.

extension VPDHeader {
    /// The 4-byte header for page `code` followed by `body` (cut at the 16-bit page length).
    static func page(
        _ code: UInt8, _ body: [UInt8], type: PeripheralDeviceType, qualifier: PeripheralQualifier = .connected
    ) -> [UInt8] {
        let n = Swift.min(body.count, Int(UInt16.max))
        var b: [UInt8] = [(qualifier.rawValue & 0x07) << 5 | type.rawValue, code, UInt8(n >> 8), UInt8(n & 0xFF)]
        b.reserveCapacity(4 + n)
        b += body.prefix(n)
        return b
    }
}

extension SupportedVPDPages {
    /// Page 0x00 listing `pages` (SPC-5 7.7.16; the list should start with 0x00 itself and
    /// be in ascending order).
    public static func encode(_ pages: [UInt8], type: PeripheralDeviceType = .directAccess) -> [UInt8] {
        VPDHeader.page(VPDPage.supportedPages, pages, type: type)
    }
}

extension UnitSerialNumber {
    /// Page 0x80 with PRODUCT SERIAL NUMBER `serialNumber`, as given (SPC-5 7.7.18).
    public static func encode(_ serialNumber: String, type: PeripheralDeviceType = .directAccess) -> [UInt8] {
        VPDHeader.page(VPDPage.unitSerialNumber, Array(serialNumber.utf8), type: type)
    }
}

extension Designator {
    /// An 8-byte NAA designator of the logical unit (binary; NAA 2, 3 or 5 in the top nibble
    /// of `value`; SPC-5 7.7.6.6).
    public static func naa(_ value: UInt64) -> Designator {
        var id = [UInt8](repeating: 0, count: 8)
        id.putBigEndian(value, at: 0, width: 8)
        return Designator(codeSet: 1, designatorType: Kind.naa, identifier: id)
    }

    /// A T10 vendor ID designator of the logical unit (ASCII; SPC-5 7.7.6.4): the vendor
    /// padded to 8 bytes, then the vendor specific identifier SPC recommends, the product
    /// padded to 16 bytes followed by the serial number.
    public static func t10VendorID(vendor: String, product: String, serialNumber: String) -> Designator {
        Designator(codeSet: 2, designatorType: Kind.t10VendorID,
                   identifier: paddedASCII(vendor, 8) + paddedASCII(product, 16) + Array(serialNumber.utf8))
    }

    /// The designation descriptor: its 4-byte header and the identifier (cut at 255 bytes).
    public var bytes: [UInt8] {
        let id = identifier.prefix(255)
        return [(protocolIdentifier & 0x0F) << 4 | (codeSet & 0x0F),
                (protocolIdentifierValid ? 0x80 : 0) | (association & 0x03) << 4 | (designatorType & 0x0F),
                0, UInt8(id.count)] + id
    }
}

extension DeviceIdentification {
    /// Page 0x83 holding `designators` in order (SPC-5 7.7.6).
    public static func encode(_ designators: [Designator], type: PeripheralDeviceType = .directAccess) -> [UInt8] {
        VPDHeader.page(VPDPage.deviceIdentification, designators.flatMap(\.bytes), type: type)
    }
}

extension BlockLimits {
    /// Page 0xB0 in its SBC-4 length (0x3C bytes after the header; SBC-4 6.6.4). Nil
    /// `unmapGranularityAlignment` leaves UGAVALID clear.
    public static func encode(
        writeSameNonZero: Bool = false, maximumCompareAndWriteLength: UInt8 = 0,
        optimalTransferLengthGranularity: UInt16 = 0, maximumTransferLength: UInt32 = 0,
        optimalTransferLength: UInt32 = 0, maximumPrefetchLength: UInt32 = 0,
        maximumUnmapLBACount: UInt32 = 0, maximumUnmapBlockDescriptorCount: UInt32 = 0,
        optimalUnmapGranularity: UInt32 = 0, unmapGranularityAlignment: UInt32? = nil,
        maximumWriteSameLength: UInt64 = 0, type: PeripheralDeviceType = .directAccess
    ) -> [UInt8] {
        // Offsets below are page offsets minus the 4-byte header.
        var p = [UInt8](repeating: 0, count: 0x3C)
        p[0] = writeSameNonZero ? 0x01 : 0
        p[1] = maximumCompareAndWriteLength
        p.putBigEndian(UInt64(optimalTransferLengthGranularity), at: 2, width: 2)
        p.putBigEndian(UInt64(maximumTransferLength), at: 4, width: 4)
        p.putBigEndian(UInt64(optimalTransferLength), at: 8, width: 4)
        p.putBigEndian(UInt64(maximumPrefetchLength), at: 12, width: 4)
        p.putBigEndian(UInt64(maximumUnmapLBACount), at: 16, width: 4)
        p.putBigEndian(UInt64(maximumUnmapBlockDescriptorCount), at: 20, width: 4)
        p.putBigEndian(UInt64(optimalUnmapGranularity), at: 24, width: 4)
        if let a = unmapGranularityAlignment {
            p.putBigEndian(0x8000_0000 | UInt64(a & 0x7FFF_FFFF), at: 28, width: 4)
        }
        p.putBigEndian(maximumWriteSameLength, at: 32, width: 8)
        return VPDHeader.page(VPDPage.blockLimits, p, type: type)
    }
}

extension BlockDeviceCharacteristics {
    /// Page 0xB1 (0x3C bytes after the header; SBC-4 6.6.5). Rotation rate 1 means
    /// non-rotating (solid state).
    public static func encode(
        mediumRotationRate: UInt16 = 0, nominalFormFactor: UInt8 = 0, type: PeripheralDeviceType = .directAccess
    ) -> [UInt8] {
        var p = [UInt8](repeating: 0, count: 0x3C)
        p.putBigEndian(UInt64(mediumRotationRate), at: 0, width: 2)
        p[3] = nominalFormFactor & 0x0F
        return VPDHeader.page(VPDPage.blockDeviceCharacteristics, p, type: type)
    }
}

extension LogicalBlockProvisioning {
    /// Page 0xB2 without a provisioning group descriptor (SBC-4 6.6.6). `provisioningType`
    /// 0 is full, 1 resource, 2 thin provisioning.
    public static func encode(
        thresholdExponent: UInt8 = 0, unmapSupported: Bool = false, writeSame16UnmapSupported: Bool = false,
        writeSame10UnmapSupported: Bool = false, readZeroes: UInt8 = 0, anchorSupported: Bool = false,
        provisioningType: UInt8 = 0, type: PeripheralDeviceType = .directAccess
    ) -> [UInt8] {
        let flags: UInt8 = (unmapSupported ? 0x80 : 0) | (writeSame16UnmapSupported ? 0x40 : 0)
            | (writeSame10UnmapSupported ? 0x20 : 0) | (readZeroes & 0x07) << 2 | (anchorSupported ? 0x02 : 0)
        return VPDHeader.page(VPDPage.logicalBlockProvisioning,
                              [thresholdExponent, flags, provisioningType & 0x07, 0], type: type)
    }
}

/// ASCII `s` cut or space-padded to `width` bytes (T10 strings are left-aligned, space-filled).
func paddedASCII(_ s: String, _ width: Int) -> [UInt8] {
    let u = Array(s.utf8.prefix(width))
    return u + [UInt8](repeating: 0x20, count: width - u.count)
}
