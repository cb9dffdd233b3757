import Testing
import SCSI

// CDB builders byte for byte against the layouts in SPC-5 and SBC-4.

@Suite("CDB builders")
struct CDBBuilderTests {
    @Test("READ(10) of LBA 0x12345678, 8 blocks (SBC-4 5.13)")
    func read10Example() throws {
        let c = CDB.read(lba: 0x1234_5678, blocks: 8)
        #expect(c.bytes == hex("28 00 12 34 56 78 00 00 08 00"))
        #expect(c.description == "28 00 12 34 56 78 00 00 08 00")
        #expect(c.commandName == "READ(10)")
    }

    @Test("READ(6): LBA in 21 bits, 256 blocks written as 0")
    func read6() throws {
        #expect(CDB.read(lba: 0x12_3456, blocks: 256).bytes == hex("08 12 34 56 00 00"))
        #expect(CDB.read(lba: 0, blocks: 1).bytes == hex("08 00 00 00 01 00"))
        #expect(CDB.write(lba: 0x1F_FFFF, blocks: 255).bytes == hex("0a 1f ff ff ff 00"))
    }

    @Test("WRITE(10/12/16) with FUA and DPO")
    func writeFlags() throws {
        #expect(CDB.write(lba: 1, blocks: 2, fua: true).bytes == hex("2a 08 00 00 00 01 00 00 02 00"))
        #expect(CDB.write(lba: 1, blocks: 2, dpo: true).bytes == hex("2a 10 00 00 00 01 00 00 02 00"))
        #expect(CDB.write(lba: 1, blocks: 0x10000, fua: true, dpo: true).bytes
            == hex("aa 18 00 00 00 01 00 01 00 00 00 00"))
        #expect(CDB.write(lba: 0x1_0000_0000, blocks: 8, fua: true).bytes
            == hex("8a 08 00 00 00 01 00 00 00 00 00 00 00 08 00 00"))
    }

    @Test("READ(12) and READ(16) layouts")
    func read12And16() throws {
        #expect(CDB.read(lba: 0xDEAD_BEEF, blocks: 0x0012_3456).bytes == hex("a8 00 de ad be ef 00 12 34 56 00 00"))
        #expect(CDB.read(lba: 0x0102_0304_0506_0708, blocks: 0x0A0B_0C0D).bytes
            == hex("88 00 01 02 03 04 05 06 07 08 0a 0b 0c 0d 00 00"))
    }

    @Test("smallest CDB that fits: boundaries of 6, 10, 12 and 16")
    func sizeBoundaries() {
        func size(_ lba: UInt64, _ blocks: UInt32, mcs: Int = 6, fua: Bool = false) -> Int {
            CDB.read(lba: lba, blocks: blocks, minimumSize: mcs, fua: fua).count
        }
        // READ(6): lba < 2^21 and 1...256 blocks.
        #expect(size(0x1F_FFFF, 1) == 6)
        #expect(size(0x20_0000, 1) == 10)
        #expect(size(0, 256) == 6)
        #expect(size(0, 257) == 10)
        #expect(size(0, 0) == 10)  // READ(6) length 0 means 256, so 0 blocks needs READ(10)
        #expect(size(0, 1, fua: true) == 10)  // READ(6) has no FUA bit
        // READ(10): 32-bit LBA, 16-bit length.
        #expect(size(0xFFFF_FFFF, 0xFFFF) == 10)
        #expect(size(0, 0x1_0000) == 12)
        // READ(12): 32-bit LBA, 32-bit length.
        #expect(size(0xFFFF_FFFF, 0x1_0000) == 12)
        #expect(size(0x1_0000_0000, 1) == 16)
        #expect(size(UInt64.max, UInt32.max) == 16)
        // Minimum sizes, as camdd's mcs=.
        #expect(size(0, 1, mcs: 10) == 10)
        #expect(size(0, 1, mcs: 12) == 12)
        #expect(size(0, 1, mcs: 16) == 16)
        #expect(size(0, 1, mcs: 7) == 10)
        #expect(size(0, 1, mcs: 0) == 6)
        #expect(CDB.readWriteSize(lba: 0, blocks: 1, minimumSize: 11) == 12)
    }

    @Test("TEST UNIT READY, REQUEST SENSE, INQUIRY")
    func spcBasics() {
        #expect(CDB.testUnitReady().bytes == hex("00 00 00 00 00 00"))
        #expect(CDB.requestSense().bytes == hex("03 00 00 00 fc 00"))
        #expect(CDB.requestSense(allocationLength: 18, descriptorFormat: true).bytes == hex("03 01 00 00 12 00"))
        #expect(CDB.inquiry(allocationLength: 36).bytes == hex("12 00 00 00 24 00"))
        #expect(CDB.inquiry(vpdPage: 0x83, allocationLength: 0x1000).bytes == hex("12 01 83 10 00 00"))
        #expect(CDB.inquiry(vpdPage: 0, allocationLength: 255).bytes == hex("12 01 00 00 ff 00"))
    }

    @Test("READ CAPACITY(10) and (16)")
    func readCapacity() {
        #expect(CDB.readCapacity10().bytes == hex("25 00 00 00 00 00 00 00 00 00"))
        #expect(CDB.readCapacity16().bytes == hex("9e 10 00 00 00 00 00 00 00 00 00 00 00 20 00 00"))
        #expect(CDB.readCapacity16().commandName == "READ CAPACITY(16)")
    }

    @Test("VERIFY(10/12/16)")
    func verify() {
        #expect(CDB.verify(lba: 0x10, blocks: 4).bytes == hex("2f 00 00 00 00 10 00 00 04 00"))
        #expect(CDB.verify(lba: 0x10, blocks: 4, byteCheck: 1, dpo: true).bytes == hex("2f 12 00 00 00 10 00 00 04 00"))
        #expect(CDB.verify(lba: 0x10, blocks: 0x10000).bytes == hex("af 00 00 00 00 10 00 01 00 00 00 00"))
        #expect(CDB.verify(lba: 0x1_0000_0000, blocks: 1).bytes == hex("8f 00 00 00 00 01 00 00 00 00 00 00 00 01 00 00"))
        #expect(CDB.verify(lba: 0, blocks: 1, minimumSize: 16).count == 16)
    }

    @Test("a minimum size above 16 is a caller's bug: the builders stop rather than return nothing")
    func minimumSizeAbove16Traps() async {
        await #expect(processExitsWith: .failure) { _ = CDB.read(lba: 0, blocks: 1, minimumSize: 32) }
        await #expect(processExitsWith: .failure) { _ = CDB.verify(lba: 0, blocks: 1, minimumSize: 17) }
        await #expect(processExitsWith: .failure) { _ = CDB.synchronizeCache(minimumSize: 17) }
    }

    @Test("SYNCHRONIZE CACHE(10/16)")
    func synchronizeCache() {
        #expect(CDB.synchronizeCache().bytes == hex("35 00 00 00 00 00 00 00 00 00"))
        #expect(CDB.synchronizeCache(lba: 0x100, blocks: 0x20, immediate: true).bytes == hex("35 02 00 00 01 00 00 00 20 00"))
        #expect(CDB.synchronizeCache(lba: 0x1_0000_0000).bytes == hex("91 00 00 00 00 01 00 00 00 00 00 00 00 00 00 00"))
        #expect(CDB.synchronizeCache(minimumSize: 16).bytes == hex("91 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"))
    }

    @Test("MODE SENSE(6/10) and MODE SELECT(6/10)")
    func modeSenseSelect() {
        #expect(CDB.modeSense6(page: 0x08).bytes == hex("1a 00 08 00 ff 00"))
        #expect(CDB.modeSense6(page: 0x3F, subpage: 0xFF, pageControl: .changeable, disableBlockDescriptors: true,
                               allocationLength: 0xC0).bytes == hex("1a 08 7f ff c0 00"))
        #expect(CDB.modeSense6(page: 0x0A, pageControl: .saved).bytes == hex("1a 00 ca 00 ff 00"))
        #expect(CDB.modeSense10(page: 0x0A, subpage: 1, pageControl: .default, longLBAAccepted: true,
                                allocationLength: 0x1234).bytes == hex("5a 10 8a 01 00 00 00 12 34 00"))
        #expect(CDB.modeSelect6(parameterListLength: 0x18).bytes == hex("15 10 00 00 18 00"))
        #expect(CDB.modeSelect6(pageFormat: false, savePages: true, parameterListLength: 4).bytes == hex("15 01 00 00 04 00"))
        #expect(CDB.modeSelect10(savePages: true, parameterListLength: 0x0102).bytes == hex("55 11 00 00 00 00 00 01 02 00"))
    }

    @Test("REPORT LUNS, REPORT SUPPORTED OPERATION CODES")
    func reports() {
        #expect(CDB.reportLUNs(allocationLength: 4096).bytes == hex("a0 00 00 00 00 00 00 00 10 00 00 00"))
        #expect(CDB.reportLUNs(selectReport: 2, allocationLength: 16).bytes == hex("a0 00 02 00 00 00 00 00 00 10 00 00"))
        #expect(CDB.reportSupportedOperationCodes(allocationLength: 4096).bytes == hex("a3 0c 00 00 00 00 00 00 10 00 00 00"))
        let one = CDB.reportSupportedOperationCodes(options: 2, requestedOpcode: 0x9E, requestedServiceAction: 0x10,
                                                   returnTimeouts: true, allocationLength: 64)
        #expect(one.bytes == hex("a3 0c 82 9e 00 10 00 00 00 40 00 00"))
        #expect(one.commandName == "REPORT SUPPORTED OPERATION CODES")
    }

    @Test("START STOP UNIT")
    func startStop() {
        #expect(CDB.startStopUnit(start: true).bytes == hex("1b 00 00 00 01 00"))
        #expect(CDB.startStopUnit(start: false, loadEject: true, immediate: true).bytes == hex("1b 01 00 00 02 00"))
        #expect(CDB.startStopUnit(start: false, powerCondition: 3, noFlush: true).bytes == hex("1b 00 00 00 34 00"))
    }

    @Test("WRITE SAME(16), UNMAP and its parameter list")
    func writeSameUnmap() throws {
        #expect(CDB.writeSame16(lba: 0x1000, blocks: 0x800, unmap: true).bytes
            == hex("93 08 00 00 00 00 00 00 10 00 00 00 08 00 00 00"))
        #expect(CDB.writeSame16(lba: 0, blocks: 1, anchor: true, noDataOutBuffer: true).bytes
            == hex("93 11 00 00 00 00 00 00 00 00 00 00 00 01 00 00"))
        #expect(CDB.unmap(parameterListLength: 24).bytes == hex("42 00 00 00 00 00 00 00 18 00"))
        #expect(CDB.unmap(parameterListLength: 24, anchor: true).bytes[1] == 1)

        let list = try #require(UnmapParameterList.bytes([(lba: 0x10, blocks: 8), (lba: 0x1_0000_0000, blocks: 0xFFFF_FFFF)]))
        #expect(list == hex(
            "00 26 00 20 00 00 00 00 " +
            "00 00 00 00 00 00 00 10 00 00 00 08 00 00 00 00 " +
            "00 00 00 01 00 00 00 00 ff ff ff ff 00 00 00 00"))
        let back = try #require(UnmapParameterList.decode(list))
        #expect(back.map(\.lba) == [0x10, 0x1_0000_0000])
        #expect(back.map(\.blocks) == [8, 0xFFFF_FFFF])
        #expect(UnmapParameterList.decode(hex("00 06 00 10 00 00 00 00")) == nil)  // says 16, has 0
        #expect(UnmapParameterList.decode(hex("00 26 00 21")) == nil)
        #expect(UnmapParameterList.decode(hex("00 06 00 00 00 00 00 00"))?.isEmpty == true)
        // Too small a buffer: refused, nothing overrun.
        var small = [UInt8](repeating: 0, count: 20)
        let n = small.withUnsafeMutableBytes { UnmapParameterList.encode([(lba: 0, blocks: 1)], into: $0) }
        #expect(n == nil)
    }

    @Test("builders allocate nothing: a CDB is an inline value")
    func inlineValue() {
        #expect(MemoryLayout<CDB>.size <= 48)
        #expect(_isPOD(CDB.self))
    }
}
