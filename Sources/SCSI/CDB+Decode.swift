// Reading fields back out of a CDB: for the emulator (which executes CDBs), for error
// messages ("READ(16) at LBA 4096"), and for checking data lengths against a CDB. Every
// accessor checks the CDB's length first, so a short or malformed CDB yields nil, never a trap.

/// What a CDB moves: nothing, or `length` bytes in one direction (SAM-5 data-in/data-out).
public enum CDBDataTransfer: Sendable, Hashable {
    case none
    /// Data-out: from the initiator to the device (WRITE, MODE SELECT, UNMAP, ...).
    case toDevice(Int)
    /// Data-in: from the device to the initiator (READ, INQUIRY, MODE SENSE, ...).
    case fromDevice(Int)

    /// The byte count (0 for `.none`).
    public var length: Int {
        switch self {
        case .none: return 0
        case .toDevice(let n), .fromDevice(let n): return n
        }
    }
}

extension CDB {
    /// Big-endian field of `width` bytes at `offset`, or nil when the CDB is too short.
    @inlinable
    func field(_ offset: Int, _ width: Int) -> UInt64? {
        offset + width <= count ? bigEndian(at: offset, width: width) : nil
    }

    /// For READ and WRITE (6/10/12/16): whether it writes, the starting LBA and the block
    /// count (READ(6)/WRITE(6) length 0 means 256 blocks). Nil for other commands and for a
    /// CDB shorter than its opcode requires.
    @inlinable
    public var readWriteFields: (isWrite: Bool, lba: UInt64, blocks: UInt32)? {
        guard count > 0 else { return nil }
        switch self[0] {
        case 0x08, 0x0A:
            guard count >= 6 else { return nil }
            let lba = bigEndian(at: 1, width: 3) & 0x1F_FFFF
            let n = UInt32(self[4])
            return (self[0] == 0x0A, lba, n == 0 ? 256 : n)
        case 0x28, 0x2A:
            guard count >= 10 else { return nil }
            return (self[0] == 0x2A, bigEndian(at: 2, width: 4), UInt32(bigEndian(at: 7, width: 2)))
        case 0xA8, 0xAA:
            guard count >= 12 else { return nil }
            return (self[0] == 0xAA, bigEndian(at: 2, width: 4), UInt32(bigEndian(at: 6, width: 4)))
        case 0x88, 0x8A:
            guard count >= 16 else { return nil }
            return (self[0] == 0x8A, bigEndian(at: 2, width: 8), UInt32(bigEndian(at: 10, width: 4)))
        default:
            return nil
        }
    }

    /// FUA (force unit access) of a READ/WRITE/VERIFY/WRITE AND VERIFY 10/12/16 (byte 1 bit 3).
    public var fua: Bool {
        switch opcode {
        case 0x28, 0x2A, 0xA8, 0xAA, 0x88, 0x8A, 0x89: return count > 1 && self[1] & 0x08 != 0
        default: return false
        }
    }

    /// DPO (disable page out) of a READ/WRITE/VERIFY 10/12/16 (byte 1 bit 4).
    public var dpo: Bool {
        switch opcode {
        case 0x28, 0x2A, 0xA8, 0xAA, 0x88, 0x8A, 0x2F, 0xAF, 0x8F, 0x2E, 0xAE, 0x8E, 0x89:
            return count > 1 && self[1] & 0x10 != 0
        default: return false
        }
    }

    /// RDPROTECT, WRPROTECT or VRPROTECT (byte 1 bits 7-5) of the SBC commands that have one:
    /// READ, WRITE, VERIFY, WRITE AND VERIFY (10/12/16), WRITE SAME(10/16), COMPARE AND
    /// WRITE. 0 for other commands (READ(6)/WRITE(6) have no flags byte) and short CDBs.
    public var protectionField: UInt8 {
        switch opcode {
        case 0x28, 0x2A, 0xA8, 0xAA, 0x88, 0x8A, 0x2F, 0xAF, 0x8F, 0x2E, 0xAE, 0x8E, 0x41, 0x93, 0x89:
            return count > 1 ? self[1] >> 5 : 0
        default: return 0
        }
    }

    /// The byte where the block count of `blockRange` starts (TRANSFER LENGTH, VERIFICATION
    /// LENGTH, NUMBER OF LOGICAL BLOCKS), for a field pointer in sense data; nil when
    /// `blockRange` is.
    public var blockCountOffset: Int? {
        guard blockRange != nil else { return nil }
        switch opcode {
        case 0x08, 0x0A: return 4
        case 0x89: return 13
        default:
            switch SCSIOpcode(opcode).cdbLength {
            case 10: return 7
            case 12: return 6
            default: return 10
            }
        }
    }

    /// The LBA and block count of any SBC command that addresses a range of blocks:
    /// READ/WRITE, VERIFY, WRITE AND VERIFY, WRITE SAME, SYNCHRONIZE CACHE and PRE-FETCH
    /// (10/12/16), and COMPARE AND WRITE. Nil for other commands and short CDBs.
    public var blockRange: (lba: UInt64, blocks: UInt32)? {
        if let rw = readWriteFields { return (rw.lba, rw.blocks) }
        switch opcode {
        case 0x2E, 0x2F, 0x34, 0x35, 0x41:
            guard let lba = field(2, 4), let n = field(7, 2) else { return nil }
            return (lba, UInt32(n))
        case 0xAE, 0xAF:
            guard let lba = field(2, 4), let n = field(6, 4) else { return nil }
            return (lba, UInt32(n))
        case 0x8E, 0x8F, 0x90, 0x91, 0x93:
            guard let lba = field(2, 8), let n = field(10, 4) else { return nil }
            return (lba, UInt32(n))
        case 0x89:
            guard let lba = field(2, 8), let n = field(13, 1) else { return nil }
            return (lba, UInt32(n))
        default:
            return nil
        }
    }

    /// The service action of opcodes that have one (byte 1 bits 4-0; bytes 8-9 of a
    /// variable-length CDB), or nil.
    public var serviceAction: UInt16? {
        switch opcode {
        case 0x5E, 0x5F, 0x83, 0x84, 0x94, 0x95, 0x9E, 0x9F, 0xA3, 0xA4, 0xAB, 0xA9:
            return field(1, 1).map { UInt16($0 & 0x1F) }
        case 0x7F:
            return field(8, 2).map { UInt16($0) }
        default:
            return nil
        }
    }

    /// The command's name as camcontrol prints it: "READ(10)", "READ CAPACITY(16)",
    /// "REPORT SUPPORTED OPERATION CODES", or "opcode 0xNN" when unknown.
    public var commandName: String {
        if let sa = serviceAction, let n = SCSIOpcode.serviceActionName(opcode: opcode, serviceAction: sa) {
            return n
        }
        return SCSIOpcode(opcode).description
    }

    /// The ALLOCATION LENGTH of a command that returns data of a length it chooses (INQUIRY,
    /// REQUEST SENSE, MODE SENSE, REPORT LUNS, READ CAPACITY(16), LOG SENSE, RECEIVE
    /// DIAGNOSTIC RESULTS, PERSISTENT RESERVE IN, MAINTENANCE IN), or nil.
    public var allocationLength: Int? {
        let v: UInt64?
        switch opcode {
        case 0x03, 0x1A: v = field(4, 1)
        case 0x12, 0x1C: v = field(3, 2)
        case 0x5A, 0x4D, 0x5E: v = field(7, 2)
        case 0xA0, 0xA3: v = field(6, 4)
        case 0x9E: v = field(10, 4)
        case 0x25: v = count >= 10 ? 8 : nil
        default: v = nil
        }
        return v.map { Int($0) }
    }

    /// The data this CDB moves with logical blocks of `blockSize` bytes, or nil when this
    /// module does not know the command (or the CDB is too short to say).
    public func dataTransfer(blockSize: Int) -> CDBDataTransfer? {
        let op = opcode
        if let rw = readWriteFields {
            let n = Int(rw.blocks) * blockSize
            return rw.isWrite ? .toDevice(n) : .fromDevice(n)
        }
        if let n = allocationLength { return .fromDevice(n) }
        switch op {
        case 0x00, 0x1B, 0x1E, 0x34, 0x90, 0x35, 0x91, 0x01, 0x0B, 0x2B:
            return count >= (SCSIOpcode(op).cdbLength ?? 6) ? CDBDataTransfer.none : nil
        case 0x2F, 0xAF, 0x8F:
            // VERIFY: BYTCHK 0 moves nothing, 1 one block per block verified, 3 a single block.
            guard let range = blockRange, let b1 = field(1, 1) else { return nil }
            switch (b1 >> 1) & 0x03 {
            case 0: return CDBDataTransfer.none
            case 1: return .toDevice(Int(range.blocks) * blockSize)
            case 3: return .toDevice(blockSize)
            default: return nil
            }
        case 0x2E, 0xAE, 0x8E:
            guard let range = blockRange else { return nil }
            return .toDevice(Int(range.blocks) * blockSize)
        case 0x41:
            return count >= 10 ? .toDevice(blockSize) : nil
        case 0x93:
            guard let b1 = field(1, 1), count >= 16 else { return nil }
            return b1 & 0x01 != 0 ? CDBDataTransfer.none : .toDevice(blockSize)
        case 0x89:
            guard let range = blockRange else { return nil }
            return .toDevice(2 * Int(range.blocks) * blockSize)
        case 0x15:
            return field(4, 1).map { .toDevice(Int($0)) }
        case 0x55, 0x42, 0x4C:
            return field(7, 2).map { .toDevice(Int($0)) }
        case 0x1D:
            return field(3, 2).map { .toDevice(Int($0)) }
        case 0x5F:
            return field(5, 4).map { .toDevice(Int($0)) }
        case 0x3B:
            return field(6, 3).map { .toDevice(Int($0)) }
        case 0x3C:
            return field(6, 3).map { .fromDevice(Int($0)) }
        default:
            return nil
        }
    }
}
