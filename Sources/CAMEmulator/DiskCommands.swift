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

    /// Sends sense data as REQUEST SENSE returns it, built on the stack.
    static func sendSense(_ ccb: CCB, _ sense: SenseBuilder, descriptor: Bool, allocation: Int) -> Int {
        withUnsafeTemporaryAllocation(byteCount: 64, alignment: 8) { buf in
            let n = sense.write(descriptor ? .descriptor : .fixed, into: buf)
            return send(ccb, UnsafeRawBufferPointer(rebasing: buf[0..<n]), allocation: allocation)
        }
    }

    /// Fails the command when the host offers fewer than `count` bytes of data out: a target
    /// cannot take data that never comes, and answers ILLEGAL REQUEST, INVALID FIELD IN CDB
    /// pointing at the length field (what LIO and libiscsi's residual tests expect).
    static func requireOut(_ ccb: CCB, _ count: Int, lengthField: @autoclosure () -> Int?) throws(CheckCondition) {
        guard hostOut(ccb) >= count else { throw CheckCondition(.invalidFieldInCDB(byte: lengthField())) }
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

extension Array where Element == UInt8 {
    /// `withUnsafeMutableBytes` for a body that throws a `StoreError` (the standard one
    /// rethrows it as `any Error`).
    mutating func withTypedMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws(StoreError) -> R) throws(StoreError) -> R {
        try withUnsafeMutableBytes { b in Result { () throws(StoreError) in try body(b) } }.get()
    }
}

extension EmulatedDisk {
    // MARK: entry

    /// Runs `ccb` and fills in its outcome. The target's lock is held (a file-backed disk's
    /// I/O thread lets go of it around each system call; see `storeAccess`).
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

    /// INQUIRY, REPORT LUNS and REQUEST SENSE: answered by the firmware, past a pending unit
    /// attention (SAM-5 5.14) and without the medium's latency.
    @inline(__always)
    static func isFirmwareCommand(_ op: UInt8) -> Bool {
        let o = SCSIOpcode(op)
        return o == .inquiry || o == .reportLUNs || o == .requestSense
    }

    private func dispatchLocked(_ ccb: CCB, _ cdb: CDB, slot: TargetSlot) throws(CheckCondition) -> Int {
        let op = cdb.opcode
        // SAM-5 5.14: a pending unit attention ends any other command, and is reported once.
        if !unitAttentions.isEmpty && !Self.isFirmwareCommand(op) {
            throw CheckCondition(unitAttentions.removeFirst())
        }
        let length = Int(CommandTable.cdbLength[Int(op)])
        guard length > 0 else { throw CheckCondition(.illegalRequest, .invalidCommandOperationCode) }
        guard cdb.count >= length else { throw CheckCondition(.invalidFieldInCDB(byte: nil)) }
        // NACA (SPC-5 4.3.4.1): ACA is not supported.
        if cdb[length - 1] & 0x04 != 0 { throw CheckCondition(.invalidFieldInCDB(byte: length - 1, bit: 2)) }

        switch SCSIOpcode(op) {
        case .testUnitReady:
            try requireReady()
            return 0
        case .read10, .read16, .read6, .read12:
            try requireReady()
            return try readLocked(ccb, cdb)
        case .write10, .write16, .write6, .write12:
            try requireReady()
            return try writeLocked(ccb, cdb)
        case .requestSense:
            return requestSenseLocked(ccb, cdb)
        case .inquiry:
            return try inquiryLocked(ccb, cdb)
        case .readCapacity10:
            try requireReady()
            return try readCapacity10(ccb, cdb)
        case .serviceActionIn16:
            guard cdb.serviceAction == UInt16(SCSIOpcode.readCapacity16ServiceAction) else {
                throw CheckCondition(.invalidFieldInCDB(byte: 1, bit: 4))
            }
            try requireReady()
            return readCapacity16(ccb, cdb)
        case .verify10, .verify16:
            try requireReady()
            return try verifyLocked(ccb, cdb)
        case .synchronizeCache10, .synchronizeCache16:
            try requireReady()
            return try synchronizeCacheLocked(cdb)
        case .modeSense6, .modeSense10:
            return try modeSenseLocked(ccb, cdb)
        case .modeSelect6, .modeSelect10:
            return try modeSelectLocked(ccb, cdb)
        case .reportLUNs:
            return try slot.reportLUNsLocked(ccb, cdb)
        case .startStopUnit:
            return try startStopLocked(cdb)
        case .writeSame16:
            try requireReady()
            return try writeSameLocked(ccb, cdb)
        case .unmap:
            try requireReady()
            return try unmapLocked(ccb, cdb)
        case .maintenanceIn:
            guard cdb.serviceAction == UInt16(SCSIOpcode.reportSupportedOperationCodesServiceAction) else {
                throw CheckCondition(.invalidFieldInCDB(byte: 1, bit: 4))
            }
            return try CommandTable.reportSupportedOperationCodes(ccb, cdb)
        default:
            throw CheckCondition(.illegalRequest, .invalidCommandOperationCode)
        }
    }

    private func requireReady() throws(CheckCondition) {
        if !started { throw CheckCondition(.notReady, .notReadyInitializingCommandRequired) }
    }

    // MARK: SPC

    /// REQUEST SENSE (SPC-5 6.39): a pending unit attention (and clears it), NOT READY while
    /// stopped, or NO SENSE. DESC picks the format.
    private func requestSenseLocked(_ ccb: CCB, _ cdb: CDB) -> Int {
        let sense: SenseBuilder
        if !unitAttentions.isEmpty {
            sense = unitAttentions.removeFirst()
        } else if !started {
            sense = SenseBuilder(key: .notReady, .notReadyInitializingCommandRequired)
        } else {
            sense = SenseBuilder(key: .noSense, .noAdditionalSenseInformation)
        }
        return DataPhase.sendSense(ccb, sense, descriptor: cdb[1] & 0x01 != 0, allocation: cdb.allocationLength ?? 0)
    }

    /// INQUIRY (SPC-5 6.7): standard data or a VPD page.
    private func inquiryLocked(_ ccb: CCB, _ cdb: CDB) throws(CheckCondition) -> Int {
        if cdb[1] & 0x02 != 0 { throw CheckCondition(.invalidFieldInCDB(byte: 1, bit: 1)) } // CmdDt: obsolete
        let allocation = cdb.allocationLength ?? 0
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
            if !start && started && cdb[4] & 0x04 == 0 { try? storeAccess { () throws(StoreError) in try store.flush() } }
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
        if cdb[8] & 0x01 == 0 && cdb.bigEndian(at: 2, width: 4) != 0 { throw CheckCondition(.invalidFieldInCDB(byte: 2)) }
        let last = blockCount - 1
        // 0xFFFFFFFF: too big for this command; the initiator must use READ CAPACITY(16).
        let data = ReadCapacity10(lastLBA: UInt32(clamping: last), blockLength: UInt32(sectorSize)).bytes
        return DataPhase.send(ccb, data, allocation: cdb.allocationLength ?? 0)
    }

    private func readCapacity16(_ ccb: CCB, _ cdb: CDB) -> Int {
        // LBPME and LBPRZ: thin provisioned, unmapped blocks read as zeros.
        let data = ReadCapacity16(lastLBA: blockCount - 1, blockLength: UInt32(sectorSize),
                                  provisioningManagementEnabled: true, provisioningReadZeros: true).bytes
        return DataPhase.send(ccb, data, allocation: cdb.allocationLength ?? 0)
    }

    // MARK: SBC data commands

    /// LBA OUT OF RANGE when the range leaves the medium (SBC-4 4.5).
    private func checkRange(_ lba: UInt64, _ blocks: UInt64) throws(CheckCondition) {
        if lba > blockCount || blocks > blockCount - lba {
            throw CheckCondition(.illegalRequest, .logicalBlockAddressOutOfRange)
        }
    }

    /// The checks of READ and WRITE; returns the LBA and block count.
    @inline(__always)
    private func checkTransfer(_ cdb: CDB) throws(CheckCondition) -> (lba: UInt64, blocks: UInt64) {
        // The dispatcher checked the opcode and the CDB's length.
        guard let rw = cdb.readWriteFields else { throw CheckCondition(.invalidFieldInCDB(byte: nil)) }
        // No protection information: RDPROTECT/WRPROTECT must be zero (SBC-4 5.16).
        if cdb.protectionField != 0 { throw CheckCondition(.invalidFieldInCDB(byte: 1, bit: 7)) }
        let blocks = UInt64(rw.blocks)
        try checkRange(rw.lba, blocks)
        // More than the block limits page's MAXIMUM TRANSFER LENGTH (SBC-4 6.6.4).
        if blocks > maxTransferBlocks { throw CheckCondition(.invalidFieldInCDB(byte: cdb.blockCountOffset)) }
        return (rw.lba, blocks)
    }

    private func readLocked(_ ccb: CCB, _ cdb: CDB) throws(CheckCondition) -> Int {
        let r = try checkTransfer(cdb)
        guard r.blocks > 0 else { return 0 }
        let ss = UInt64(sectorSize)
        let bad = firstBadLBALocked(r.lba, r.blocks)
        let good = (bad ?? (r.lba + r.blocks)) - r.lba
        let count = Int(min(UInt64(DataPhase.hostIn(ccb)), good * ss))
        if count > 0 {
            do {
                try storeAccess { () throws(StoreError) in
                    try ccb.data.withCursor(limit: count) { (c) throws(StoreError) in
                        try store.read(at: r.lba * ss, count: count, into: &c)
                    }
                }
            } catch {
                throw CheckCondition(.mediumError, .unrecoveredReadError, information: error.offset / ss)
            }
        }
        stats.reads += 1
        stats.bytesRead += UInt64(count)
        if let bad { throw CheckCondition(.mediumError, .unrecoveredReadError, information: bad, transferred: count) }
        return count
    }

    private func writeLocked(_ ccb: CCB, _ cdb: CDB) throws(CheckCondition) -> Int {
        let r = try checkTransfer(cdb)
        guard r.blocks > 0 else { return 0 }
        let ss = UInt64(sectorSize)
        let needed = Int(r.blocks * ss)
        try DataPhase.requireOut(ccb, needed, lengthField: cdb.blockCountOffset)
        let bad = firstBadLBALocked(r.lba, r.blocks)
        let good = Int(((bad ?? (r.lba + r.blocks)) - r.lba) * ss)
        if good > 0 {
            // FUA, or no write cache: the data must be on stable storage before GOOD.
            let flush = cdb.fua || !writeCacheEnabled
            do {
                try storeAccess { () throws(StoreError) in
                    try ccb.data.withCursor(limit: good) { (c) throws(StoreError) in
                        try store.write(at: r.lba * ss, count: good, from: &c)
                    }
                    if flush { try store.flush() }
                }
            } catch {
                throw CheckCondition(Self.writeFailure(error, sectorSize: ss))
            }
        }
        stats.writes += 1
        stats.bytesWritten += UInt64(good)
        if let bad { throw CheckCondition(.mediumError, .writeError, information: bad, transferred: good) }
        return needed
    }

    /// A failed write: DATA PROTECT, SPACE ALLOCATION FAILED WRITE PROTECT when the backing
    /// file's file system is full (as a thin-provisioned disk out of space answers), else
    /// MEDIUM ERROR, WRITE ERROR; both at the LBA that failed.
    static func writeFailure(_ error: StoreError, sectorSize ss: UInt64) -> SenseBuilder {
        let lba = error.offset / ss
        return error.errno == ENOSPC || error.errno == EDQUOT
            ? SenseBuilder(key: .dataProtect, .spaceAllocationFailedWriteProtect, information: lba)
            : SenseBuilder(key: .mediumError, .writeError, information: lba)
    }

    /// VERIFY(10/16) (SBC-4 5.30): BYTCHK 0 checks the medium, 1 compares the data out with
    /// the blocks, 3 compares one block of data out with each block.
    private func verifyLocked(_ ccb: CCB, _ cdb: CDB) throws(CheckCondition) -> Int {
        guard let range = cdb.blockRange else { throw CheckCondition(.invalidFieldInCDB(byte: nil)) }
        let lba = range.lba
        let blocks = UInt64(range.blocks)
        let lengthField = cdb.blockCountOffset
        if cdb.protectionField != 0 { throw CheckCondition(.invalidFieldInCDB(byte: 1, bit: 7)) }
        let bytchk = (cdb[1] >> 1) & 0x03
        if bytchk == 2 { throw CheckCondition(.invalidFieldInCDB(byte: 1, bit: 2)) }
        try checkRange(lba, blocks)
        if blocks > maxTransferBlocks && bytchk == 1 { throw CheckCondition(.invalidFieldInCDB(byte: lengthField)) }
        guard blocks > 0 else { return 0 }
        let ss = UInt64(sectorSize)
        let needed = cdb.dataTransfer(blockSize: sectorSize)?.length ?? 0
        try DataPhase.requireOut(ccb, needed, lengthField: lengthField)
        if let bad = firstBadLBALocked(lba, blocks) {
            throw CheckCondition(.mediumError, .unrecoveredReadError, information: bad)
        }
        guard bytchk != 0 else { return 0 }
        // BYTCHK 3: the one block, compared with each block in turn.
        var pattern = bytchk == 3 ? try DataPhase.receive(ccb, needed, lengthField: lengthField) : []
        let mismatch: Int?
        do {
            mismatch = try storeAccess { () throws(StoreError) -> Int? in
                if bytchk == 1 {
                    return try ccb.data.withCursor(limit: needed) { (c) throws(StoreError) -> Int? in
                        try store.compare(at: lba * ss, count: needed, with: &c)
                    }
                }
                return try pattern.withTypedMutableBytes { (b) throws(StoreError) -> Int? in
                    var iov = iovec(iov_base: b.baseAddress, iov_len: b.count)
                    return try withUnsafeMutablePointer(to: &iov) { (p) throws(StoreError) -> Int? in
                        for i in 0..<blocks {
                            var c = HostCursor(segments: p, count: 1, limit: b.count)
                            if let m = try store.compare(at: (lba + i) * ss, count: b.count, with: &c) { return m }
                        }
                        return nil
                    }
                }
            }
        } catch {
            throw CheckCondition(.mediumError, .unrecoveredReadError, information: error.offset / ss)
        }
        if let mismatch {
            throw CheckCondition(.miscompare, .miscompareDuringVerify, information: UInt64(mismatch), transferred: needed)
        }
        return needed
    }

    /// SYNCHRONIZE CACHE(10/16) (SBC-4 5.26): number of blocks 0 means to the end.
    private func synchronizeCacheLocked(_ cdb: CDB) throws(CheckCondition) -> Int {
        guard let range = cdb.blockRange else { throw CheckCondition(.invalidFieldInCDB(byte: nil)) }
        try checkRange(range.lba, UInt64(range.blocks))
        if range.lba == blockCount && range.blocks == 0 { throw CheckCondition(.illegalRequest, .logicalBlockAddressOutOfRange) }
        do {
            try storeAccess { () throws(StoreError) in try store.flush() }
        } catch {
            throw CheckCondition(.mediumError, .writeError, information: range.lba)
        }
        return 0
    }

    /// WRITE SAME(16) (SBC-4 5.50): one block (or zeros with NDOB) into a range; with UNMAP and
    /// zeros, the range is deallocated instead.
    private func writeSameLocked(_ ccb: CCB, _ cdb: CDB) throws(CheckCondition) -> Int {
        let flags = cdb[1]
        if cdb.protectionField != 0 { throw CheckCondition(.invalidFieldInCDB(byte: 1, bit: 7)) }
        if flags & 0x10 != 0 { throw CheckCondition(.invalidFieldInCDB(byte: 1, bit: 4)) } // ANCHOR: ANC_SUP is 0
        let unmap = flags & 0x08 != 0
        guard let range = cdb.blockRange else { throw CheckCondition(.invalidFieldInCDB(byte: nil)) }
        let lba = range.lba
        let blocks = UInt64(range.blocks)
        // WSNZ is set in the block limits page: zero blocks is not "to the end".
        if blocks == 0 { throw CheckCondition(.invalidFieldInCDB(byte: 10)) }
        try checkRange(lba, blocks)
        let ss = UInt64(sectorSize)
        // NDOB: no data out, the block is zeros.
        let moved = cdb.dataTransfer(blockSize: sectorSize)?.length ?? 0
        var pattern = moved > 0
            ? try DataPhase.receive(ccb, moved, lengthField: nil) : [UInt8](repeating: 0, count: sectorSize)
        let bad = firstBadLBALocked(lba, blocks)
        let good = (bad ?? (lba + blocks)) - lba
        do {
            if good > 0 {
                try storeAccess { () throws(StoreError) in
                    if unmap && pattern.allSatisfy({ $0 == 0 }) {
                        try store.deallocate(at: lba * ss, count: good * ss)
                    } else {
                        try pattern.withTypedMutableBytes { (p) throws(StoreError) in
                            try store.fill(at: lba * ss, blocks: good, pattern: UnsafeRawBufferPointer(p))
                        }
                    }
                }
            }
        } catch {
            throw CheckCondition(Self.writeFailure(error, sectorSize: ss), transferred: moved)
        }
        if let bad { throw CheckCondition(.mediumError, .writeError, information: bad, transferred: moved) }
        return moved
    }

    /// UNMAP (SBC-4 5.28) with its parameter list of block descriptors. All descriptors are
    /// checked before any is applied.
    private func unmapLocked(_ ccb: CCB, _ cdb: CDB) throws(CheckCondition) -> Int {
        if cdb[1] & 0x01 != 0 { throw CheckCondition(.invalidFieldInCDB(byte: 1, bit: 0)) } // ANCHOR
        let length = cdb.dataTransfer(blockSize: sectorSize)?.length ?? 0
        guard length > 0 else { return 0 }
        let list = try DataPhase.receive(ccb, length, lengthField: 7)
        guard length >= 8 else { throw CheckCondition(.illegalRequest, .parameterListLengthError) }
        // Lengths that disagree with each other or with the data: the descriptor length is wrong.
        guard let ranges = UnmapParameterList.decode(list) else {
            throw CheckCondition(.invalidFieldInParameterList(byte: 2))
        }
        if ranges.count > Int(Self.maxUnmapDescriptors) { throw CheckCondition(.invalidFieldInParameterList(byte: 2)) }
        // MAXIMUM UNMAP LBA COUNT is 2^32-1: no single descriptor can ask for more.
        for r in ranges { try checkRange(r.lba, UInt64(r.blocks)) }
        let ss = UInt64(sectorSize)
        do {
            try storeAccess { () throws(StoreError) in
                for r in ranges where r.blocks > 0 {
                    try store.deallocate(at: r.lba * ss, count: UInt64(r.blocks) * ss)
                }
            }
        } catch {
            throw CheckCondition(Self.writeFailure(error, sectorSize: ss), transferred: length)
        }
        return length
    }

    static let maxUnmapDescriptors: UInt64 = 256
    static let maxUnmapBlocks: UInt64 = 0xFFFF_FFFF

    // MARK: mode pages

    /// The caching (0x08) or control (0x0A) page as page control `pc` asks: current, default,
    /// or the changeable mask. Only WCE and D_SENSE change.
    func modePage(_ code: UInt8, pc: ModePageControl) -> ModePage {
        if code == 0x08 {
            // SBC-4 7.5.5.
            if pc == .changeable { return CachingModePage(writeCacheEnabled: true).page }
            var c = CachingModePage(writeCacheEnabled: pc == .default ? true : writeCacheEnabled)
            c.disablePrefetchTransferLength = 0xFFFF
            c.maximumPrefetch = 0xFFFF
            c.maximumPrefetchCeiling = 0xFFFF
            c.numberOfCacheSegments = 0x14
            return c.page
        }
        // SPC-5 7.5.10: GLTSD set (no log parameters are saved), queue algorithm modifier 1
        // (unrestricted reordering allowed), no busy time-out limit.
        if pc == .changeable { return ControlModePage(descriptorSense: true, queueAlgorithmModifier: 0).page }
        var c = ControlModePage(descriptorSense: pc == .default ? configuration.descriptorSense : descriptorSense)
        c.globalLoggingTargetSaveDisable = true
        c.busyTimeoutPeriod = 0xFFFF
        return c.page
    }

    /// MODE SENSE(6/10) (SPC-5 6.13/6.14).
    private func modeSenseLocked(_ ccb: CCB, _ cdb: CDB) throws(CheckCondition) -> Int {
        let ten = cdb.opcode == SCSIOpcode.modeSense10.rawValue
        let dbd = cdb[1] & 0x08 != 0
        let llbaa = ten && cdb[1] & 0x10 != 0
        let pc = ModePageControl(rawValue: cdb[2] >> 6)!
        let code = cdb[2] & 0x3F
        let subpage = cdb[3]
        if pc == .saved {
            throw CheckCondition(SenseBuilder(key: .illegalRequest, .savingParametersNotSupported,
                                              senseKeySpecific: .fieldPointer(inCDB: true, byte: 2, bit: 7)))
        }
        let pages: [ModePage]
        switch (code, subpage) {
        case (0x08, 0), (0x0A, 0):
            pages = [modePage(code, pc: pc)]
        case (0x3F, 0), (0x3F, 0xFF):
            pages = [modePage(0x08, pc: pc), modePage(0x0A, pc: pc)]
        default:
            throw CheckCondition(subpage != 0 && (code == 0x08 || code == 0x0A || code == 0x3F)
                ? .invalidFieldInCDB(byte: 3) : .invalidFieldInCDB(byte: 2, bit: 5))
        }
        // Device-specific parameter: DPOFUA (the disk honours FUA); WP clear.
        let parameters = ModeParameters(
            header: ModeParameterHeader(deviceSpecificParameter: 0x10, longLBA: llbaa && !dbd, tenByte: ten),
            blockDescriptors: dbd ? [] : [ModeBlockDescriptor(numberOfBlocks: blockCount, blockLength: UInt32(sectorSize))],
            pages: pages)
        guard let data = parameters.encode() else { throw CheckCondition(.hardwareError, .internalTargetFailure) }
        return DataPhase.send(ccb, data, allocation: cdb.allocationLength ?? 0)
    }

    /// MODE SELECT(6/10) (SPC-5 6.11/6.12): the caching page's WCE and the control page's
    /// D_SENSE may change; anything else that differs from the current value is refused with
    /// INVALID FIELD IN PARAMETER LIST, and nothing is applied unless the whole list is good.
    private func modeSelectLocked(_ ccb: CCB, _ cdb: CDB) throws(CheckCondition) -> Int {
        let ten = cdb.opcode == SCSIOpcode.modeSelect10.rawValue
        if cdb[1] & 0x01 != 0 { throw CheckCondition(.invalidFieldInCDB(byte: 1, bit: 0)) } // SP: nothing is saved
        let length = cdb.dataTransfer(blockSize: sectorSize)?.length ?? 0
        guard length > 0 else { return 0 }
        let list = try DataPhase.receive(ccb, length, lengthField: ten ? 7 : 4)
        let lengthError = CheckCondition(.illegalRequest, .parameterListLengthError)
        guard let parameters = ModeParameters(list, tenByte: ten, forModeSelect: true) else { throw lengthError }
        let h = parameters.header
        if h.mediumType != 0 { throw CheckCondition(.invalidFieldInParameterList(byte: ten ? 2 : 1)) }
        let bdl = h.blockDescriptorLength
        guard bdl == 0 || bdl == (h.longLBA ? 16 : 8) else {
            throw CheckCondition(.invalidFieldInParameterList(byte: ten ? 6 : 3))
        }
        guard h.headerLength + bdl <= length else { throw lengthError }
        if let d = parameters.blockDescriptors.first {
            if d.blockLength != UInt32(sectorSize) {
                throw CheckCondition(.invalidFieldInParameterList(byte: h.headerLength + (h.longLBA ? 12 : 5)))
            }
            let shown = h.longLBA ? blockCount : min(blockCount, 0xFFFF_FFFF)
            if d.numberOfBlocks != 0 && d.numberOfBlocks != shown {
                throw CheckCondition(.invalidFieldInParameterList(byte: h.headerLength))
            }
        }
        var wce = writeCacheEnabled
        var dsense = descriptorSense
        var at = h.headerLength + bdl
        for page in parameters.pages {
            if page.isSubpageFormat { throw CheckCondition(.invalidFieldInParameterList(byte: at, bit: 6)) }
            guard page.code == 0x08 || page.code == 0x0A else {
                throw CheckCondition(.invalidFieldInParameterList(byte: at, bit: 5))
            }
            let current = modePage(page.code, pc: .current).bytes
            let changeable = modePage(page.code, pc: .changeable).bytes
            guard page.pageLength == current.count - 2 else { throw CheckCondition(.invalidFieldInParameterList(byte: at + 1)) }
            guard page.bytes.count == current.count else { throw lengthError }
            for i in 2..<current.count {
                let diff = (page.bytes[i] ^ current[i]) & ~changeable[i]
                if diff != 0 {
                    throw CheckCondition(.invalidFieldInParameterList(byte: at + i, bit: 7 - diff.leadingZeroBitCount))
                }
            }
            if let c = CachingModePage(page) { wce = c.writeCacheEnabled }
            if let c = ControlModePage(page) { dsense = c.descriptorSense }
            at += page.bytes.count
        }
        // A byte left over too short to be a page header.
        guard at == length else { throw lengthError }
        if writeCacheEnabled && !wce { try? storeAccess { () throws(StoreError) in try store.flush() } }
        writeCacheEnabled = wce
        descriptorSense = dsense
        return length
    }
}
