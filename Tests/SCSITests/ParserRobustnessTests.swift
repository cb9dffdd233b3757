import Testing
@testable import SCSI

// Every parser fed every prefix of real data, and random bytes: never a trap, and what the
// prefix holds is what comes back.

@Suite("Parser robustness")
struct ParserRobustnessTests {
    static var realVectors: [[UInt8]] {
        [TGT.lun1Inquiry, TGT.lun1Vpd00, TGT.lun1Vpd80, TGT.lun1Vpd83, TGT.lun1Vpdb0, TGT.lun1Vpdb1,
         TGT.lun2Vpdb2, TGT.lun1Readcap10, TGT.lun1Readcap16, TGT.lun1Reportluns, TGT.lun1Modesense6All,
         TGT.lun1Modesense10All, TGT.lun1Rsoc]
    }

    static func parseAll(_ b: [UInt8]) {
        if let i = StandardInquiry(b) {
            _ = (i.vendor, i.product, i.revision, i.versionDescriptors, i.identification, i.peripheralDeviceType.name)
        }
        _ = SupportedVPDPages(b)?.pages
        _ = UnitSerialNumber(b)?.serialNumber
        if let d = DeviceIdentification(b) {
            for x in d.designators { _ = (x.description, x.text, x.naa, x.relativeTargetPort) }
            _ = d.preferredLogicalUnitDesignator
        }
        if let l = BlockLimits(b) { _ = (l.maximumTransferLength, l.maximumWriteSameLength, l.maximumAtomicBoundarySize) }
        _ = BlockDeviceCharacteristics(b)
        _ = LogicalBlockProvisioning(b)
        _ = ReadCapacity10(b)?.byteCount
        _ = ReadCapacity16(b).map { ($0.byteCount, $0.physicalBlockLength) }
        _ = ReportLUNsData(b)?.luns.map(\.description)
        for ten in [false, true] {
            if let m = ModeParameters(b, tenByte: ten) {
                _ = m.cachingPage?.writeCacheEnabled
                _ = m.controlPage?.descriptorSense
                for p in m.pages { _ = (p.parameters, p.name) }
                _ = m.encode()
            }
        }
        _ = SupportedOperationCodes(b)?.commands.map(\.name)
        _ = OneCommandSupport(b)
        _ = UnmapParameterList.decode(b)
    }

    @Test("every prefix of real data parses without trapping")
    func prefixes() {
        for v in Self.realVectors {
            for n in 0...v.count { Self.parseAll(Array(v.prefix(n))) }
        }
    }

    @Test("random bytes parse without trapping")
    func random() {
        var rng = SplitMix64(seed: 42)
        for _ in 0..<3000 {
            let n = Int(rng.next() % 200)
            var b = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            // Page codes our VPD parsers accept, so that their bodies are exercised too.
            if b.count > 1 { b[1] = [0x00, 0x80, 0x83, 0xB0, 0xB1, 0xB2, b[1]][Int(rng.next() % 7)] }
            Self.parseAll(b)
        }
    }

    @Test("prefixes give partial results, not wrong ones")
    func partial() throws {
        // INQUIRY cut after the product: vendor and product intact, revision empty.
        let inq = try #require(StandardInquiry(TGT.lun1Inquiry.prefix(32)))
        #expect(inq.vendor == "IET" && inq.product == "VIRTUAL-DISK" && inq.revision.isEmpty)
        #expect(inq.versionDescriptors.isEmpty)
        #expect(StandardInquiry([UInt8]()) == nil)
        // Device identification cut inside the second designator: the first is whole.
        let id = try #require(DeviceIdentification(TGT.lun1Vpd83.prefix(50)))
        #expect(id.designators.count == 2)
        #expect(id.designators[0].text == "IET     00010001")
        #expect(id.designators[1].identifier.count == 2)
        // Block limits cut at 16 bytes (an SBC-2 sized page): later fields nil.
        let bl = try #require(BlockLimits(TGT.lun2Vpdb0.prefix(16)))
        #expect(bl.maximumCompareAndWriteLength == 128)
        #expect(bl.maximumUnmapLBACount == nil)
        // READ CAPACITY(16) with 12 bytes: LBA and length only.
        let rc = try #require(ReadCapacity16(TGT.lun1Readcap16.prefix(12)))
        #expect(rc.lastLBA == 131_071 && rc.logicalBlocksPerPhysicalBlockExponent == 0 && rc.length == 12)
        #expect(ReadCapacity16(TGT.lun1Readcap16.prefix(11)) == nil)
        #expect(ReadCapacity10(TGT.lun1Readcap10.prefix(7)) == nil)
        // REPORT LUNS cut after two entries: truncated, two LUNs.
        let rl = try #require(ReportLUNsData(TGT.lun1Reportluns.prefix(24)))
        #expect(rl.numbers == [0, 1] && rl.isTruncated)
        // Mode data cut inside the caching page: the page is kept short, its tail reads zero.
        let m = try #require(ModeParameters(TGT.lun1Modesense6Caching.prefix(20), tenByte: false))
        #expect(m.pages.count == 1 && m.pages[0].parameters.count == 6)
        #expect(m.cachingPage?.writeCacheEnabled == true)
        #expect(m.cachingPage?.numberOfCacheSegments == 0)
    }
}
