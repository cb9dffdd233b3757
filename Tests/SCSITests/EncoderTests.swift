import Testing
import SCSI

// The device-side encoders (what an emulated target sends), checked against bytes a real
// target sent (TGTVectors.swift) where tgt has the same page, and through our own parsers.
@Suite("Device-side encoders")
struct EncoderTests {
    @Test("VPD 0x00, 0x80, 0xB0 and 0xB2 encode as tgt sends them")
    func vpdAgainstTGT() {
        #expect(SupportedVPDPages.encode([0x00, 0x80, 0x83, 0xB0, 0xB1, 0xB2]) == TGT.lun2Vpd00)
        #expect(UnitSerialNumber.encode(String(repeating: " ", count: 30) + "beaf12") == TGT.lun2Vpd80)
        #expect(BlockLimits.encode(maximumCompareAndWriteLength: 128, maximumUnmapLBACount: .max,
                                   maximumUnmapBlockDescriptorCount: .max) == TGT.lun2Vpdb0)
        #expect(LogicalBlockProvisioning.encode(unmapSupported: true, writeSame16UnmapSupported: true,
                                                writeSame10UnmapSupported: true, readZeroes: 1,
                                                provisioningType: 2) == TGT.lun2Vpdb2)
        #expect(LogicalBlockProvisioning.encode() == TGT.lun1Vpdb2)
    }

    @Test("VPD encoders round-trip through the parsers")
    func vpdRoundTrip() throws {
        let limits = try #require(BlockLimits(BlockLimits.encode(
            writeSameNonZero: true, optimalTransferLengthGranularity: 8, maximumTransferLength: 2048,
            optimalTransferLength: 1024, maximumUnmapLBACount: 0xFFFF_FFFF, maximumUnmapBlockDescriptorCount: 256,
            optimalUnmapGranularity: 128, unmapGranularityAlignment: 0, maximumWriteSameLength: 1 << 33)))
        #expect(limits.header.pageLength == 0x3C)
        #expect(limits.writeSameNonZero == true && limits.optimalTransferLengthGranularity == 8)
        #expect(limits.maximumTransferLength == 2048 && limits.optimalTransferLength == 1024)
        #expect(limits.maximumUnmapLBACount == 0xFFFF_FFFF && limits.maximumUnmapBlockDescriptorCount == 256)
        #expect(limits.optimalUnmapGranularity == 128)
        #expect(limits.unmapGranularityAlignmentValid == true && limits.unmapGranularityAlignment == 0)
        #expect(limits.maximumWriteSameLength == 1 << 33)
        #expect(BlockLimits(BlockLimits.encode())?.unmapGranularityAlignmentValid == false)

        let chars = try #require(BlockDeviceCharacteristics(BlockDeviceCharacteristics.encode(mediumRotationRate: 1, nominalFormFactor: 3)))
        #expect(chars.mediumRotationRate == 1 && chars.nominalFormFactor == 3 && chars.header.pageLength == 0x3C)

        let serial = try #require(UnitSerialNumber(UnitSerialNumber.encode("SN42")))
        #expect(serial.serialNumber == "SN42")
        #expect(SupportedVPDPages(SupportedVPDPages.encode([0, 0x80]))?.pages == [0, 0x80])
    }

    @Test("device identification: NAA and T10 vendor ID designators")
    func deviceIdentification() throws {
        let naa = Designator.naa(0x5002_CA4D_1234_5678)
        let t10 = Designator.t10VendorID(vendor: "IET", product: "VIRTUAL-DISK", serialNumber: "0001")
        #expect(naa.bytes == [0x01, 0x03, 0x00, 0x08, 0x50, 0x02, 0xCA, 0x4D, 0x12, 0x34, 0x56, 0x78])
        #expect(t10.bytes.prefix(4) == [0x02, 0x01, 0x00, 28])
        let page = DeviceIdentification.encode([naa, t10])
        #expect(page.prefix(4) == [0x00, 0x83, 0x00, UInt8(naa.bytes.count + t10.bytes.count)])
        let parsed = try #require(DeviceIdentification(page))
        #expect(parsed.designators == [naa, t10])
        #expect(parsed.preferredLogicalUnitDesignator?.description == "naa.5002ca4d12345678")
        #expect(t10.text == "IET     VIRTUAL-DISK    0001")
        // tgt's own first designator, rebuilt from its parsed form.
        let tgt = try #require(DeviceIdentification(TGT.lun1Vpd83))
        #expect(DeviceIdentification.encode(tgt.designators) == TGT.lun1Vpd83)
    }

    @Test("REPORT SUPPORTED OPERATION CODES: all commands and one command")
    func supportedOperationCodes() throws {
        let all = SupportedOperationCodes.encode([
            CommandDescriptor(opcode: 0x28, cdbLength: 10),
            CommandDescriptor(opcode: 0x9E, serviceAction: 0x10, cdbLength: 16, nominalTimeout: 0, recommendedTimeout: 30),
        ])
        #expect(all.count == 4 + 8 + 8 + 12)
        let parsed = try #require(SupportedOperationCodes(all))
        #expect(parsed.dataLength == all.count - 4)
        #expect(parsed.commands.map(\.name) == ["READ(10)", "READ CAPACITY(16)"])
        #expect(parsed.supports(0x9E, serviceAction: 0x10) && !parsed.supports(0x9E, serviceAction: 0x11))
        #expect(parsed.commands[1].recommendedTimeout == 30 && parsed.commands[0].recommendedTimeout == nil)

        let usage: [UInt8] = [0x28, 0xF8, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0xFF, 0xFF, 0x04]
        let one = try #require(OneCommandSupport(OneCommandSupport.encode(support: 3, usageData: usage, timeouts: (0, 0))))
        #expect(one.isSupported && one.timeoutsPresent && one.usageData == usage)
        #expect(OneCommandSupport.encode(support: 1) == [0x00, 0x01, 0x00, 0x00])
    }

    @Test("MODE SELECT lists parse to their end; page setters")
    func modeSelectList() throws {
        var caching = CachingModePage(writeCacheEnabled: false)
        caching.disablePrefetchTransferLength = 0xFFFF
        caching.maximumPrefetch = 0x1234
        caching.maximumPrefetchCeiling = 0xFFFF
        caching.numberOfCacheSegments = 0x14
        #expect(caching.page.bytes == hex("08 12 00 00 ff ff 00 00 12 34 ff ff 00 14 00 00 00 00 00 00"))
        var control = ControlModePage(descriptorSense: true)
        control.globalLoggingTargetSaveDisable = true
        control.busyTimeoutPeriod = 0xFFFF
        #expect(control.page.bytes == hex("0a 0a 06 10 00 00 00 00 ff ff 00 00"))
        let m = ModeParameters(header: ModeParameterHeader(tenByte: true), pages: [caching.page, control.page])
        let list = try #require(m.encode(forModeSelect: true))
        #expect(list[0] == 0 && list[1] == 0)
        // Read as MODE SENSE data, the zero MODE DATA LENGTH ends it at once; as a MODE SELECT
        // list it holds both pages.
        #expect(ModeParameters(list, tenByte: true)?.pages.isEmpty == true)
        let back = try #require(ModeParameters(list, tenByte: true, forModeSelect: true))
        #expect(back.pages == [caching.page, control.page])
        #expect(back.cachingPage?.maximumPrefetch == 0x1234 && back.controlPage?.busyTimeoutPeriod == 0xFFFF)
    }

    @Test("sense factories: invalid field in CDB and in the parameter list, with pointers")
    func senseFactories() {
        let cdb = SenseData(SenseBuilder.invalidFieldInCDB(byte: 1, bit: 7).bytes(.fixed))
        #expect(cdb.senseKey == .illegalRequest && cdb.additionalSenseCode == .invalidFieldInCDB)
        #expect(cdb.senseKeySpecific == .fieldPointer(inCDB: true, byte: 1, bit: 7))
        #expect(SenseData(SenseBuilder.invalidFieldInCDB(byte: nil).bytes(.fixed)).senseKeySpecific == nil)
        let list = SenseData(SenseBuilder.invalidFieldInParameterList(byte: 300).bytes(.descriptor))
        #expect(list.additionalSenseCode == .invalidFieldInParameterList)
        #expect(list.senseKeySpecific == .fieldPointer(inCDB: false, byte: 300, bit: nil))
        #expect(SenseData.fixed(key: .dataProtect, .spaceAllocationFailedWriteProtect).count == 18)
        #expect(AdditionalSenseCode.spaceAllocationFailedWriteProtect.name == "SPACE ALLOCATION FAILED WRITE PROTECT")
        #expect(AdditionalSenseCode.busDeviceResetFunctionOccurred.name == "BUS DEVICE RESET FUNCTION OCCURRED")
    }
}
