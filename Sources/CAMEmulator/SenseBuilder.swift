import CAM
import SCSI

/// The sense-key-specific field pointer (SPC-5 4.4.2.3.2): which byte, and optionally which
/// bit, of the CDB or parameter list the device did not like.
struct FieldPointer: Sendable, Equatable {
    /// true: a CDB byte (C/D = 1); false: a byte of the parameter list.
    var inCDB: Bool
    var byte: Int
    /// The bit within the byte (0-7), when one bit is meant.
    var bit: Int?
}

/// What goes into sense data: key, ASC/ASCQ, the information field and the field pointer.
/// Small and copyable, so failing a command allocates nothing.
struct Sense: Sendable, Equatable {
    var key: SenseKey
    var asc: UInt8
    var ascq: UInt8
    /// The INFORMATION field (for media errors: the first bad LBA; for miscompares: the offset).
    var information: UInt64?
    var field: FieldPointer?

    init(_ key: SenseKey, _ asc: UInt8, _ ascq: UInt8, information: UInt64? = nil, field: FieldPointer? = nil) {
        self.key = key; self.asc = asc; self.ascq = ascq
        self.information = information; self.field = field
    }

    // The ones the emulator gives, named as SPC-5's table names them.
    static let noSense = Sense(.noSense, 0x00, 0x00)
    static let invalidOpcode = Sense(.illegalRequest, 0x20, 0x00)
    static let lbaOutOfRange = Sense(.illegalRequest, 0x21, 0x00)
    static let lunNotSupported = Sense(.illegalRequest, 0x25, 0x00)
    static let parameterListLengthError = Sense(.illegalRequest, 0x1A, 0x00)
    static let savingNotSupported = Sense(.illegalRequest, 0x39, 0x00)
    static let powerOnReset = Sense(.unitAttention, 0x29, 0x00)
    static let notReadyInitializingCommandRequired = Sense(.notReady, 0x04, 0x02)

    /// ILLEGAL REQUEST, 24/00 INVALID FIELD IN CDB, pointing at `byte` (and `bit`).
    static func invalidFieldInCDB(byte: Int, bit: Int? = nil) -> Sense {
        Sense(.illegalRequest, 0x24, 0x00, field: FieldPointer(inCDB: true, byte: byte, bit: bit))
    }

    /// ILLEGAL REQUEST, 24/00 INVALID FIELD IN CDB without a pointer (a CDB too short to point into).
    static let invalidFieldInCDBNoPointer = Sense(.illegalRequest, 0x24, 0x00)

    /// ILLEGAL REQUEST, 26/00 INVALID FIELD IN PARAMETER LIST, pointing at `byte` of the list.
    static func invalidFieldInParameterList(byte: Int, bit: Int? = nil) -> Sense {
        Sense(.illegalRequest, 0x26, 0x00, field: FieldPointer(inCDB: false, byte: byte, bit: bit))
    }

    /// MEDIUM ERROR, 11/00 UNRECOVERED READ ERROR at `lba`.
    static func unrecoveredReadError(lba: UInt64) -> Sense { Sense(.mediumError, 0x11, 0x00, information: lba) }
    /// MEDIUM ERROR, 0C/00 WRITE ERROR at `lba`.
    static func writeError(lba: UInt64) -> Sense { Sense(.mediumError, 0x0C, 0x00, information: lba) }
    /// MISCOMPARE, 1D/00 MISCOMPARE DURING VERIFY OPERATION; the information field is the
    /// offset of the first byte that differs (SBC-4 5.30).
    static func miscompare(offset: UInt64) -> Sense { Sense(.miscompare, 0x1D, 0x00, information: offset) }
    /// DATA PROTECT, 27/07 SPACE ALLOCATION FAILED WRITE PROTECT: the backing file's file
    /// system is full, as a thin-provisioned disk out of space answers.
    static func spaceAllocationFailed(lba: UInt64) -> Sense { Sense(.dataProtect, 0x27, 0x07, information: lba) }
    /// HARDWARE ERROR, 44/00 INTERNAL TARGET FAILURE.
    static let internalTargetFailure = Sense(.hardwareError, 0x44, 0x00)

    /// Writes the sense into `buffer` in fixed (0x70) or descriptor (0x72) format and returns
    /// the length. Never allocates.
    func write(into buffer: UnsafeMutableRawBufferPointer, descriptor: Bool) -> Int {
        guard buffer.count >= 18, let p = buffer.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return 0 }
        var sks: (UInt8, UInt8, UInt8)?
        if let field {
            var b0: UInt8 = 0x80
            if field.inCDB { b0 |= 0x40 }
            if let bit = field.bit { b0 |= 0x08 | UInt8(bit & 7) }
            sks = (b0, UInt8(truncatingIfNeeded: field.byte >> 8), UInt8(truncatingIfNeeded: field.byte))
        }
        if descriptor {
            // SPC-5 4.4.2: header, then an information descriptor (type 0) and a sense key
            // specific descriptor (type 2) when there is something to put in them.
            var n = 8
            for i in 0..<8 { p[i] = 0 }
            p[0] = 0x72
            p[1] = key.rawValue
            p[2] = asc
            p[3] = ascq
            if let information {
                p[n] = 0x00; p[n + 1] = 0x0A; p[n + 2] = 0x80; p[n + 3] = 0
                for i in 0..<8 { p[n + 4 + i] = UInt8(truncatingIfNeeded: information >> UInt64(8 * (7 - i))) }
                n += 12
            }
            if let sks {
                p[n] = 0x02; p[n + 1] = 0x06; p[n + 2] = 0; p[n + 3] = 0
                p[n + 4] = sks.0; p[n + 5] = sks.1; p[n + 6] = sks.2; p[n + 7] = 0
                n += 8
            }
            p[7] = UInt8(n - 8)
            return n
        }
        // SPC-5 4.4.3: 18 bytes. The information field has four bytes; an LBA that does not fit
        // leaves VALID clear (SBC-4 4.18.1), which is why descriptor format exists.
        for i in 0..<18 { p[i] = 0 }
        p[0] = 0x70
        p[2] = key.rawValue
        if let information, information <= UInt64(UInt32.max) {
            p[0] |= 0x80
            p[3] = UInt8(truncatingIfNeeded: information >> 24)
            p[4] = UInt8(truncatingIfNeeded: information >> 16)
            p[5] = UInt8(truncatingIfNeeded: information >> 8)
            p[6] = UInt8(truncatingIfNeeded: information)
        }
        p[7] = 10
        p[12] = asc
        p[13] = ascq
        if let sks { p[15] = sks.0; p[16] = sks.1; p[17] = sks.2 }
        return 18
    }
}

/// A command ended in CHECK CONDITION: the sense, and the bytes moved before it failed.
struct CheckCondition: Error {
    var sense: Sense
    var transferred: Int

    init(_ sense: Sense, transferred: Int = 0) {
        self.sense = sense
        self.transferred = transferred
    }
}
