import Testing
import SCSI

@Suite("CDB decoding")
struct CDBDecodeTests {
    @Test("readWriteFields round-trips every READ/WRITE size")
    func readWriteRoundTrip() throws {
        let cases: [(UInt64, UInt32, Int)] = [
            (0, 1, 6), (0x1F_FFFF, 256, 6), (0x20_0000, 1, 10), (0xFFFF_FFFF, 0xFFFF, 10),
            (5, 0x1_0000, 12), (0xFFFF_FFFF, UInt32.max, 12), (0x1_0000_0000, 8, 16), (UInt64.max, UInt32.max, 16),
            (7, 0, 10),
        ]
        for write in [false, true] {
            for (lba, blocks, size) in cases {
                let c = CDB.readWrite(isWrite: write, lba: lba, blocks: blocks)
                #expect(c.count == size)
                let f = try #require(c.readWriteFields)
                #expect(f.isWrite == write && f.lba == lba && f.blocks == blocks)
                #expect(c.blockRange?.lba == lba && c.blockRange?.blocks == blocks)
                #expect(c.dataTransfer(blockSize: 512) == (write ? .toDevice(Int(blocks) * 512) : .fromDevice(Int(blocks) * 512)))
            }
        }
        let fua = CDB.write(lba: 1, blocks: 1, fua: true, dpo: true)
        #expect(fua.fua && fua.dpo)
        #expect(!CDB.read(lba: 1, blocks: 1).fua)
    }

    @Test("READ(6) length 0 decodes as 256 blocks")
    func read6Zero() throws {
        let c = try #require(CDB(hex("08 01 02 03 00 00")))
        #expect(c.readWriteFields?.blocks == 256)
        #expect(c.readWriteFields?.lba == 0x01_0203)
    }

    @Test("short or foreign CDBs decode to nil, never trap")
    func malformed() throws {
        #expect(CDB(hex("28 00 00"))!.readWriteFields == nil)
        #expect(CDB(hex("88 00 00 00 00 00 00 00 00 00"))!.readWriteFields == nil)
        #expect(CDB(hex("12 00 00 00 24 00"))!.readWriteFields == nil)
        #expect(CDB().readWriteFields == nil)
        #expect(CDB().commandName == "TEST UNIT READY")
        #expect(CDB(hex("2f 00 00"))!.blockRange == nil)
        #expect(CDB(hex("9e"))!.allocationLength == nil)
        #expect(CDB(hex("2f 04 00 00 00 00 00 00 01 00"))!.dataTransfer(blockSize: 512) == nil)  // BYTCHK 2 reserved
        for op in 0...255 {
            for len in [1, 2, 5, 6, 9, 10, 12, 16] {
                var bytes = [UInt8](repeating: 0xFF, count: len)
                bytes[0] = UInt8(op)
                let c = CDB(bytes)!
                _ = c.readWriteFields
                _ = c.blockRange
                _ = c.commandName
                _ = c.allocationLength
                _ = c.serviceAction
                _ = c.dataTransfer(blockSize: 4096)
            }
        }
    }

    @Test("protection fields and where the block count sits, for field pointers")
    func protectionAndOffsets() throws {
        #expect(CDB(hex("28 60 00 00 00 00 00 00 01 00"))!.protectionField == 3)
        #expect(CDB(hex("8f e2 00 00 00 00 00 00 00 00 00 00 00 01 00 00"))!.protectionField == 7)
        #expect(CDB(hex("08 ff ff ff 01 00"))!.protectionField == 0)  // READ(6): no flags byte
        #expect(CDB(hex("12 e0 00 00 24 00"))!.protectionField == 0)
        let cases: [(CDB, Int)] = [
            (CDB.read(lba: 1, blocks: 1), 4), (CDB.write(lba: 1 << 22, blocks: 1), 7),
            (CDB.read(lba: 1, blocks: 1 << 20), 6), (CDB.read(lba: 1 << 40, blocks: 1), 10),
            (CDB.verify(lba: 0, blocks: 1), 7), (CDB.verify(lba: 0, blocks: 1, minimumSize: 16), 10),
            (CDB.synchronizeCache(), 7), (CDB.writeSame16(lba: 0, blocks: 1), 10),
        ]
        for (cdb, offset) in cases {
            #expect(cdb.blockCountOffset == offset)
            let range = try #require(cdb.blockRange)
            #expect(cdb.bigEndian(at: offset, width: cdb.count == 6 ? 1 : (offset == 7 ? 2 : 4)) & 0xFF == UInt64(range.blocks) & 0xFF)
        }
        #expect(CDB.inquiry(allocationLength: 36).blockCountOffset == nil)
    }

    @Test("command names, with service actions")
    func names() {
        #expect(CDB(hex("28 00 00 00 00 00 00 00 01 00"))!.commandName == "READ(10)")
        #expect(CDB(hex("8a 00 00 00 00 00 00 00 00 00 00 00 00 01 00 00"))!.commandName == "WRITE(16)")
        #expect(CDB(hex("9e 12 00 00 00 00 00 00 00 00 00 00 00 20 00 00"))!.commandName == "GET LBA STATUS")
        #expect(CDB(hex("9e 1f 00 00 00 00 00 00 00 00 00 00 00 20 00 00"))!.commandName == "SERVICE ACTION IN(16)")
        #expect(CDB(hex("a3 0a 00 00 00 00 00 00 10 00 00 00"))!.commandName == "REPORT TARGET PORT GROUPS")
        #expect(CDB(hex("c0 00 00 00 00 00"))!.commandName == "opcode 0xC0")
        #expect(SCSIOpcode.read16.name == "READ(16)")
        #expect(SCSIOpcode(0x35).description == "SYNCHRONIZE CACHE(10)")
        #expect(SCSIOpcode(0x28).cdbLength == 10)
        #expect(SCSIOpcode(0xA0).cdbLength == 12)
        #expect(SCSIOpcode(0x88).cdbLength == 16)
        #expect(SCSIOpcode(0x12).cdbLength == 6)
        #expect(SCSIOpcode(0x7F).cdbLength == nil)
    }

    @Test("allocation lengths and data transfers the emulator checks")
    func transfers() {
        #expect(CDB.inquiry(allocationLength: 96).allocationLength == 96)
        #expect(CDB.inquiry(vpdPage: 0x83, allocationLength: 0x1234).dataTransfer(blockSize: 512) == .fromDevice(0x1234))
        #expect(CDB.modeSense6(page: 8, allocationLength: 200).allocationLength == 200)
        #expect(CDB.modeSense10(page: 8, allocationLength: 300).allocationLength == 300)
        #expect(CDB.reportLUNs(allocationLength: 4096).allocationLength == 4096)
        #expect(CDB.readCapacity16().allocationLength == 32)
        #expect(CDB.readCapacity10().dataTransfer(blockSize: 512) == .fromDevice(8))
        #expect(CDB.requestSense().allocationLength == 252)
        #expect(CDB.testUnitReady().dataTransfer(blockSize: 512) == CDBDataTransfer.none)
        #expect(CDB.synchronizeCache().dataTransfer(blockSize: 512) == CDBDataTransfer.none)
        #expect(CDB.startStopUnit(start: true).dataTransfer(blockSize: 512) == CDBDataTransfer.none)
        #expect(CDB.modeSelect6(parameterListLength: 24).dataTransfer(blockSize: 512) == .toDevice(24))
        #expect(CDB.modeSelect10(parameterListLength: 300).dataTransfer(blockSize: 512) == .toDevice(300))
        #expect(CDB.unmap(parameterListLength: 24).dataTransfer(blockSize: 512) == .toDevice(24))
        #expect(CDB.writeSame16(lba: 0, blocks: 100).dataTransfer(blockSize: 4096) == .toDevice(4096))
        #expect(CDB.writeSame16(lba: 0, blocks: 100, noDataOutBuffer: true).dataTransfer(blockSize: 4096) == CDBDataTransfer.none)
        #expect(CDB.writeSame16(lba: 7, blocks: 100).blockRange?.lba == 7)
        #expect(CDB.writeSame16(lba: 7, blocks: 100).blockRange?.blocks == 100)
        #expect(CDB.verify(lba: 0, blocks: 8).dataTransfer(blockSize: 512) == CDBDataTransfer.none)
        #expect(CDB.verify(lba: 0, blocks: 8, byteCheck: 1).dataTransfer(blockSize: 512) == .toDevice(4096))
        #expect(CDB.verify(lba: 0, blocks: 8, byteCheck: 3).dataTransfer(blockSize: 512) == .toDevice(512))
        #expect(CDB.reportSupportedOperationCodes(allocationLength: 8).dataTransfer(blockSize: 512) == .fromDevice(8))
        #expect(CDB(hex("c0 00 00 00 00 00"))!.dataTransfer(blockSize: 512) == nil)
    }
}
