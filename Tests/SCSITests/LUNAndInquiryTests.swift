import Testing
import SCSI

@Suite("LUNs, INQUIRY and encoders")
struct LUNAndInquiryTests {
    @Test("LUN addressing methods to flat numbers (SAM-5 4.7)")
    func lunDecoding() {
        func lun(_ s: String) -> LogicalUnitNumber { LogicalUnitNumber(bytes: hex(s)) }
        #expect(lun("00 05 00 00 00 00 00 00").number == 5)
        #expect(lun("00 05 00 00 00 00 00 00").addressMethod == .peripheral)
        #expect(lun("40 05 00 00 00 00 00 00").number == 5)  // flat space, same LUN
        #expect(lun("40 05 00 00 00 00 00 00").addressMethod == .flat)
        #expect(lun("7f ff 00 00 00 00 00 00").number == 0x3FFF)
        #expect(lun("00 05 00 00 00 00 00 00").description == "5")
        // Peripheral addressing with a bus number, and two levels: kept whole, swizzled.
        #expect(lun("01 05 00 00 00 00 00 00").number == 0x0105)
        #expect(lun("00 01 00 02 00 00 00 00").number == 0x0002_0001)
        #expect(lun("00 01 00 02 00 00 00 00").description == "0x0001000200000000")
        #expect(lun("c1 01 00 00 00 00 00 00").isWellKnown)
        #expect(lun("c1 01 00 00 00 00 00 00").addressMethod == .extended)
        #expect(lun("81 23 00 00 00 00 00 00").addressMethod == .logicalUnit)
        // Encoding picks peripheral, then flat, and inverts `number`.
        for n: UInt64 in [0, 1, 255, 256, 0x3FFF, 0x8000, 0xFFFF, 0x0002_0001, 0x1234_5678_9ABC] {
            #expect(LogicalUnitNumber(number: n)?.number == n)
        }
        #expect(LogicalUnitNumber(number: 0x4000) == nil)  // would read back as flat LUN 0
        #expect(LogicalUnitNumber(number: 3)?.bytes == hex("00 03 00 00 00 00 00 00"))
        #expect(LogicalUnitNumber(number: 300)?.bytes == hex("41 2c 00 00 00 00 00 00"))
        #expect(LogicalUnitNumber(bytes: hex("00 07")).number == 7)  // short input reads as zero-padded
    }

    @Test("peripheral device types and qualifiers")
    func types() {
        #expect(PeripheralDeviceType(rawValue: 1).name == "Sequential Access")
        #expect(PeripheralDeviceType(rawValue: 5).name == "CD-ROM")
        #expect(PeripheralDeviceType(rawValue: 0x1F).name == "Unknown")
        #expect(PeripheralDeviceType(rawValue: 0x7F) == .unknown)  // qualifier bits masked off
        let absent = StandardInquiry(hex("7f 00 00 00 00"))!
        #expect(absent.peripheralQualifier == .notSupported)
        #expect(absent.peripheralDeviceType == .unknown)
        #expect(StandardInquiry(hex("e0"))!.peripheralQualifier == .vendorSpecific)
    }

    @Test("INQUIRY encoder round-trips through the parser")
    func inquiryEncode() throws {
        let b = StandardInquiry.encode(vendor: "SWIFTCAM", product: "EMULATED DISK", revision: "0001",
                                       thirdPartyCopy: true, versionDescriptors: [0x00C0, 0x0600])
        #expect(b.count == 96)
        let i = try #require(StandardInquiry(b))
        #expect(i.vendor == "SWIFTCAM" && i.product == "EMULATED DISK" && i.revision == "0001")
        #expect(i.version == 7 && i.versionName == "SPC-5")
        #expect(i.responseDataFormat == 2 && i.hierarchicalSupport && i.commandQueuing && i.thirdPartyCopy)
        #expect(i.additionalLength == 91)
        #expect(i.versionDescriptors == [0x00C0, 0x0600])
        #expect(i.identification == "<SWIFTCAM EMULATED DISK 0001>")
    }

    @Test("mode page encoders")
    func modeEncode() throws {
        var c = CachingModePage(writeCacheEnabled: true)
        #expect(c.page.bytes.prefix(3) == [0x08, 0x12, 0x04])
        c.readCacheDisabled = true
        #expect(c.page.bytes[2] == 0x05)
        let ctl = ControlModePage(descriptorSense: true)
        #expect(ctl.page.bytes == hex("0a 0a 04 10 00 00 00 00 00 00 00 00"))
        let m = ModeParameters(header: ModeParameterHeader(deviceSpecificParameter: 0x10, tenByte: false),
                               blockDescriptors: [ModeBlockDescriptor(numberOfBlocks: 1000, blockLength: 512)],
                               pages: [c.page, ctl.page])
        let bytes = try #require(m.encode())
        #expect(bytes.count == 4 + 8 + 20 + 12)
        #expect(bytes[0] == UInt8(bytes.count - 1))
        let back = try #require(ModeParameters(bytes, tenByte: false))
        #expect(back.blockDescriptors == m.blockDescriptors)
        #expect(back.cachingPage?.readCacheDisabled == true)
        #expect(back.controlPage?.descriptorSense == true)
        #expect(m.encode(forModeSelect: true)?[0] == 0)
        // Long LBA descriptors in the 10-byte form.
        let long = ModeParameters(header: ModeParameterHeader(longLBA: true, tenByte: true),
                                  blockDescriptors: [ModeBlockDescriptor(numberOfBlocks: 1 << 40, blockLength: 4096)])
        let lb = try #require(long.encode())
        #expect(lb.count == 8 + 16)
        let lp = try #require(ModeParameters(lb, tenByte: true))
        #expect(lp.header.longLBA && lp.blockDescriptors.first?.numberOfBlocks == 1 << 40)
        // Sub_page format page.
        let sp = ModePage(code: 0x0A, subpage: 1, parameters: [1, 2, 3])
        #expect(sp.bytes == hex("4a 01 00 03 01 02 03"))
        #expect(sp.isSubpageFormat && sp.subpage == 1 && sp.parameters == [1, 2, 3])
    }

    @Test("READ CAPACITY encoders and the (10) overflow marker")
    func readCapacityEncode() throws {
        let r = ReadCapacity16(lastLBA: (1 << 33) - 1, blockLength: 512, logicalBlocksPerPhysicalBlockExponent: 3,
                               provisioningManagementEnabled: true, lowestAlignedLBA: 0x1234)
        let back = try #require(ReadCapacity16(r.bytes))
        #expect(back == r)
        #expect(back.lowestAlignedLBA == 0x1234)
        #expect(ReadCapacity10(lastLBA: UInt32.max, blockLength: 512).needsReadCapacity16)
        #expect(ReadCapacity16(hex("ff ff ff ff ff ff ff ff ff ff ff ff"))?.byteCount == UInt64.max)
    }

    @Test("one-command REPORT SUPPORTED OPERATION CODES data")
    func oneCommand() throws {
        let o = try #require(OneCommandSupport(hex("00 03 00 0a 28 fe ff ff ff ff 1f ff ff 07")))
        #expect(o.isSupported && !o.timeoutsPresent)
        #expect(o.usageData.count == 10 && o.usageData[0] == 0x28)
    }
}
