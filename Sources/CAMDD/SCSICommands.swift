import SCSI

// The READ/WRITE and READ CAPACITY CDBs camdd needs, and names for commands and sense codes.
// TODO(swap): the SCSI module is getting CDB.read(lba:blocks:minimumSize:), CDB.write(...),
// READ CAPACITY parsers and sense descriptions with ASC names; when they land on main, use
// them here and drop this file's builders and table.

enum ReadWriteCDB {
    /// READ or WRITE of `blocks` blocks at `lba` in the smallest CDB that holds them and is
    /// at least `minimumSize` bytes, as CAM's scsi_read_write chooses (SBC-4 5.15-5.19, 5.41-5.45):
    /// 6 bytes when the LBA fits 21 bits and the count 8 bits, then 10, 12, 16.
    static func make(write: Bool, lba: UInt64, blocks: UInt32, minimumSize: Int) -> CDB {
        if minimumSize < 10, lba <= 0x1F_FFFF, blocks > 0, blocks <= 0xFF {
            var c = CDB(count: 6)
            c[0] = write ? 0x0A : 0x08
            c[1] = UInt8((lba >> 16) & 0x1F)
            c[2] = UInt8((lba >> 8) & 0xFF)
            c[3] = UInt8(lba & 0xFF)
            c[4] = UInt8(blocks)
            return c
        }
        if minimumSize < 12, lba <= 0xFFFF_FFFF, blocks <= 0xFFFF {
            var c = CDB(count: 10)
            c[0] = write ? 0x2A : 0x28
            c.setBigEndian(lba, at: 2, width: 4)
            c.setBigEndian(UInt64(blocks), at: 7, width: 2)
            return c
        }
        if minimumSize < 16, lba <= 0xFFFF_FFFF {
            var c = CDB(count: 12)
            c[0] = write ? 0xAA : 0xA8
            c.setBigEndian(lba, at: 2, width: 4)
            c.setBigEndian(UInt64(blocks), at: 6, width: 4)
            return c
        }
        var c = CDB(count: 16)
        c[0] = write ? 0x8A : 0x88
        c.setBigEndian(lba, at: 2, width: 8)
        c.setBigEndian(UInt64(blocks), at: 10, width: 4)
        return c
    }

    /// READ CAPACITY(10) (SBC-4 5.20): 8 bytes of data.
    static func readCapacity10() -> CDB {
        var c = CDB(count: 10)
        c[0] = 0x25
        return c
    }

    /// READ CAPACITY(16), SERVICE ACTION IN(16) 0x10 (SBC-4 5.21): 32 bytes asked for.
    static func readCapacity16(allocation: UInt32 = 32) -> CDB {
        var c = CDB(count: 16)
        c[0] = 0x9E
        c[1] = 0x10
        c.setBigEndian(UInt64(allocation), at: 10, width: 4)
        return c
    }

    /// The LBA and block count a READ/WRITE CDB carries.
    static func lbaAndBlocks(_ c: CDB) -> (lba: UInt64, blocks: UInt64)? {
        switch c.opcode {
        case 0x08, 0x0A:
            let lba = (UInt64(c[1] & 0x1F) << 16) | (UInt64(c[2]) << 8) | UInt64(c[3])
            return (lba, c[4] == 0 ? 256 : UInt64(c[4]))
        case 0x28, 0x2A: return (c.bigEndian(at: 2, width: 4), c.bigEndian(at: 7, width: 2))
        case 0xA8, 0xAA: return (c.bigEndian(at: 2, width: 4), c.bigEndian(at: 6, width: 4))
        case 0x88, 0x8A: return (c.bigEndian(at: 2, width: 8), c.bigEndian(at: 10, width: 4))
        default: return nil
        }
    }
}

enum SCSINames {
    /// The command's name as camcontrol prints it ("READ(10)").
    static func command(_ c: CDB) -> String {
        switch c.opcode {
        case 0x00: return "TEST UNIT READY"
        case 0x08: return "READ(6)"
        case 0x0A: return "WRITE(6)"
        case 0x12: return "INQUIRY"
        case 0x25: return "READ CAPACITY(10)"
        case 0x28: return "READ(10)"
        case 0x2A: return "WRITE(10)"
        case 0x88: return "READ(16)"
        case 0x8A: return "WRITE(16)"
        case 0x9E: return "READ CAPACITY(16)"
        case 0xA8: return "READ(12)"
        case 0xAA: return "WRITE(12)"
        default:
            let h = String(c.opcode, radix: 16, uppercase: true)
            return "opcode 0x" + (h.count == 1 ? "0" + h : h)
        }
    }

    /// SPC-5 Annex D names for the additional sense codes a copy meets.
    static func additionalSense(asc: UInt8, ascq: UInt8) -> String? {
        switch (asc, ascq) {
        case (0x00, 0x00): return "No additional sense information"
        case (0x04, 0x00): return "Logical unit not ready, cause not reportable"
        case (0x04, 0x01): return "Logical unit is in process of becoming ready"
        case (0x04, 0x02): return "Logical unit not ready, initializing command required"
        case (0x04, 0x03): return "Logical unit not ready, manual intervention required"
        case (0x0C, 0x00): return "Write error"
        case (0x0C, 0x02): return "Write error - auto reallocation failed"
        case (0x11, 0x00): return "Unrecovered read error"
        case (0x11, 0x04): return "Unrecovered read error - auto reallocate failed"
        case (0x14, 0x01): return "Record not found"
        case (0x20, 0x00): return "Invalid command operation code"
        case (0x21, 0x00): return "Logical block address out of range"
        case (0x24, 0x00): return "Invalid field in CDB"
        case (0x25, 0x00): return "Logical unit not supported"
        case (0x27, 0x00): return "Write protected"
        case (0x28, 0x00): return "Not ready to ready change, medium may have changed"
        case (0x29, 0x00): return "Power on, reset, or bus device reset occurred"
        case (0x2A, 0x01): return "Mode parameters changed"
        case (0x31, 0x00): return "Medium format corrupted"
        case (0x3A, 0x00): return "Medium not present"
        case (0x44, 0x00): return "Internal target failure"
        case (0x47, 0x00): return "SCSI parity error"
        case (0x5D, 0x00): return "Failure prediction threshold exceeded"
        default: return nil
        }
    }

    /// The sense's INFORMATION field (SPC-5 4.4.2.2 fixed format with VALID set, or an
    /// information descriptor 00h in descriptor format): for a medium error, the failing LBA.
    static func information(_ sense: [UInt8]) -> UInt64? {
        guard let first = sense.first else { return nil }
        switch first & 0x7F {
        case 0x70, 0x71:
            guard sense.count >= 7, first & 0x80 != 0 else { return nil }
            return sense[3...6].reduce(0) { ($0 << 8) | UInt64($1) }
        case 0x72, 0x73:
            guard sense.count >= 8 else { return nil }
            let total = min(sense.count, 8 + Int(sense[7]))
            var i = 8
            while i + 1 < total {
                let type = sense[i]
                let length = Int(sense[i + 1])
                if type == 0x00, length >= 0x0A, i + 12 <= total, sense[i + 2] & 0x80 != 0 {
                    return sense[(i + 4)..<(i + 12)].reduce(0) { ($0 << 8) | UInt64($1) }
                }
                i += 2 + length
            }
            return nil
        default:
            return nil
        }
    }
}
