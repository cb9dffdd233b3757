// CDB builders for the commands CAM, camdd and camcontrol send (FreeBSD's scsi_read_write,
// scsi_inquiry, scsi_read_capacity, ... in scsi_all.c and scsi_da.c). Each writes into a
// `CDB` value: no heap allocation, so the READ/WRITE builders can run per command.
//
// None of them can fail: every argument a caller can give has a CDB. The one bound, a
// `minimumSize` of at most 16 (the longest CDB these commands have), is a programmer's error
// when broken (camdd checks its `mcs=` in `validate()`), so it is a precondition.

/// MODE SENSE page control (PC, SPC-5 6.14.2): which values of a mode page to return.
public enum ModePageControl: UInt8, Sendable, CaseIterable {
    case current = 0
    case changeable = 1
    case `default` = 2
    case saved = 3
}

extension CDB {
    // MARK: SPC

    /// TEST UNIT READY (SPC-5 6.37): 6 bytes, no data.
    public static func testUnitReady() -> CDB {
        CDB(count: 6)
    }

    /// REQUEST SENSE (SPC-5 6.29): asks for sense data, descriptor format when `descriptorFormat`.
    public static func requestSense(allocationLength: UInt8 = 252, descriptorFormat: Bool = false) -> CDB {
        var c = CDB(count: 6)
        c[0] = 0x03
        c[1] = descriptorFormat ? 0x01 : 0
        c[4] = allocationLength
        return c
    }

    /// INQUIRY (SPC-5 6.6): standard data when `vpdPage` is nil, else the vital product data
    /// page (EVPD set).
    public static func inquiry(vpdPage: UInt8? = nil, allocationLength: UInt16) -> CDB {
        var c = CDB(count: 6)
        c[0] = 0x12
        if let page = vpdPage {
            c[1] = 0x01
            c[2] = page
        }
        c.setBigEndian(UInt64(allocationLength), at: 3, width: 2)
        return c
    }

    /// MODE SENSE(6) (SPC-5 6.14): `page` 0x3F and `subpage` 0xFF for all pages and subpages.
    public static func modeSense6(
        page: UInt8, subpage: UInt8 = 0, pageControl: ModePageControl = .current,
        disableBlockDescriptors: Bool = false, allocationLength: UInt8 = 255
    ) -> CDB {
        var c = CDB(count: 6)
        c[0] = 0x1A
        c[1] = disableBlockDescriptors ? 0x08 : 0
        c[2] = pageControl.rawValue << 6 | (page & 0x3F)
        c[3] = subpage
        c[4] = allocationLength
        return c
    }

    /// MODE SENSE(10) (SPC-5 6.15); `longLBAAccepted` (LLBAA) allows 16-byte block descriptors.
    public static func modeSense10(
        page: UInt8, subpage: UInt8 = 0, pageControl: ModePageControl = .current,
        disableBlockDescriptors: Bool = false, longLBAAccepted: Bool = false,
        allocationLength: UInt16 = 0xFFFF
    ) -> CDB {
        var c = CDB(count: 10)
        c[0] = 0x5A
        c[1] = (longLBAAccepted ? 0x10 : 0) | (disableBlockDescriptors ? 0x08 : 0)
        c[2] = pageControl.rawValue << 6 | (page & 0x3F)
        c[3] = subpage
        c.setBigEndian(UInt64(allocationLength), at: 7, width: 2)
        return c
    }

    /// MODE SELECT(6) (SPC-5 6.12): PF (page format) and SP (save pages); the parameter list
    /// (header, block descriptors, pages) follows as data-out.
    public static func modeSelect6(pageFormat: Bool = true, savePages: Bool = false, parameterListLength: UInt8) -> CDB {
        var c = CDB(count: 6)
        c[0] = 0x15
        c[1] = (pageFormat ? 0x10 : 0) | (savePages ? 0x01 : 0)
        c[4] = parameterListLength
        return c
    }

    /// MODE SELECT(10) (SPC-5 6.13).
    public static func modeSelect10(pageFormat: Bool = true, savePages: Bool = false, parameterListLength: UInt16) -> CDB {
        var c = CDB(count: 10)
        c[0] = 0x55
        c[1] = (pageFormat ? 0x10 : 0) | (savePages ? 0x01 : 0)
        c.setBigEndian(UInt64(parameterListLength), at: 7, width: 2)
        return c
    }

    /// REPORT LUNS (SPC-5 6.33); `selectReport` 0 lists the logical units addressable through
    /// this I_T nexus. SPC requires an allocation length of at least 16.
    public static func reportLUNs(selectReport: UInt8 = 0, allocationLength: UInt32) -> CDB {
        var c = CDB(count: 12)
        c[0] = 0xA0
        c[2] = selectReport
        c.setBigEndian(UInt64(allocationLength), at: 6, width: 4)
        return c
    }

    /// REPORT SUPPORTED OPERATION CODES (SPC-5 6.35, MAINTENANCE IN service action 0x0C).
    /// `options` is the REPORTING OPTIONS field: 0 all commands, 1 one opcode, 2 one opcode and
    /// service action, 3 either. `returnTimeouts` sets RCTD.
    public static func reportSupportedOperationCodes(
        options: UInt8 = 0, requestedOpcode: UInt8 = 0, requestedServiceAction: UInt16 = 0,
        returnTimeouts: Bool = false, allocationLength: UInt32
    ) -> CDB {
        var c = CDB(count: 12)
        c[0] = 0xA3
        c[1] = 0x0C
        c[2] = (returnTimeouts ? 0x80 : 0) | (options & 0x07)
        c[3] = requestedOpcode
        c.setBigEndian(UInt64(requestedServiceAction), at: 4, width: 2)
        c.setBigEndian(UInt64(allocationLength), at: 6, width: 4)
        return c
    }

    // MARK: SBC

    /// READ CAPACITY(10) (SBC-4 5.20): 8 bytes of data.
    public static func readCapacity10() -> CDB {
        var c = CDB(count: 10)
        c[0] = 0x25
        return c
    }

    /// READ CAPACITY(16) (SBC-4 5.21, SERVICE ACTION IN(16) service action 0x10).
    public static func readCapacity16(allocationLength: UInt32 = 32) -> CDB {
        var c = CDB(count: 16)
        c[0] = 0x9E
        c[1] = 0x10
        c.setBigEndian(UInt64(allocationLength), at: 10, width: 4)
        return c
    }

    /// READ(6/10/12/16) (SBC-4 5.12-5.15) of `blocks` blocks at `lba`, in the smallest CDB that
    /// holds them and is at least `minimumSize` bytes (camdd's `mcs=`), as FreeBSD's
    /// `scsi_read_write` chooses. `minimumSize` must be at most 16.
    ///
    /// READ(6) needs lba < 2^21, 1...256 blocks and no FUA/DPO (it has no flag bits; its
    /// length 0 means 256, so zero blocks needs READ(10)). READ(10) holds a 32-bit LBA and
    /// 16-bit length, READ(12) a 32-bit LBA and 32-bit length, READ(16) the rest.
    @inlinable
    public static func read(lba: UInt64, blocks: UInt32, minimumSize: Int = 6, fua: Bool = false, dpo: Bool = false) -> CDB {
        readWrite(isWrite: false, lba: lba, blocks: blocks, minimumSize: minimumSize, fua: fua, dpo: dpo)
    }

    /// WRITE(6/10/12/16) (SBC-4 5.40-5.43), sized as `read(lba:blocks:minimumSize:fua:dpo:)`.
    @inlinable
    public static func write(lba: UInt64, blocks: UInt32, minimumSize: Int = 6, fua: Bool = false, dpo: Bool = false) -> CDB {
        readWrite(isWrite: true, lba: lba, blocks: blocks, minimumSize: minimumSize, fua: fua, dpo: dpo)
    }

    /// The CDB size READ/WRITE use for these arguments (6, 10, 12 or 16); `minimumSize` must
    /// be at most 16.
    @inlinable
    public static func readWriteSize(lba: UInt64, blocks: UInt32, minimumSize: Int = 6, fua: Bool = false, dpo: Bool = false) -> Int {
        precondition(minimumSize <= 16, "a READ/WRITE CDB is at most 16 bytes (minimumSize \(minimumSize))")
        if minimumSize <= 6, lba < (1 << 21), blocks >= 1, blocks <= 256, !fua, !dpo { return 6 }
        if minimumSize <= 10, lba <= UInt64(UInt32.max), blocks <= UInt32(UInt16.max) { return 10 }
        if minimumSize <= 12, lba <= UInt64(UInt32.max) { return 12 }
        return 16
    }

    /// READ or WRITE, 6 to 16 bytes; see `read(lba:blocks:minimumSize:fua:dpo:)`.
    @inlinable
    public static func readWrite(isWrite: Bool, lba: UInt64, blocks: UInt32, minimumSize: Int = 6, fua: Bool = false, dpo: Bool = false) -> CDB {
        let size = readWriteSize(lba: lba, blocks: blocks, minimumSize: minimumSize, fua: fua, dpo: dpo)
        var c = CDB(count: size)
        let flags: UInt8 = (dpo ? 0x10 : 0) | (fua ? 0x08 : 0)
        switch size {
        case 6:
            c[0] = isWrite ? 0x0A : 0x08
            c.setBigEndian(lba, at: 1, width: 3)  // bits 20-16 land in byte 1 bits 4-0
            c[4] = UInt8(truncatingIfNeeded: blocks)  // 256 is written as 0
        case 10:
            c[0] = isWrite ? 0x2A : 0x28
            c[1] = flags
            c.setBigEndian(lba, at: 2, width: 4)
            c.setBigEndian(UInt64(blocks), at: 7, width: 2)
        case 12:
            c[0] = isWrite ? 0xAA : 0xA8
            c[1] = flags
            c.setBigEndian(lba, at: 2, width: 4)
            c.setBigEndian(UInt64(blocks), at: 6, width: 4)
        default:
            c[0] = isWrite ? 0x8A : 0x88
            c[1] = flags
            c.setBigEndian(lba, at: 2, width: 8)
            c.setBigEndian(UInt64(blocks), at: 10, width: 4)
        }
        return c
    }

    /// VERIFY(10/12/16) (SBC-4 5.34-5.36), the smallest that holds `lba` and `blocks` and is
    /// at least `minimumSize`. `byteCheck` is BYTCHK: 0 medium check only, 1 compare with
    /// data-out, 3 compare every block with one block of data-out. `minimumSize` must be at
    /// most 16.
    public static func verify(lba: UInt64, blocks: UInt32, byteCheck: UInt8 = 0, dpo: Bool = false, minimumSize: Int = 10) -> CDB {
        precondition(minimumSize <= 16, "a VERIFY CDB is at most 16 bytes (minimumSize \(minimumSize))")
        let b1: UInt8 = (dpo ? 0x10 : 0) | (byteCheck & 0x03) << 1
        var c: CDB
        if minimumSize <= 10, lba <= UInt64(UInt32.max), blocks <= UInt32(UInt16.max) {
            c = CDB(count: 10)
            c[0] = 0x2F
            c.setBigEndian(lba, at: 2, width: 4)
            c.setBigEndian(UInt64(blocks), at: 7, width: 2)
        } else if minimumSize <= 12, lba <= UInt64(UInt32.max) {
            c = CDB(count: 12)
            c[0] = 0xAF
            c.setBigEndian(lba, at: 2, width: 4)
            c.setBigEndian(UInt64(blocks), at: 6, width: 4)
        } else {
            c = CDB(count: 16)
            c[0] = 0x8F
            c.setBigEndian(lba, at: 2, width: 8)
            c.setBigEndian(UInt64(blocks), at: 10, width: 4)
        }
        c[1] = b1
        return c
    }

    /// SYNCHRONIZE CACHE(10/16) (SBC-4 5.28, 5.29): `blocks` 0 means from `lba` to the end
    /// (so the defaults flush everything). Uses (16) when the range needs it or
    /// `minimumSize` > 10; `minimumSize` must be at most 16.
    public static func synchronizeCache(lba: UInt64 = 0, blocks: UInt32 = 0, immediate: Bool = false, minimumSize: Int = 10) -> CDB {
        precondition(minimumSize <= 16, "a SYNCHRONIZE CACHE CDB is at most 16 bytes (minimumSize \(minimumSize))")
        var c: CDB
        if minimumSize <= 10, lba <= UInt64(UInt32.max), blocks <= UInt32(UInt16.max) {
            c = CDB(count: 10)
            c[0] = 0x35
            c.setBigEndian(lba, at: 2, width: 4)
            c.setBigEndian(UInt64(blocks), at: 7, width: 2)
        } else {
            c = CDB(count: 16)
            c[0] = 0x91
            c.setBigEndian(lba, at: 2, width: 8)
            c.setBigEndian(UInt64(blocks), at: 10, width: 4)
        }
        c[1] = immediate ? 0x02 : 0
        return c
    }

    /// START STOP UNIT (SBC-4 5.27). `powerCondition` is the POWER CONDITION field (0 to use
    /// START and LOEJ; 1 active, 2 idle, 3 standby, ...).
    public static func startStopUnit(
        start: Bool, loadEject: Bool = false, immediate: Bool = false,
        powerCondition: UInt8 = 0, powerConditionModifier: UInt8 = 0, noFlush: Bool = false
    ) -> CDB {
        var c = CDB(count: 6)
        c[0] = 0x1B
        c[1] = immediate ? 0x01 : 0
        c[3] = powerConditionModifier & 0x0F
        c[4] = (powerCondition & 0x0F) << 4 | (noFlush ? 0x04 : 0) | (loadEject ? 0x02 : 0) | (start ? 0x01 : 0)
        return c
    }

    /// WRITE SAME(16) (SBC-4 5.50): writes one block of data-out to `blocks` blocks at `lba`;
    /// `unmap` asks to unmap them instead (thin provisioning), `noDataOutBuffer` (NDOB) sends
    /// no data and writes zeroes. `blocks` 0 means to the end of the medium when the device allows.
    public static func writeSame16(lba: UInt64, blocks: UInt32, unmap: Bool = false, anchor: Bool = false, noDataOutBuffer: Bool = false) -> CDB {
        var c = CDB(count: 16)
        c[0] = 0x93
        c[1] = (anchor ? 0x10 : 0) | (unmap ? 0x08 : 0) | (noDataOutBuffer ? 0x01 : 0)
        c.setBigEndian(lba, at: 2, width: 8)
        c.setBigEndian(UInt64(blocks), at: 10, width: 4)
        return c
    }

    /// UNMAP (SBC-4 5.32): the block descriptors follow as data-out; build them with
    /// `UnmapParameterList`.
    public static func unmap(parameterListLength: UInt16, anchor: Bool = false) -> CDB {
        var c = CDB(count: 10)
        c[0] = 0x42
        c[1] = anchor ? 0x01 : 0
        c.setBigEndian(UInt64(parameterListLength), at: 7, width: 2)
        return c
    }
}
