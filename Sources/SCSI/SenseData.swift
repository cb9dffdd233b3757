/// Decoded sense data, fixed (0x70/0x71) or descriptor (0x72/0x73) format (SPC-5 4.4;
/// FreeBSD's `scsi_sense_data` with `scsi_extract_sense_len` and friends).
///
/// Decoding never traps: a truncated or garbage buffer yields whatever fields can be read,
/// and nil (or false) for the rest. Fixed-format fields past the ADDITIONAL SENSE LENGTH
/// are not read, as SPC says they are not valid.
public struct SenseData: Sendable, Equatable {
    /// The raw bytes as given (never more than 252, the most SPC allows).
    public let bytes: [UInt8]

    /// The largest sense data SPC-5 allows (REQUEST SENSE allocation length 252).
    public static let maximumLength = 252

    public init<C: Collection>(_ raw: C) where C.Element == UInt8 {
        self.bytes = Array(raw.prefix(SenseData.maximumLength))
    }

    public init(_ raw: UnsafeRawBufferPointer) {
        self.bytes = Array(raw.prefix(SenseData.maximumLength))
    }

    // MARK: Header

    /// The response code (byte 0 bits 0-6): 0x70/0x71 fixed, 0x72/0x73 descriptor.
    public var responseCode: UInt8? { bytes.first.map { $0 & 0x7F } }

    /// True for descriptor-format sense (0x72/0x73).
    public var isDescriptorFormat: Bool { responseCode == 0x72 || responseCode == 0x73 }

    /// True for fixed-format sense (0x70/0x71).
    public var isFixedFormat: Bool { responseCode == 0x70 || responseCode == 0x71 }

    /// True for deferred errors (0x71/0x73): the error belongs to an earlier command.
    public var isDeferred: Bool { responseCode == 0x71 || responseCode == 0x73 }

    /// True when the response code is one SPC defines (0x70-0x73); anything else is
    /// vendor specific or garbage, and only `responseCode` is decoded.
    public var isRecognized: Bool { isFixedFormat || isDescriptorFormat }

    /// The sense key, when the buffer is long enough to hold it and the format is known.
    public var senseKey: SenseKey? {
        switch responseCode {
        case 0x70, 0x71: return bytes.byte(at: 2).map { SenseKey(rawValue: $0 & 0x0F)! }
        case 0x72, 0x73: return bytes.byte(at: 1).map { SenseKey(rawValue: $0 & 0x0F)! }
        default: return nil
        }
    }

    /// The additional sense code.
    public var asc: UInt8? {
        switch responseCode {
        case 0x70, 0x71: return fixedHasByte(12) ? bytes.byte(at: 12) : nil
        case 0x72, 0x73: return bytes.byte(at: 2)
        default: return nil
        }
    }

    /// The additional sense code qualifier.
    public var ascq: UInt8? {
        switch responseCode {
        case 0x70, 0x71: return fixedHasByte(13) ? bytes.byte(at: 13) : nil
        case 0x72, 0x73: return bytes.byte(at: 3)
        default: return nil
        }
    }

    /// ASC and ASCQ together, with their names; nil unless both are present.
    public var additionalSenseCode: AdditionalSenseCode? {
        guard let a = asc, let q = ascq else { return nil }
        return AdditionalSenseCode(asc: a, ascq: q)
    }

    /// The ADDITIONAL SENSE LENGTH (byte 7): how many bytes follow byte 7.
    public var additionalLength: Int? { bytes.byte(at: 7).map(Int.init) }

    /// The length the sense data claims (8 + additional length), or the bytes present when
    /// the header is cut short.
    public var claimedLength: Int { additionalLength.map { 8 + $0 } ?? bytes.count }

    /// True when the buffer holds fewer bytes than the sense data says it has.
    public var isTruncated: Bool { bytes.count < claimedLength }

    /// SDAT_OVFL: the device had more sense data than fit.
    public var senseDataOverflow: Bool {
        switch responseCode {
        case 0x70, 0x71: return bytes.bit(4, of: 2) ?? false
        case 0x72, 0x73: return bytes.bit(7, of: 4) ?? false
        default: return false
        }
    }

    // MARK: Fields

    /// The INFORMATION field: fixed bytes 3-6 when the VALID bit is set; descriptor type
    /// 0x00 (or 0x0D) with its VALID bit. For READ/WRITE errors it is usually the LBA.
    public var information: UInt64? {
        switch responseCode {
        case 0x70, 0x71:
            guard bytes.bit(7, of: 0) == true else { return nil }
            return bytes.be32(at: 3).map(UInt64.init)
        case 0x72, 0x73:
            if let d = descriptor(type: 0x00), d.bytes.bit(7, of: 2) == true, let v = d.bytes.be64(at: 4) {
                return v
            }
            if let d = descriptor(type: 0x0D), d.bytes.bit(7, of: 2) == true, let v = d.bytes.be64(at: 8) {
                return v
            }
            return nil
        default:
            return nil
        }
    }

    /// The COMMAND-SPECIFIC INFORMATION field: fixed bytes 8-11; descriptor type 0x01 (or 0x0D).
    public var commandSpecificInformation: UInt64? {
        switch responseCode {
        case 0x70, 0x71:
            return fixedHasByte(11) ? bytes.be32(at: 8).map(UInt64.init) : nil
        case 0x72, 0x73:
            if let v = descriptor(type: 0x01)?.bytes.be64(at: 4) { return v }
            return descriptor(type: 0x0D)?.bytes.be64(at: 16)
        default:
            return nil
        }
    }

    /// The FIELD REPLACEABLE UNIT CODE: fixed byte 14; descriptor type 0x03 (or 0x0D).
    public var fieldReplaceableUnit: UInt8? {
        switch responseCode {
        case 0x70, 0x71:
            return fixedHasByte(14) ? bytes.byte(at: 14) : nil
        case 0x72, 0x73:
            if let v = descriptor(type: 0x03)?.bytes.byte(at: 3) { return v }
            return descriptor(type: 0x0D)?.bytes.byte(at: 7)
        default:
            return nil
        }
    }

    /// The three SENSE KEY SPECIFIC bytes when their SKSV bit is set: fixed bytes 15-17;
    /// descriptor type 0x02 (or 0x0D) bytes 4-6.
    public var senseKeySpecificBytes: (UInt8, UInt8, UInt8)? {
        let source: [UInt8]
        let at: Int
        switch responseCode {
        case 0x70, 0x71:
            guard fixedHasByte(17) else { return nil }
            source = bytes
            at = 15
        case 0x72, 0x73:
            if let d = descriptor(type: 0x02) {
                source = d.bytes
            } else if let d = descriptor(type: 0x0D) {
                source = d.bytes
            } else {
                return nil
            }
            at = 4
        default:
            return nil
        }
        guard let b0 = source.byte(at: at), let b1 = source.byte(at: at + 1),
              let b2 = source.byte(at: at + 2), b0 & 0x80 != 0 else { return nil }
        return (b0, b1, b2)
    }

    /// The sense-key-specific field, interpreted as the sense key says (SPC-5 4.4.2.4).
    public var senseKeySpecific: SenseKeySpecific? {
        guard let sks = senseKeySpecificBytes, let key = senseKey else { return nil }
        return SenseKeySpecific(key: key, bytes: sks)
    }

    /// FILEMARK: fixed byte 2 bit 7; descriptor: stream commands descriptor (0x04).
    public var filemark: Bool {
        switch responseCode {
        case 0x70, 0x71: return bytes.bit(7, of: 2) ?? false
        case 0x72, 0x73: return descriptor(type: 0x04)?.bytes.bit(7, of: 3) ?? false
        default: return false
        }
    }

    /// EOM (end of medium): fixed byte 2 bit 6; descriptor: stream commands descriptor (0x04).
    public var endOfMedium: Bool {
        switch responseCode {
        case 0x70, 0x71: return bytes.bit(6, of: 2) ?? false
        case 0x72, 0x73: return descriptor(type: 0x04)?.bytes.bit(6, of: 3) ?? false
        default: return false
        }
    }

    /// ILI (incorrect length indicator): fixed byte 2 bit 5; descriptor: stream (0x04),
    /// block (0x05) or direct-access block device (0x0D) descriptor.
    public var incorrectLength: Bool {
        switch responseCode {
        case 0x70, 0x71:
            return bytes.bit(5, of: 2) ?? false
        case 0x72, 0x73:
            if descriptor(type: 0x04)?.bytes.bit(5, of: 3) == true { return true }
            if descriptor(type: 0x05)?.bytes.bit(5, of: 3) == true { return true }
            return descriptor(type: 0x0D)?.bytes.bit(5, of: 2) ?? false
        default:
            return false
        }
    }

    /// The additional sense bytes of fixed format past byte 17 (vendor or command set data).
    public var additionalSenseBytes: [UInt8] {
        guard isFixedFormat else { return [] }
        return Array(bytes.clamped(18, claimedLength))
    }

    // MARK: Descriptors

    /// The sense data descriptors of descriptor-format sense, in order. A descriptor cut
    /// short by the buffer or by the additional length is returned with the bytes that exist;
    /// iteration stops there. Fixed format has none.
    public var descriptors: [SenseDescriptor] {
        guard isDescriptorFormat else { return [] }
        var result: [SenseDescriptor] = []
        let end = Swift.min(bytes.count, claimedLength)
        var i = 8
        while i + 2 <= end {
            let length = 2 + Int(bytes[i + 1])
            let stop = Swift.min(i + length, end)
            result.append(SenseDescriptor(bytes: Array(bytes[i..<stop])))
            i += length
        }
        return result
    }

    /// The first descriptor of `type`, if any.
    public func descriptor(type: UInt8) -> SenseDescriptor? {
        descriptors.first { $0.type == type }
    }

    /// The progress indication: the sense-key-specific progress of NOT READY / NO SENSE
    /// sense data, or a progress indication descriptor (0x0A), as a fraction of 65536.
    public var progress: UInt16? {
        if case .progressIndication(let p)? = senseKeySpecific { return p }
        if let d = descriptor(type: 0x0A), let p = d.bytes.be16(at: 6) { return p }
        return nil
    }

    // MARK: Private

    /// Fixed format: byte 7 gives the additional length; bytes past 7 + length are not valid.
    func fixedHasByte(_ i: Int) -> Bool {
        guard i < bytes.count else { return false }
        guard let addl = bytes.byte(at: 7) else { return false }
        return i < 8 + Int(addl)
    }

    @inline(__always)
    func byte(_ i: Int) -> UInt8? { bytes.byte(at: i) }
}

/// One sense data descriptor (SPC-5 4.4.2.1): type, additional length, and its bytes
/// (including the two header bytes), as found in descriptor-format sense.
public struct SenseDescriptor: Sendable, Equatable {
    /// The whole descriptor, header included; shorter than `2 + additionalLength` when the
    /// sense data was cut short.
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }

    /// DESCRIPTOR TYPE (byte 0).
    public var type: UInt8 { bytes.byte(at: 0) ?? 0 }

    /// ADDITIONAL LENGTH (byte 1).
    public var additionalLength: Int { Int(bytes.byte(at: 1) ?? 0) }

    /// True when all `2 + additionalLength` bytes are present.
    public var isComplete: Bool { bytes.count >= 2 + additionalLength }

    /// The SPC name of the descriptor type.
    public var typeName: String {
        switch type {
        case 0x00: return "Information"
        case 0x01: return "Command specific information"
        case 0x02: return "Sense key specific"
        case 0x03: return "Field replaceable unit"
        case 0x04: return "Stream commands"
        case 0x05: return "Block commands"
        case 0x06: return "OSD object identification"
        case 0x07: return "OSD response integrity check value"
        case 0x08: return "OSD attribute identification"
        case 0x09: return "ATA status return"
        case 0x0A: return "Another progress indication"
        case 0x0B: return "User data segment referral"
        case 0x0C: return "Forwarded sense data"
        case 0x0D: return "Direct-access block device"
        case 0x0E: return "Device designation"
        case 0x0F: return "Microcode activation"
        case 0x80...0xFF: return "Vendor specific"
        default: return "Reserved"
        }
    }

    /// For a forwarded sense data descriptor (0x0C): the sense data it carries.
    public var forwardedSense: SenseData? {
        guard type == 0x0C, bytes.count > 4 else { return nil }
        return SenseData(bytes[4...])
    }
}

/// The SENSE KEY SPECIFIC field, interpreted by sense key (SPC-5 4.4.2.4).
public enum SenseKeySpecific: Sendable, Equatable {
    /// ILLEGAL REQUEST: the byte (and bit) in the CDB (`inCDB`) or parameter data that was bad.
    case fieldPointer(inCDB: Bool, byte: UInt16, bit: UInt8?)
    /// RECOVERED ERROR, HARDWARE ERROR, MEDIUM ERROR: retries the device made.
    case actualRetryCount(UInt16)
    /// NOT READY, NO SENSE: how far an operation (format, sanitize, self-test) has got,
    /// as a fraction of 65536.
    case progressIndication(UInt16)
    /// COPY ABORTED: the byte (and bit) of the segment descriptor or parameter list at fault.
    case segmentPointer(inSegmentDescriptor: Bool, byte: UInt16, bit: UInt8?)
    /// UNIT ATTENTION: the unit attention queue overflowed.
    case unitAttentionConditionQueueOverflow(Bool)
    /// Any other sense key: the three bytes as they are.
    case other(UInt8, UInt8, UInt8)

    /// Interprets the three bytes (the first having its SKSV bit set) for `key`.
    public init(key: SenseKey, bytes: (UInt8, UInt8, UInt8)) {
        let (b0, b1, b2) = bytes
        let value = UInt16(b1) << 8 | UInt16(b2)
        let bit: UInt8? = b0 & 0x08 != 0 ? b0 & 0x07 : nil
        switch key {
        case .illegalRequest:
            self = .fieldPointer(inCDB: b0 & 0x40 != 0, byte: value, bit: bit)
        case .recoveredError, .hardwareError, .mediumError:
            self = .actualRetryCount(value)
        case .notReady, .noSense:
            self = .progressIndication(value)
        case .copyAborted:
            self = .segmentPointer(inSegmentDescriptor: b0 & 0x20 != 0, byte: value, bit: bit)
        case .unitAttention:
            self = .unitAttentionConditionQueueOverflow(b0 & 0x01 != 0)
        default:
            self = .other(b0, b1, b2)
        }
    }

    /// The three bytes with SKSV set, as a device returns them.
    public var bytes: (UInt8, UInt8, UInt8) {
        func split(_ v: UInt16) -> (UInt8, UInt8) { (UInt8(v >> 8), UInt8(truncatingIfNeeded: v)) }
        switch self {
        case .fieldPointer(let inCDB, let byte, let bit):
            let (h, l) = split(byte)
            var b0: UInt8 = 0x80 | (inCDB ? 0x40 : 0)
            if let bit { b0 |= 0x08 | (bit & 0x07) }
            return (b0, h, l)
        case .actualRetryCount(let v), .progressIndication(let v):
            let (h, l) = split(v)
            return (0x80, h, l)
        case .segmentPointer(let sd, let byte, let bit):
            let (h, l) = split(byte)
            var b0: UInt8 = 0x80 | (sd ? 0x20 : 0)
            if let bit { b0 |= 0x08 | (bit & 0x07) }
            return (b0, h, l)
        case .unitAttentionConditionQueueOverflow(let overflow):
            return (0x80 | (overflow ? 1 : 0), 0, 0)
        case .other(let b0, let b1, let b2):
            return (b0 | 0x80, b1, b2)
        }
    }

    /// camcontrol's line for this field ("Command byte 2 bit 7 is invalid",
    /// "Actual Retry Count: 3", "Progress: 50% (32768/65536) complete").
    public var text: String {
        switch self {
        case .fieldPointer(let inCDB, let byte, let bit):
            return (inCDB ? "Command" : "Data") + " byte \(byte) " + (bit.map { "bit \($0) " } ?? "") + "is invalid"
        case .actualRetryCount(let n):
            return "Actual Retry Count: \(n)"
        case .progressIndication(let p):
            return "Progress: \(Int(p) * 100 / 65536)% (\(p)/65536) complete"
        case .segmentPointer(let sd, let byte, let bit):
            return (sd ? "Segment descriptor" : "Parameter list") + " byte \(byte) "
                + (bit.map { "bit \($0) " } ?? "") + "is invalid"
        case .unitAttentionConditionQueueOverflow(let o):
            return o ? "Unit attention condition queue overflow" : "No unit attention condition queue overflow"
        case .other(let b0, let b1, let b2):
            return "Sense key specific: " + hexString([b0, b1, b2])
        }
    }
}
