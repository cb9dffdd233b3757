/// The two sense data formats (SPC-5 4.4.2, 4.4.3). A device returns descriptor format when
/// the control mode page's D_SENSE bit is set, or when a field does not fit in fixed format.
public enum SenseFormat: Sendable, Hashable {
    case fixed
    case descriptor
}

/// Builds sense data as a device returns it, in either format (what FreeBSD's CTL does in
/// `ctl_set_sense_data`). For emulated devices, and for tests that need sense bytes.
///
/// `write(_:into:)` allocates nothing, so a SIM can write straight into a CCB's sense buffer.
public struct SenseBuilder: Sendable, Equatable {
    public var key: SenseKey
    public var asc: UInt8
    public var ascq: UInt8
    /// The INFORMATION field (VALID is set when present). Fixed format holds 32 bits: a larger
    /// value is left out of fixed sense (VALID 0), as SPC requires.
    public var information: UInt64?
    /// COMMAND-SPECIFIC INFORMATION (fixed format: the low 32 bits).
    public var commandSpecificInformation: UInt64?
    public var senseKeySpecific: SenseKeySpecific?
    /// FIELD REPLACEABLE UNIT CODE; 0 means none.
    public var fieldReplaceableUnit: UInt8
    public var filemark: Bool
    public var endOfMedium: Bool
    public var incorrectLength: Bool
    /// Deferred error (response code 0x71/0x73) rather than current (0x70/0x72).
    public var deferred: Bool

    public init(
        key: SenseKey, asc: UInt8, ascq: UInt8, information: UInt64? = nil,
        commandSpecificInformation: UInt64? = nil, senseKeySpecific: SenseKeySpecific? = nil,
        fieldReplaceableUnit: UInt8 = 0, filemark: Bool = false, endOfMedium: Bool = false,
        incorrectLength: Bool = false, deferred: Bool = false
    ) {
        self.key = key
        self.asc = asc
        self.ascq = ascq
        self.information = information
        self.commandSpecificInformation = commandSpecificInformation
        self.senseKeySpecific = senseKeySpecific
        self.fieldReplaceableUnit = fieldReplaceableUnit
        self.filemark = filemark
        self.endOfMedium = endOfMedium
        self.incorrectLength = incorrectLength
        self.deferred = deferred
    }

    public init(key: SenseKey, _ code: AdditionalSenseCode, information: UInt64? = nil,
                senseKeySpecific: SenseKeySpecific? = nil) {
        self.init(key: key, asc: code.asc, ascq: code.ascq, information: information,
                  senseKeySpecific: senseKeySpecific)
    }

    /// ILLEGAL REQUEST, 24/00 INVALID FIELD IN CDB, with a field pointer at `byte` (and
    /// `bit`) of the CDB; nil `byte` leaves the pointer out (a CDB too short to point into).
    /// CTL's `ctl_set_invalid_field` with C/D set.
    public static func invalidFieldInCDB(byte: Int?, bit: Int? = nil) -> SenseBuilder {
        SenseBuilder(key: .illegalRequest, .invalidFieldInCDB,
                     senseKeySpecific: byte.map { fieldPointer(inCDB: true, byte: $0, bit: bit) })
    }

    /// ILLEGAL REQUEST, 26/00 INVALID FIELD IN PARAMETER LIST, pointing at `byte` (and `bit`)
    /// of the parameter list (CTL's `ctl_set_invalid_field` with C/D clear).
    public static func invalidFieldInParameterList(byte: Int, bit: Int? = nil) -> SenseBuilder {
        SenseBuilder(key: .illegalRequest, .invalidFieldInParameterList,
                     senseKeySpecific: fieldPointer(inCDB: false, byte: byte, bit: bit))
    }

    private static func fieldPointer(inCDB: Bool, byte: Int, bit: Int?) -> SenseKeySpecific {
        .fieldPointer(inCDB: inCDB, byte: UInt16(clamping: byte), bit: bit.map { UInt8($0 & 7) })
    }

    /// Fixed format is always 18 bytes.
    public static let fixedLength = 18

    /// The length of the descriptor-format sense this builder writes.
    public var descriptorLength: Int {
        var n = 8
        if information != nil { n += 12 }
        if commandSpecificInformation != nil { n += 12 }
        if senseKeySpecific != nil { n += 8 }
        if fieldReplaceableUnit != 0 { n += 4 }
        if filemark || endOfMedium || incorrectLength { n += 4 }
        return n
    }

    /// The length of sense in `format`.
    public func length(_ format: SenseFormat) -> Int {
        format == .fixed ? SenseBuilder.fixedLength : descriptorLength
    }

    /// Writes the sense data into `buffer`, cut at its end (as a device cuts sense at the
    /// allocation length). Returns the number of bytes written.
    @discardableResult
    public func write(_ format: SenseFormat, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        var w = Writer(buffer: buffer)
        switch format {
        case .fixed:
            var info: UInt32 = 0
            var valid = false
            if let i = information, i <= UInt64(UInt32.max) {
                info = UInt32(i)
                valid = true
            }
            w.put((valid ? 0x80 : 0) | (deferred ? 0x71 : 0x70))
            w.put(0)
            w.put((filemark ? 0x80 : 0) | (endOfMedium ? 0x40 : 0) | (incorrectLength ? 0x20 : 0) | key.rawValue)
            w.putBigEndian(UInt64(info), width: 4)
            w.put(UInt8(SenseBuilder.fixedLength - 8))
            w.putBigEndian(commandSpecificInformation ?? 0, width: 4)
            w.put(asc)
            w.put(ascq)
            w.put(fieldReplaceableUnit)
            let sks = senseKeySpecific?.bytes ?? (0, 0, 0)
            w.put(sks.0)
            w.put(sks.1)
            w.put(sks.2)
        case .descriptor:
            w.put(deferred ? 0x73 : 0x72)
            w.put(key.rawValue)
            w.put(asc)
            w.put(ascq)
            w.put(0)
            w.put(0)
            w.put(0)
            w.put(UInt8(descriptorLength - 8))
            if let info = information {
                w.put(0x00); w.put(0x0A); w.put(0x80); w.put(0)
                w.putBigEndian(info, width: 8)
            }
            if let csi = commandSpecificInformation {
                w.put(0x01); w.put(0x0A); w.put(0); w.put(0)
                w.putBigEndian(csi, width: 8)
            }
            if let sks = senseKeySpecific?.bytes {
                w.put(0x02); w.put(0x06); w.put(0); w.put(0)
                w.put(sks.0); w.put(sks.1); w.put(sks.2); w.put(0)
            }
            if fieldReplaceableUnit != 0 {
                w.put(0x03); w.put(0x02); w.put(0); w.put(fieldReplaceableUnit)
            }
            if filemark || endOfMedium {
                // Stream commands descriptor carries all three bits.
                w.put(0x04); w.put(0x02); w.put(0)
                w.put((filemark ? 0x80 : 0) | (endOfMedium ? 0x40 : 0) | (incorrectLength ? 0x20 : 0))
            } else if incorrectLength {
                w.put(0x05); w.put(0x02); w.put(0); w.put(0x20)
            }
        }
        return w.written
    }

    /// The sense data as bytes.
    public func bytes(_ format: SenseFormat) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: length(format)) { buf, n in
            n = write(format, into: UnsafeMutableRawBufferPointer(buf))
        }
    }

    /// Sequential big-endian writes that stop at the end of the buffer.
    private struct Writer {
        let buffer: UnsafeMutableRawBufferPointer
        var written = 0

        mutating func put(_ b: UInt8) {
            if written < buffer.count { buffer[written] = b }
            written = Swift.min(written + 1, buffer.count)
        }

        mutating func putBigEndian(_ v: UInt64, width: Int) {
            for i in 0..<width { put(UInt8(truncatingIfNeeded: v >> UInt64(8 * (width - 1 - i)))) }
        }
    }
}

extension SenseData {
    /// Fixed-format sense bytes (18 bytes, response code 0x70) for `key` and ASC/ASCQ, with
    /// the INFORMATION field and VALID set when `information` is given.
    public static func fixed(key: SenseKey, asc: UInt8, ascq: UInt8, information: UInt32? = nil) -> [UInt8] {
        SenseBuilder(key: key, asc: asc, ascq: ascq, information: information.map(UInt64.init)).bytes(.fixed)
    }

    /// Fixed-format sense bytes for `key` and a named ASC/ASCQ pair.
    public static func fixed(key: SenseKey, _ code: AdditionalSenseCode, information: UInt32? = nil) -> [UInt8] {
        fixed(key: key, asc: code.asc, ascq: code.ascq, information: information)
    }

    /// Descriptor-format sense bytes (response code 0x72), with an information descriptor
    /// when `information` is given.
    public static func descriptor(key: SenseKey, asc: UInt8, ascq: UInt8, information: UInt64? = nil) -> [UInt8] {
        SenseBuilder(key: key, asc: asc, ascq: ascq, information: information).bytes(.descriptor)
    }

    /// Descriptor-format sense bytes for `key` and a named ASC/ASCQ pair.
    public static func descriptor(key: SenseKey, _ code: AdditionalSenseCode, information: UInt64? = nil) -> [UInt8] {
        descriptor(key: key, asc: code.asc, ascq: code.ascq, information: information)
    }
}
