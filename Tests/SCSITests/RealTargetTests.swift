import Testing
@testable import SCSI

// Our parsers against bytes from a real target (TGTVectors.swift). The expected values are
// what libiscsi's own tools printed for the same LUNs in the same run (capture.txt), quoted
// in comments, so that the two decoders are checked against each other field by field.

@Suite("Real target (tgt 1.0.85 over iSCSI)")
struct RealTargetTests {
    @Test("standard INQUIRY agrees with iscsi-inq")
    func standardInquiry() throws {
        for bytes in [TGT.lun1Inquiry, TGT.lun2Inquiry] {
            let inq = try #require(StandardInquiry(bytes))
            #expect(inq.length == 66)
            #expect(inq.peripheralQualifier == .connected)  // Peripheral Qualifier:CONNECTED
            #expect(inq.peripheralDeviceType == .directAccess)  // Peripheral Device Type:DIRECT_ACCESS
            #expect(inq.peripheralDeviceType.name == "Direct Access")
            #expect(inq.removable == false)  // Removable:0
            #expect(inq.version == 5)  // Version:5 ANSI INCITS 408-2005 (SPC-3)
            #expect(inq.versionName == "SPC-3")
            #expect(inq.normalACA == false)  // NormACA:0
            #expect(inq.hierarchicalSupport == true)  // HiSup:1
            #expect(inq.responseDataFormat == 2)  // ReponseDataFormat:2
            #expect(inq.sccs == false)  // SCCS:0
            #expect(inq.acc == false)  // ACC:0
            #expect(inq.tpgs == 0)  // TPGS:0
            #expect(inq.thirdPartyCopy == false)  // 3PC:0
            #expect(inq.protect == false)  // Protect:0
            #expect(inq.enclosureServices == false)  // EncServ:0
            #expect(inq.multiPort == false)  // MultiP:0
            #expect(inq.sync == false)  // SYNC:0
            #expect(inq.commandQueuing == true)  // CmdQue:1
            #expect(inq.vendor == "IET")  // Vendor:IET
            #expect(inq.product == "VIRTUAL-DISK")  // Product:VIRTUAL-DISK
            #expect(inq.revision == "0001")  // Revision:0001
            #expect(inq.additionalLength == 0x3D)
            // Version Descriptor:04c0 SBC-3, 0960 iSCSI, 0300 SPC-3
            #expect(inq.versionDescriptors == [0x04C0, 0x0960, 0x0300])
            #expect(inq.identification == "<IET VIRTUAL-DISK 0001>")
        }
    }

    @Test("VPD 0x00 lists the pages iscsi-inq -e 1 -c 0 lists")
    func supportedPages() throws {
        let p = try #require(SupportedVPDPages(TGT.lun1Vpd00))
        #expect(p.header.pageCode == 0)
        #expect(p.header.peripheralDeviceType == .directAccess)
        #expect(p.pages == [0x00, 0x80, 0x83, 0xB0, 0xB1, 0xB2])
        #expect(p.pages.compactMap(VPDPage.name) == [
            "Supported VPD Pages", "Unit Serial Number", "Device Identification", "Block Limits",
            "Block Device Characteristics", "Logical Block Provisioning",
        ])
    }

    @Test("VPD 0x80 serial number")
    func unitSerial() throws {
        // Unit Serial Number:[                              beaf11]
        let s1 = try #require(UnitSerialNumber(TGT.lun1Vpd80))
        #expect(s1.rawSerialNumber == String(repeating: " ", count: 30) + "beaf11")
        #expect(s1.serialNumber == "beaf11")
        let s2 = try #require(UnitSerialNumber(TGT.lun2Vpd80))
        #expect(s2.serialNumber == "beaf12")
    }

    @Test("VPD 0x83 designators agree with iscsi-inq -e 1 -c 131")
    func deviceIdentification() throws {
        let id = try #require(DeviceIdentification(TGT.lun1Vpd83))
        #expect(id.header.pageLength == 0x48)
        #expect(id.designators.count == 3)
        // iscsi-inq lists them last first: #2 is the page's first designator.
        // DEVICE DESIGNATOR #2: Code Set:(2) ASCII, PIV:0, Association:(0) LOGICAL_UNIT,
        // Designator Type:(1) T10_VENDORT_ID, Designator:[IET     00010001]
        let t10 = id.designators[0]
        #expect(t10.codeSet == 2 && t10.codeSetName == "ASCII")
        #expect(t10.protocolIdentifierValid == false)
        #expect(t10.association == 0 && t10.associationName == "logical unit")
        #expect(t10.designatorType == 1 && t10.typeName == "T10 vendor ID")
        #expect(t10.identifier.count == 36)
        #expect(t10.text == "IET     00010001")
        // DEVICE DESIGNATOR #1: Code Set:(1) BINARY, Association:(0), Type:(3) NAA, Designator:[0]
        let naa3 = id.designators[1]
        #expect(naa3.codeSet == 1 && naa3.association == 0 && naa3.designatorType == 3)
        #expect(naa3.identifier.first == UInt8(ascii: "0"))
        #expect(naa3.naa == 3)
        #expect(naa3.description == "naa.3000000100000001")
        // DEVICE DESIGNATOR #0: Code Set:(1) BINARY, Association:(0), Type:(3) NAA, Designator:[`]
        let naa6 = id.designators[2]
        #expect(naa6.codeSet == 1 && naa6.association == 0 && naa6.designatorType == 3)
        #expect(naa6.identifier.first == UInt8(ascii: "`"))
        #expect(naa6.naa == 6)
        #expect(naa6.identifier.count == 16)
        #expect(naa6.description == "naa.60000000000000000e00000000010001")
        #expect(id.preferredLogicalUnitDesignator == naa3)
        #expect(id.logicalUnitDesignators.count == 3)

        let id2 = try #require(DeviceIdentification(TGT.lun2Vpd83))
        #expect(id2.designators[0].text == "IET     00010002")
        #expect(id2.designators[2].description == "naa.60000000000000000e00000000010002")
    }

    @Test("VPD 0xB0 block limits agree with iscsi-inq -e 1 -c 176")
    func blockLimits() throws {
        let l1 = try #require(BlockLimits(TGT.lun1Vpdb0))
        #expect(l1.writeSameNonZero == false)  // wsnz:0
        #expect(l1.maximumCompareAndWriteLength == 128)  // maximum compare and write length:128
        #expect(l1.optimalTransferLengthGranularity == 0)
        #expect(l1.maximumTransferLength == 0)
        #expect(l1.optimalTransferLength == 0)
        #expect(l1.maximumPrefetchLength == 0)
        #expect(l1.maximumUnmapLBACount == 0)  // maximum unmap lba count:0
        #expect(l1.maximumUnmapBlockDescriptorCount == 0)
        #expect(l1.optimalUnmapGranularity == 0)
        #expect(l1.unmapGranularityAlignmentValid == false)  // ugavalid:0
        #expect(l1.unmapGranularityAlignment == 0)
        #expect(l1.maximumWriteSameLength == 0)  // maximum write same length:0
        #expect(l1.maximumAtomicBoundarySize == 0)

        let l2 = try #require(BlockLimits(TGT.lun2Vpdb0))
        #expect(l2.maximumUnmapLBACount == 4_294_967_295)  // maximum unmap lba count:4294967295
        #expect(l2.maximumUnmapBlockDescriptorCount == 4_294_967_295)
        #expect(l2.maximumCompareAndWriteLength == 128)
    }

    @Test("VPD 0xB1 and 0xB2 agree with iscsi-inq -e 1 -c 177 / 178")
    func characteristicsAndProvisioning() throws {
        let c = try #require(BlockDeviceCharacteristics(TGT.lun1Vpdb1))
        #expect(c.mediumRotationRate == 0)  // Medium Rotation Rate:0RPM

        let p1 = try #require(LogicalBlockProvisioning(TGT.lun1Vpdb2))
        #expect(!p1.unmapSupported && !p1.writeSame16UnmapSupported && !p1.writeSame10UnmapSupported)
        #expect(p1.readZeroes == 0 && p1.provisioningType == 0)
        // LUN 2: Threshold Exponent:0 lbpu:1 lbpws:1 lbpws10:1 lbprz:1 anc_sup:0 dp:0 provisioning type:2
        let p2 = try #require(LogicalBlockProvisioning(TGT.lun2Vpdb2))
        #expect(p2.thresholdExponent == 0)
        #expect(p2.unmapSupported)
        #expect(p2.writeSame16UnmapSupported)
        #expect(p2.writeSame10UnmapSupported)
        #expect(p2.readZeroes == 1)
        #expect(!p2.anchorSupported)
        #expect(!p2.descriptorPresent)
        #expect(p2.provisioningType == 2)
    }

    @Test("READ CAPACITY(10) and (16) agree with iscsi-readcapacity16")
    func readCapacity() throws {
        // LUN 1: RETURNED LOGICAL BLOCK ADDRESS:131071, LOGICAL BLOCK LENGTH IN BYTES:512,
        // P_TYPE:0 PROT_EN:0, P_I_EXPONENT:0 LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT:3,
        // LBPME:0 LBPRZ:0, LOWEST ALIGNED LOGICAL BLOCK ADDRESS:0, Total size:67108864
        let r16 = try #require(ReadCapacity16(TGT.lun1Readcap16))
        #expect(r16.lastLBA == 131_071)
        #expect(r16.blockLength == 512)
        #expect(r16.protectionType == 0 && !r16.protectionEnabled)
        #expect(r16.protectionIntervalExponent == 0)
        #expect(r16.logicalBlocksPerPhysicalBlockExponent == 3)
        #expect(r16.physicalBlockLength == 4096)
        #expect(!r16.provisioningManagementEnabled && !r16.provisioningReadZeros)
        #expect(r16.lowestAlignedLBA == 0)
        #expect(r16.byteCount == 67_108_864)
        #expect(r16.bytes == TGT.lun1Readcap16)

        let r10 = try #require(ReadCapacity10(TGT.lun1Readcap10))
        #expect(r10.lastLBA == 131_071 && r10.blockLength == 512)
        #expect(r10.byteCount == 67_108_864)
        #expect(!r10.needsReadCapacity16)
        #expect(r10.bytes == TGT.lun1Readcap10)

        // LUN 2: RETURNED LOGICAL BLOCK ADDRESS:8191, LOGICAL BLOCK LENGTH IN BYTES:4096,
        // LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT:0, LBPME:1 LBPRZ:1, Total size:33554432
        let s16 = try #require(ReadCapacity16(TGT.lun2Readcap16))
        #expect(s16.lastLBA == 8191 && s16.blockLength == 4096)
        #expect(s16.logicalBlocksPerPhysicalBlockExponent == 0)
        #expect(s16.provisioningManagementEnabled && s16.provisioningReadZeros)
        #expect(s16.byteCount == 33_554_432)
        let s10 = try #require(ReadCapacity10(TGT.lun2Readcap10))
        #expect(s10.lastLBA == 8191 && s10.blockLength == 4096)
    }

    @Test("REPORT LUNS lists LUNs 0, 1 and 2 (tgtadm show target)")
    func reportLUNs() throws {
        let r = try #require(ReportLUNsData(TGT.lun1Reportluns))
        #expect(r.listLength == 24)
        #expect(!r.isTruncated)
        #expect(r.numbers == [0, 1, 2])
        #expect(r.luns.allSatisfy { $0.addressMethod == .peripheral && $0.isSingleLevel })
        #expect(ReportLUNsData.encode(r.luns) == TGT.lun1Reportluns)
    }

    @Test("MODE SENSE(6) caching page: WCE on, read cache on")
    func cachingPage() throws {
        let m = try #require(ModeParameters(TGT.lun1Modesense6Caching, tenByte: false))
        #expect(m.header.modeDataLength == 0x1F)
        #expect(m.header.mediumType == 0)
        #expect(m.header.dpoFUASupported)
        #expect(!m.header.writeProtected)
        #expect(m.header.blockDescriptorLength == 8)
        #expect(m.blockDescriptors == [ModeBlockDescriptor(numberOfBlocks: 0, blockLength: 512)])
        #expect(m.pages.count == 1)
        let c = try #require(m.cachingPage)
        #expect(c.writeCacheEnabled)
        #expect(!c.readCacheDisabled)
        #expect(c.discontinuity)
        #expect(!c.initiatorControl && !c.abortPrefetch && !c.cachingAnalysisPermitted && !c.size && !c.multiplicationFactor)
        #expect(c.disablePrefetchTransferLength == 0xFFFF)
        #expect(c.minimumPrefetch == 0)
        #expect(c.maximumPrefetch == 0xFFFF)
        #expect(c.maximumPrefetchCeiling == 0xFFFF)
        #expect(c.forceSequentialWrite)
        #expect(!c.disableReadAhead)
        #expect(c.numberOfCacheSegments == 20)
        #expect(c.page.bytes == Array(TGT.lun1Modesense6Caching[12...]))

        // DBD: same page, no block descriptor.
        let d = try #require(ModeParameters(TGT.lun1Modesense6CachingDbd, tenByte: false))
        #expect(d.blockDescriptors.isEmpty)
        #expect(d.cachingPage == c)

        // The 4096-byte LUN's block descriptor.
        let m2 = try #require(ModeParameters(TGT.lun2Modesense6Caching, tenByte: false))
        #expect(m2.blockDescriptors.first?.blockLength == 4096)
    }

    @Test("MODE SENSE(6) control page")
    func controlPage() throws {
        let m = try #require(ModeParameters(TGT.lun1Modesense6Control, tenByte: false))
        let c = try #require(m.controlPage)
        #expect(c.taskSetType == 0)
        #expect(!c.descriptorSense)
        #expect(c.globalLoggingTargetSaveDisable)
        #expect(!c.reportLogExceptionCondition)
        #expect(c.queueAlgorithmModifier == 1)
        #expect(c.queueErrorManagement == 0)
        #expect(!c.softwareWriteProtect)
        #expect(c.busyTimeoutPeriod == 0)
        #expect(c.extendedSelfTestCompletionTime == 0x200)
    }

    @Test("MODE SENSE all pages, 6- and 10-byte forms, agree")
    func allPages() throws {
        let m6 = try #require(ModeParameters(TGT.lun1Modesense6All, tenByte: false))
        let m10 = try #require(ModeParameters(TGT.lun1Modesense10All, tenByte: true))
        #expect(m6.header.modeDataLength == 0x69)
        #expect(m10.header.modeDataLength == 0x6C)
        #expect(m10.header.headerLength == 8 && !m10.header.longLBA)
        #expect(m6.blockDescriptors == m10.blockDescriptors)
        #expect(m6.pages == m10.pages)
        // tgt sends an empty page 0, then 0x02, 0x08, 0x0A, 0x0A/0x01 (sub_page format), 0x1C.
        #expect(m6.pages.map(\.code) == [0x00, 0x02, 0x08, 0x0A, 0x0A, 0x1C])
        #expect(m6.pages.map(\.subpage) == [0, 0, 0, 0, 1, 0])
        #expect(m6.pages.map(\.pageLength) == [0, 14, 18, 10, 28, 10])
        let ext = try #require(m6.page(0x0A, subpage: 1))
        #expect(ext.isSubpageFormat && ext.headerLength == 4)
        #expect(ext.name == "Control Extension")
        #expect(m6.page(0x1C)?.name == "Informational Exceptions Control")
        #expect(m6.cachingPage?.writeCacheEnabled == true)
        #expect(m6.controlPage?.queueAlgorithmModifier == 1)
        // Encoding what we parsed gives the device's bytes back.
        #expect(m6.encode() == TGT.lun1Modesense6All)
        #expect(m10.encode() == TGT.lun1Modesense10All)
    }

    @Test("REPORT SUPPORTED OPERATION CODES")
    func supportedOpcodes() throws {
        let r = try #require(SupportedOperationCodes(TGT.lun1Rsoc))
        #expect(r.dataLength == 400)
        #expect(r.commands.count == 50)
        #expect(r.supports(0x28) && r.supports(0x8A) && r.supports(0x12))
        #expect(r.supports(0x9E, serviceAction: 0x10))
        #expect(r.supports(0xA3, serviceAction: 0x0C))
        #expect(!r.supports(0x02))
        let rc16 = try #require(r.commands.first { $0.opcode == 0x9E && $0.serviceAction == 0x10 })
        #expect(rc16.cdbLength == 16 && rc16.name == "READ CAPACITY(16)")
        #expect(r.commands.first { $0.opcode == 0x28 }?.cdbLength == 10)
        #expect(r.commands.first { $0.opcode == 0x28 }?.name == "READ(10)")
    }

    @Test("fixed-format sense from tgt: LBA out of range, bad opcode, bad field")
    func fixedSense() throws {
        let s = SenseData(TGT.lun1Read10PastEnd)
        #expect(s.responseCode == 0x70)
        #expect(s.isFixedFormat && !s.isDescriptorFormat && !s.isDeferred)
        #expect(s.senseKey == .illegalRequest)
        #expect(s.asc == 0x21 && s.ascq == 0x00)
        #expect(s.additionalSenseCode == .logicalBlockAddressOutOfRange)
        #expect(s.additionalLength == 10)
        #expect(s.information == nil)  // tgt leaves VALID clear
        #expect(s.commandSpecificInformation == 0)
        #expect(s.fieldReplaceableUnit == 0)
        #expect(s.senseKeySpecific == nil)
        #expect(!s.filemark && !s.endOfMedium && !s.incorrectLength)
        #expect(!s.isTruncated)
        #expect(s.description == "ILLEGAL REQUEST asc:21,0 (Logical block address out of range)")

        #expect(SenseData(TGT.lun1Read16PastEnd) == s)
        #expect(SenseData(TGT.lun1BadOpcode).summary == "ILLEGAL REQUEST asc:20,0 (Invalid command operation code)")
        #expect(SenseData(TGT.lun1InquiryBadField).summary == "ILLEGAL REQUEST asc:24,0 (Invalid field in CDB)")
        #expect(SenseData(TGT.lun1ModesenseBadPage).additionalSenseCode == .invalidFieldInCDB)
        let none = SenseData(TGT.lun1RequestSense)
        #expect(none.senseKey == .noSense)
        #expect(none.summary == "NO SENSE asc:0,0 (No additional sense information)")
        // Our builder produces what tgt produced.
        #expect(SenseData.fixed(key: .illegalRequest, .logicalBlockAddressOutOfRange) == TGT.lun1Read10PastEnd)
        #expect(SenseData.fixed(key: .illegalRequest, .invalidCommandOperationCode) == TGT.lun1BadOpcode)
    }

    @Test("descriptor-format sense from tgt (sense_format=1)")
    func descriptorSense() throws {
        let s = SenseData(TGT.lun2Read10PastEnd)
        #expect(s.responseCode == 0x72)
        #expect(s.isDescriptorFormat && !s.isFixedFormat)
        #expect(s.senseKey == .illegalRequest)
        #expect(s.additionalSenseCode == .logicalBlockAddressOutOfRange)
        #expect(s.additionalLength == 0)
        #expect(s.descriptors.isEmpty)
        #expect(s.information == nil)
        #expect(s.description == "ILLEGAL REQUEST asc:21,0 (Logical block address out of range)")
        #expect(SenseData(TGT.lun2BadOpcode).additionalSenseCode == .invalidCommandOperationCode)
        #expect(SenseData(TGT.lun2InquiryBadField).additionalSenseCode == .invalidFieldInCDB)
        #expect(SenseData(TGT.lun2RequestSense).senseKey == .noSense)
        #expect(SenseData.descriptor(key: .illegalRequest, .logicalBlockAddressOutOfRange) == TGT.lun2Read10PastEnd)
        #expect(SenseData.descriptor(key: .illegalRequest, asc: 0x24, ascq: 0) == TGT.lun2InquiryBadField)
    }
}
