#if canImport(Glibc)
import Glibc
#endif
import CAM
import SCSI

/// Moving bytes between the device and the CCB's data, with the residual rules of a real
/// target: data in stops at what the CDB allows, what the device has, and what the buffer
/// holds; data out must cover what the CDB announces.
enum DataPhase {
    /// Bytes the host offers for data in (0 when the CCB's direction is not in).
    static func hostIn(_ ccb: CCB) -> Int { ccb.direction == .in ? ccb.data.length : 0 }
    /// Bytes the host offers for data out.
    static func hostOut(_ ccb: CCB) -> Int { ccb.direction == .out ? ccb.data.length : 0 }

    /// Sends `bytes`, at most `allocation` of them; returns the bytes moved. A buffer shorter
    /// than that gets what fits (an overrun the device does not see: status stays GOOD).
    static func send(_ ccb: CCB, _ bytes: UnsafeRawBufferPointer, allocation: Int) -> Int {
        let n = min(bytes.count, allocation, hostIn(ccb))
        guard n > 0, let base = bytes.baseAddress else { return 0 }
        ccb.data.withCursor(limit: n) { $0.put(base, n) }
        return n
    }

    static func send(_ ccb: CCB, _ bytes: [UInt8], allocation: Int) -> Int {
        bytes.withUnsafeBytes { send(ccb, $0, allocation: allocation) }
    }

    /// Fails the command when the host offers fewer than `count` bytes of data out: a target
    /// cannot take data that never comes, and answers ILLEGAL REQUEST, INVALID FIELD IN CDB
    /// pointing at the length field (what LIO and libiscsi's residual tests expect).
    static func requireOut(_ ccb: CCB, _ count: Int, lengthField: Int?) throws(CheckCondition) {
        guard hostOut(ccb) >= count else {
            throw CheckCondition(lengthField.map { Sense.invalidFieldInCDB(byte: $0) } ?? .invalidFieldInCDBNoPointer)
        }
    }

    /// Takes a parameter list of `count` bytes.
    static func receive(_ ccb: CCB, _ count: Int, lengthField: Int?) throws(CheckCondition) -> [UInt8] {
        try requireOut(ccb, count, lengthField: lengthField)
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { b in
            ccb.data.withCursor(limit: count) { $0.take(b.baseAddress!, count) }
        }
        return out
    }
}

extension CDB {
    /// Big-endian field; the caller has checked the CDB length.
    @inline(__always)
    func be(_ offset: Int, _ width: Int) -> UInt64 { bigEndian(at: offset, width: width) }
}

extension Array where Element == UInt8 {
    mutating func appendBE(_ v: UInt64, _ width: Int) {
        for i in 0..<width { append(UInt8(truncatingIfNeeded: v >> UInt64(8 * (width - 1 - i)))) }
    }
    mutating func setBE(_ v: UInt64, at offset: Int, _ width: Int) {
        for i in 0..<width { self[offset + i] = UInt8(truncatingIfNeeded: v >> UInt64(8 * (width - 1 - i))) }
    }
    func be(_ offset: Int, _ width: Int) -> UInt64 {
        var v: UInt64 = 0
        for i in 0..<width { v = v << 8 | UInt64(self[offset + i]) }
        return v
    }
    /// ASCII, space-padded or cut to `width` (T10 strings are left-aligned, space-filled).
    mutating func appendPadded(_ s: String, _ width: Int) {
        var n = 0
        for b in s.utf8 where n < width { append(b); n += 1 }
        while n < width { append(0x20); n += 1 }
    }
}

/// LBA, block count, and where the count sits in the CDB (for the field pointer).
struct BlockRange {
    var lba: UInt64
    var blocks: UInt64
    var flags: UInt8
    var lengthField: Int
}

extension EmulatedDisk {
    // MARK: entry

    /// Runs `ccb` and fills in its outcome. The target's lock is held.
    func runLocked(_ ccb: CCB, slot: TargetSlot) {
        let cdb = ccb.cdb
        do {
            let moved = try dispatchLocked(ccb, cdb, slot: slot)
            ccb.complete(status: .requestComplete, scsiStatus: .good, residual: ccb.data.length - moved)
        } catch {
            failLocked(ccb, error)
        }
    }

    /// CHECK CONDITION with autosense, in the format the control page's D_SENSE picks.
    func failLocked(_ ccb: CCB, _ check: CheckCondition) {
        stats.checkConditions += 1
        TargetSlot.fail(ccb, check, descriptor: descriptorSense)
    }

    private func dispatchLocked(_ ccb: CCB, _ cdb: CDB, slot: TargetSlot) throws(CheckCondition) -> Int {
        let op = cdb.opcode
        // SAM-5 5.14: a pending unit attention ends any command but these three, and is
        // reported once.
        if !unitAttentions.isEmpty && op != 0x12 && op != 0xA0 && op != 0x03 {
            throw CheckCondition(unitAttentions.removeFirst())
        }
        let length = Int(CommandTable.cdbLength[Int(op)])
        guard length > 0 else { throw CheckCondition(.invalidOpcode) }
        guard cdb.count >= length else { throw CheckCondition(.invalidFieldInCDBNoPointer) }
        // NACA (SPC-5 4.3.4.1): ACA is not supported.
        if cdb[length - 1] & 0x04 != 0 { throw CheckCondition(.invalidFieldInCDB(byte: length - 1, bit: 2)) }

        switch op {
        case 0x00: // TEST UNIT READY
            try requireReady()
            return 0
        case 0x03:
            return requestSenseLocked(ccb, cdb)
        case 0x12:
            return try inquiryLocked(ccb, cdb, slot: slot)
        case 0x25:
            try requireReady()
            return try readCapacity10(ccb, cdb)
        case 0x9E:
            guard cdb[1] & 0x1F == 0x10 else { throw CheckCondition(.invalidFieldInCDB(byte: 1, bit: 4)) }
            try requireReady()
            return readCapacity16(ccb, cdb)
        case 0x08, 0x28, 0xA8, 0x88:
            try requireReady()
            return try readLocked(ccb, Self.decodeReadWrite(cdb))
        case 0x0A, 0x2A, 0xAA, 0x8A:
            try requireReady()
            return try writeLocked(ccb, Self.decodeReadWrite(cdb))
        case 0x2F, 0x8F:
            try requireReady()
            return try verifyLocked(ccb, cdb)
        case 0x35, 0x91:
            try requireReady()
            return try synchronizeCacheLocked(cdb)
        case 0x1A, 0x5A:
            return try modeSenseLocked(ccb, cdb)
        case 0x15, 0x55:
            return try modeSelectLocked(ccb, cdb)
        case 0xA0:
            return try slot.reportLUNsLocked(ccb, cdb)
        case 0x1B:
            return try startStopLocked(cdb)
        case 0x93:
            try requireReady()
            return try writeSameLocked(ccb, cdb)
        case 0x42:
            try requireReady()
            return try unmapLocked(ccb, cdb)
        case 0xA3:
            guard cdb[1] & 0x1F == 0x0C else { throw CheckCondition(.invalidFieldInCDB(byte: 1, bit: 4)) }
            return try CommandTable.reportSupportedOperationCodes(ccb, cdb)
        default:
            throw CheckCondition(.invalidOpcode)
        }
    }

    private func requireReady() throws(CheckCondition) {
        if !started { throw CheckCondition(.notReadyInitializingCommandRequired) }
    }

    // MARK: SPC

    /// REQUEST SENSE (SPC-5 6.39): a pending unit attention (and clears it), NOT READY while
    /// stopped, or NO SENSE. DESC picks the format.
    private func requestSenseLocked(_ ccb: CCB, _ cdb: CDB) -> Int {
        let descriptor = cdb[1] & 0x01 != 0
        let sense: Sense
        if !unitAttentions.isEmpty {
            sense = unitAttentions.removeFirst()
        } else if !started {
            sense = .notReadyInitializingCommandRequired
        } else {
            sense = .noSense
        }
        return withUnsafeTemporaryAllocation(byteCount: 64, alignment: 8) { buf in
            let n = sense.write(into: buf, descriptor: descriptor)
            return DataPhase.send(ccb, UnsafeRawBufferPointer(rebasing: buf[0..<n]), allocation: Int(cdb[4]))
        }
    }

    /// INQUIRY (SPC-5 6.7): standard data or a VPD page.
    private func inquiryLocked(_ ccb: CCB, _ cdb: CDB, slot: TargetSlot) throws(CheckCondition) -> Int {
        if cdb[1] & 0x02 != 0 { throw CheckCondition(.invalidFieldInCDB(byte: 1, bit: 1)) } // CmdDt: obsolete
        let allocation = Int(cdb.be(3, 2))
        let page = cdb[2]
        guard cdb[1] & 0x01 != 0 else {
            guard page == 0 else { throw CheckCondition(.invalidFieldInCDB(byte: 2)) }
            return DataPhase.send(ccb, standardInquiry(), allocation: allocation)
        }
        guard let data = vitalProductData(page) else { throw CheckCondition(.invalidFieldInCDB(byte: 2)) }
        return DataPhase.send(ccb, data, allocation: allocation)
    }

    /// START STOP UNIT (SBC-4 5.25): START 0 stops the disk (media access then answers NOT
    /// READY 04/02), START 1 starts it. Power conditions are accepted and change nothing.
    private func startStopLocked(_ cdb: CDB) throws(CheckCondition) -> Int {
        let condition = cdb[4] >> 4
        switch condition {
        case 0:
            let start = cdb[4] & 0x01 != 0
            if !start && started && cdb[4] & 0x04 == 0 { try? store.flush() }
            started = start
        case 0x1, 0x2, 0x3, 0x7, 0xA, 0xB:
            break
        default:
            throw CheckCondition(.invalidFieldInCDB(byte: 4, bit: 7))
        }
        return 0
    }

    // MARK: capacity

    private func readCapacity10(_ ccb: CCB, _ cdb: CDB) throws(CheckCondition) -> Int {
        // PMI clear: the LBA field must be zero (SBC-4 5.20.1).
        if cdb[8] & 0x01 == 0 && cdb.be(2, 4) != 0 { throw CheckCondition(.invalidFieldInCDB(byte: 2)) }
        let last = blockCount - 1
        var out: [UInt8] = []
        out.reserveCapacity(8)
        // 0xFFFFFFFF: too big for this command; the initiator must use READ CAPACITY(16).
        out.appendBE(last > 0xFFFF_FFFE ? 0xFFFF_FFFF : last, 4)
        out.appendBE(UInt64(sectorSize), 4)
        return DataPhase.send(ccb, out, allocation: 8)
    }

    private func readCapacity16(_ ccb: CCB, _ cdb: CDB) -> Int {
        var out = [UInt8](repeating: 0, count: 32)
        out.setBE(blockCount - 1, at: 0, 8)
        out.setBE(UInt64(sectorSize), at: 8, 4)
        // LBPME and LBPRZ: thin provisioned, unmapped blocks read as zeros.
        out[14] = 0xC0
        return DataPhase.send(ccb, out, allocation: Int(cdb.be(10, 4)))
    }

    // MARK: SBC data commands

    static func decodeReadWrite(_ cdb: CDB) -> BlockRange {
        switch cdb[0] >> 5 {
        case 0: // 6-byte: 21-bit LBA, length 0 means 256 blocks (SBC-4 5.15)
            let lba = UInt64(cdb[1] & 0x1F) << 16 | UInt64(cdb[2]) << 8 | UInt64(cdb[3])
            return BlockRange(lba: lba, blocks: cdb[4] == 0 ? 256 : UInt64(cdb[4]), flags: 0, lengthField: 4)
        case 1:
            return BlockRange(lba: cdb.be(2, 4), blocks: cdb.be(7, 2), flags: cdb[1], lengthField: 7)
        case 5:
            return BlockRange(lba: cdb.be(2, 4), blocks: cdb.be(6, 4), flags: cdb[1], lengthField: 6)
        default:
            return BlockRange(lba: cdb.be(2, 8), blocks: cdb.be(10, 4), flags: cdb[1], lengthField: 10)
        }
    }

    /// LBA OUT OF RANGE when the range leaves the medium (SBC-4 4.5).
    private func checkRange(_ lba: UInt64, _ blocks: UInt64) throws(CheckCondition) {
        if lba > blockCount || blocks > blockCount - lba { throw CheckCondition(.lbaOutOfRange) }
    }

    private func checkTransfer(_ r: BlockRange) throws(CheckCondition) {
        // No protection information: RDPROTECT/WRPROTECT must be zero (SBC-4 5.16).
        if r.flags >> 5 != 0 { throw CheckCondition(.invalidFieldInCDB(byte: 1, bit: 7)) }
        try checkRange(r.lba, r.blocks)
        // More than the block limits page's MAXIMUM TRANSFER LENGTH (SBC-4 6.6.4).
        if r.blocks > maxTransferBlocks { throw CheckCondition(.invalidFieldInCDB(byte: r.lengthField)) }
    }

    private func readLocked(_ ccb: CCB, _ r: BlockRange) throws(CheckCondition) -> Int {
        try checkTransfer(r)
        guard r.blocks > 0 else { return 0 }
        let ss = UInt64(sectorSize)
        let bad = firstBadLBALocked(r.lba, r.blocks)
        let good = (bad ?? (r.lba + r.blocks)) - r.lba
        let count = Int(min(UInt64(DataPhase.hostIn(ccb)), good * ss))
        if count > 0 {
            do {
                try ccb.data.withCursor(limit: count) { (c) throws(StoreError) in
                    try store.read(at: r.lba * ss, count: count, into: &c)
                }
            } catch {
                throw CheckCondition(.unrecoveredReadError(lba: error.offset / ss))
            }
        }
        stats.reads += 1
        stats.bytesRead += UInt64(count)
        if let bad { throw CheckCondition(.unrecoveredReadError(lba: bad), transferred: count) }
        return count
    }

    private func writeLocked(_ ccb: CCB, _ r: BlockRange) throws(CheckCondition) -> Int {
        try checkTransfer(r)
        guard r.blocks > 0 else { return 0 }
        let ss = UInt64(sectorSize)
        let needed = Int(r.blocks * ss)
        try DataPhase.requireOut(ccb, needed, lengthField: r.lengthField)
        let bad = firstBadLBALocked(r.lba, r.blocks)
        let good = Int(((bad ?? (r.lba + r.blocks)) - r.lba) * ss)
        if good > 0 {
            do {
                try ccb.data.withCursor(limit: good) { (c) throws(StoreError) in
                    try store.write(at: r.lba * ss, count: good, from: &c)
                }
                // FUA, or no write cache: the data must be on stable storage before GOOD.
                if r.flags & 0x08 != 0 || !writeCacheEnabled { try store.flush() }
            } catch {
                throw CheckCondition(Self.writeFailure(error, sectorSize: ss))
            }
        }
        stats.writes += 1
        stats.bytesWritten += UInt64(good)
        if let bad { throw CheckCondition(.writeError(lba: bad), transferred: good) }
        return needed
    }

    static func writeFailure(_ error: StoreError, sectorSize ss: UInt64) -> Sense {
        let lba = error.offset / ss
        return error.errno == ENOSPC || error.errno == EDQUOT ? .spaceAllocationFailed(lba: lba) : .writeError(lba: lba)
    }

    /// VERIFY(10/16) (SBC-4 5.30): BYTCHK 0 checks the medium, 1 compares the data out with
    /// the blocks, 3 compares one block of data out with each block.
    private func verifyLocked(_ ccb: CCB, _ cdb: CDB) throws(CheckCondition) -> Int {
        let sixteen = cdb[0] == 0x8F
        let lba = sixteen ? cdb.be(2, 8) : cdb.be(2, 4)
        let blocks = sixteen ? cdb.be(10, 4) : cdb.be(7, 2)
        let lengthField = sixteen ? 10 : 7
        if cdb[1] >> 5 != 0 { throw CheckCondition(.invalidFieldInCDB(byte: 1, bit: 7)) }
        let bytchk = (cdb[1] >> 1) & 0x03
        if bytchk == 2 { throw CheckCondition(.invalidFieldInCDB(byte: 1, bit: 2)) }
        try checkRange(lba, blocks)
        if blocks > maxTransferBlocks && bytchk == 1 { throw CheckCondition(.invalidFieldInCDB(byte: lengthField)) }
        guard blocks > 0 else { return 0 }
        let ss = UInt64(sectorSize)
        let needed: Int = bytchk == 0 ? 0 : (bytchk == 1 ? Int(blocks * ss) : Int(ss))
        try DataPhase.requireOut(ccb, needed, lengthField: lengthField)
        if let bad = firstBadLBALocked(lba, blocks) { throw CheckCondition(.unrecoveredReadError(lba: bad)) }
        guard bytchk != 0 else { return 0 }
        do {
            if bytchk == 1 {
                let mismatch = try ccb.data.withCursor(limit: needed) { (c) throws(StoreError) -> Int? in
                    try store.compare(at: lba * ss, count: needed, with: &c)
                }
                if let mismatch { throw CheckCondition(.miscompare(offset: UInt64(mismatch)), transferred: needed) }
            } else {
                let block = try DataPhase.receive(ccb, needed, lengthField: lengthField)
                var pattern = block
                for i in 0..<blocks {
                    let mismatch = try pattern.withUnsafeMutableBytes { (b) throws(StoreError) -> Int? in
                        var iov = iovec(iov_base: b.baseAddress, iov_len: b.count)
                        return try withUnsafeMutablePointer(to: &iov) { (p) throws(StoreError) -> Int? in
                            var c = HostCursor(segments: p, count: 1, limit: b.count)
                            return try store.compare(at: (lba + i) * ss, count: needed, with: &c)
                        }
                    }
                    if let mismatch { throw CheckCondition(.miscompare(offset: UInt64(mismatch)), transferred: needed) }
                }
            }
        } catch let e as StoreError {
            throw CheckCondition(.unrecoveredReadError(lba: e.offset / ss))
        } catch let e as CheckCondition {
            throw e
        } catch {
            throw CheckCondition(.internalTargetFailure)
        }
        return needed
    }

    /// SYNCHRONIZE CACHE(10/16) (SBC-4 5.26): number of blocks 0 means to the end.
    private func synchronizeCacheLocked(_ cdb: CDB) throws(CheckCondition) -> Int {
        let sixteen = cdb[0] == 0x91
        let lba = sixteen ? cdb.be(2, 8) : cdb.be(2, 4)
        let blocks = sixteen ? cdb.be(10, 4) : cdb.be(7, 2)
        try checkRange(lba, blocks)
        if lba == blockCount && blocks == 0 { throw CheckCondition(.lbaOutOfRange) }
        do {
            try store.flush()
        } catch {
            throw CheckCondition(.writeError(lba: lba))
        }
        return 0
    }

    /// WRITE SAME(16) (SBC-4 5.50): one block (or zeros with NDOB) into a range; with UNMAP and
    /// zeros, the range is deallocated instead.
    private func writeSameLocked(_ ccb: CCB, _ cdb: CDB) throws(CheckCondition) -> Int {
        let flags = cdb[1]
        if flags >> 5 != 0 { throw CheckCondition(.invalidFieldInCDB(byte: 1, bit: 7)) }
        if flags & 0x10 != 0 { throw CheckCondition(.invalidFieldInCDB(byte: 1, bit: 4)) } // ANCHOR: ANC_SUP is 0
        let unmap = flags & 0x08 != 0
        let noDataOut = flags & 0x01 != 0
        let lba = cdb.be(2, 8)
        let blocks = cdb.be(10, 4)
        // WSNZ is set in the block limits page: zero blocks is not "to the end".
        if blocks == 0 { throw CheckCondition(.invalidFieldInCDB(byte: 10)) }
        try checkRange(lba, blocks)
        let ss = UInt64(sectorSize)
        var pattern = [UInt8](repeating: 0, count: sectorSize)
        var moved = 0
        if !noDataOut {
            pattern = try DataPhase.receive(ccb, sectorSize, lengthField: nil)
            moved = sectorSize
        }
        let bad = firstBadLBALocked(lba, blocks)
        let good = (bad ?? (lba + blocks)) - lba
        do throws(StoreError) {
            if good > 0 {
                if unmap && pattern.allSatisfy({ $0 == 0 }) {
                    try store.deallocate(at: lba * ss, count: good * ss)
                } else {
                    var failure: StoreError?
                    pattern.withUnsafeBytes { p in
                        do throws(StoreError) { try store.fill(at: lba * ss, blocks: good, pattern: p) } catch { failure = error }
                    }
                    if let failure { throw failure }
                }
            }
        } catch {
            throw CheckCondition(Self.writeFailure(error, sectorSize: ss), transferred: moved)
        }
        if let bad { throw CheckCondition(.writeError(lba: bad), transferred: moved) }
        return moved
    }

    /// UNMAP (SBC-4 5.28) with its parameter list of block descriptors. All descriptors are
    /// checked before any is applied.
    private func unmapLocked(_ ccb: CCB, _ cdb: CDB) throws(CheckCondition) -> Int {
        if cdb[1] & 0x01 != 0 { throw CheckCondition(.invalidFieldInCDB(byte: 1, bit: 0)) } // ANCHOR
        let length = Int(cdb.be(7, 2))
        guard length > 0 else { return 0 }
        let list = try DataPhase.receive(ccb, length, lengthField: 7)
        guard length >= 8 else { throw CheckCondition(.parameterListLengthError) }
        let descriptorBytes = min(Int(list.be(2, 2)), length - 8)
        let count = descriptorBytes / 16
        if count > Int(Self.maxUnmapDescriptors) { throw CheckCondition(.invalidFieldInParameterList(byte: 2)) }
        for i in 0..<count {
            let at = 8 + 16 * i
            let lba = list.be(at, 8)
            let blocks = list.be(at + 8, 4)
            if blocks > Self.maxUnmapBlocks { throw CheckCondition(.invalidFieldInParameterList(byte: at + 8)) }
            try checkRange(lba, blocks)
        }
        let ss = UInt64(sectorSize)
        for i in 0..<count {
            let at = 8 + 16 * i
            let lba = list.be(at, 8)
            let blocks = list.be(at + 8, 4)
            guard blocks > 0 else { continue }
            do {
                try store.deallocate(at: lba * ss, count: blocks * ss)
            } catch {
                throw CheckCondition(Self.writeFailure(error, sectorSize: ss), transferred: length)
            }
        }
        return length
    }

    static let maxUnmapDescriptors: UInt64 = 256
    static let maxUnmapBlocks: UInt64 = 0xFFFF_FFFF

    // MARK: mode pages

    /// Page bytes for `code` (0x08 caching, 0x0A control) as page control `pc` asks: 0 current,
    /// 1 changeable (a mask), 2 default.
    func modePage(_ code: UInt8, pc: UInt8) -> [UInt8] {
        switch code {
        case 0x08:
            // SBC-4 7.5.5. Only WCE changes.
            if pc == 1 { return [0x08, 0x12, 0x04] + [UInt8](repeating: 0, count: 17) }
            let wce = pc == 2 ? true : writeCacheEnabled
            return [0x08, 0x12, wce ? 0x04 : 0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00, 0xFF, 0xFF,
                    0xFF, 0xFF, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]
        default:
            // SPC-5 7.5.10. Only D_SENSE changes; GLTSD set (no log parameters are saved),
            // queue algorithm modifier 1 (unrestricted reordering allowed).
            if pc == 1 { return [0x0A, 0x0A, 0x04] + [UInt8](repeating: 0, count: 9) }
            let dsense = pc == 2 ? configuration.descriptorSense : descriptorSense
            return [0x0A, 0x0A, (dsense ? 0x04 : 0x00) | 0x02, 0x10, 0x00, 0x00, 0x00, 0x00,
                    0xFF, 0xFF, 0x00, 0x00]
        }
    }

    /// MODE SENSE(6/10) (SPC-5 6.13/6.14).
    private func modeSenseLocked(_ ccb: CCB, _ cdb: CDB) throws(CheckCondition) -> Int {
        let ten = cdb[0] == 0x5A
        let dbd = cdb[1] & 0x08 != 0
        let llbaa = ten && cdb[1] & 0x10 != 0
        let pc = cdb[2] >> 6
        let code = cdb[2] & 0x3F
        let subpage = cdb[3]
        let allocation = ten ? Int(cdb.be(7, 2)) : Int(cdb[4])
        if pc == 3 {
            var s = Sense.savingNotSupported
            s.field = FieldPointer(inCDB: true, byte: 2, bit: 7)
            throw CheckCondition(s)
        }
        var pages: [UInt8]
        switch (code, subpage) {
        case (0x08, 0), (0x0A, 0):
            pages = modePage(code, pc: pc)
        case (0x3F, 0), (0x3F, 0xFF):
            pages = modePage(0x08, pc: pc) + modePage(0x0A, pc: pc)
        default:
            throw CheckCondition(subpage != 0 && (code == 0x08 || code == 0x0A || code == 0x3F)
                ? .invalidFieldInCDB(byte: 3) : .invalidFieldInCDB(byte: 2, bit: 5))
        }
        var descriptor: [UInt8] = []
        if !dbd {
            if llbaa {
                descriptor.appendBE(blockCount, 8)
                descriptor.appendBE(0, 4)
                descriptor.appendBE(UInt64(sectorSize), 4)
            } else {
                descriptor.appendBE(min(blockCount, 0xFFFF_FFFF), 4)
                descriptor.append(0)
                descriptor.appendBE(UInt64(sectorSize), 3)
            }
        }
        // Device-specific parameter: DPOFUA (the disk honours FUA); WP clear.
        let dsp: UInt8 = 0x10
        var out: [UInt8]
        if ten {
            let total = 8 + descriptor.count + pages.count
            out = []
            out.appendBE(UInt64(total - 2), 2)
            out += [0x00, dsp, llbaa && !dbd ? 0x01 : 0x00, 0x00]
            out.appendBE(UInt64(descriptor.count), 2)
        } else {
            let total = 4 + descriptor.count + pages.count
            out = [UInt8(total - 1), 0x00, dsp, UInt8(descriptor.count)]
        }
        out += descriptor
        out += pages
        return DataPhase.send(ccb, out, allocation: allocation)
    }

    /// MODE SELECT(6/10) (SPC-5 6.11/6.12): the caching page's WCE and the control page's
    /// D_SENSE may change; anything else that differs from the current value is refused with
    /// INVALID FIELD IN PARAMETER LIST, and nothing is applied unless the whole list is good.
    private func modeSelectLocked(_ ccb: CCB, _ cdb: CDB) throws(CheckCondition) -> Int {
        let ten = cdb[0] == 0x55
        if cdb[1] & 0x01 != 0 { throw CheckCondition(.invalidFieldInCDB(byte: 1, bit: 0)) } // SP: nothing is saved
        let length = ten ? Int(cdb.be(7, 2)) : Int(cdb[4])
        guard length > 0 else { return 0 }
        let list = try DataPhase.receive(ccb, length, lengthField: ten ? 7 : 4)
        let header = ten ? 8 : 4
        guard length >= header else { throw CheckCondition(.parameterListLengthError) }
        let mediumTypeAt = ten ? 2 : 1
        if list[mediumTypeAt] != 0 { throw CheckCondition(.invalidFieldInParameterList(byte: mediumTypeAt)) }
        let longLBA = ten && list[4] & 0x01 != 0
        let bdlAt = ten ? 6 : 3
        let bdl = ten ? Int(list.be(6, 2)) : Int(list[3])
        guard bdl == 0 || bdl == (longLBA ? 16 : 8) else { throw CheckCondition(.invalidFieldInParameterList(byte: bdlAt)) }
        guard header + bdl <= length else { throw CheckCondition(.parameterListLengthError) }
        if bdl > 0 {
            let blocks = longLBA ? list.be(header, 8) : list.be(header, 4)
            let blockLengthAt = longLBA ? header + 12 : header + 5
            let blockLength = longLBA ? list.be(blockLengthAt, 4) : list.be(blockLengthAt, 3)
            if blockLength != UInt64(sectorSize) { throw CheckCondition(.invalidFieldInParameterList(byte: blockLengthAt)) }
            let shown = longLBA ? blockCount : min(blockCount, 0xFFFF_FFFF)
            if blocks != 0 && blocks != shown { throw CheckCondition(.invalidFieldInParameterList(byte: header)) }
        }
        var wce = writeCacheEnabled
        var dsense = descriptorSense
        var at = header + bdl
        while at < length {
            guard at + 2 <= length else { throw CheckCondition(.parameterListLengthError) }
            if list[at] & 0x40 != 0 { throw CheckCondition(.invalidFieldInParameterList(byte: at, bit: 6)) }
            let code = list[at] & 0x3F
            guard code == 0x08 || code == 0x0A else { throw CheckCondition(.invalidFieldInParameterList(byte: at, bit: 5)) }
            let pageLength = Int(list[at + 1])
            let current = modePage(code, pc: 0)
            let changeable = modePage(code, pc: 1)
            guard pageLength == current.count - 2 else { throw CheckCondition(.invalidFieldInParameterList(byte: at + 1)) }
            guard at + 2 + pageLength <= length else { throw CheckCondition(.parameterListLengthError) }
            for i in 2..<current.count {
                let diff = (list[at + i] ^ current[i]) & ~changeable[i]
                if diff != 0 {
                    let bit = 7 - diff.leadingZeroBitCount
                    throw CheckCondition(.invalidFieldInParameterList(byte: at + i, bit: bit))
                }
            }
            if code == 0x08 { wce = list[at + 2] & 0x04 != 0 } else { dsense = list[at + 2] & 0x04 != 0 }
            at += 2 + pageLength
        }
        if writeCacheEnabled && !wce { try? store.flush() }
        writeCacheEnabled = wce
        descriptorSense = dsense
        return length
    }
}
