import Testing
@testable import SCSI

@Suite("ASC/ASCQ table")
struct AdditionalSenseCodeTests {
    @Test("the table covers SPC-5's list: hundreds of pairs, sorted, unique")
    func tableShape() {
        let all = AdditionalSenseCode.allListed
        #expect(all.count > 700)
        #expect(zip(all, all.dropFirst()).allSatisfy { $0.code < $1.code })
        #expect(all.allSatisfy { $0.name != nil && !$0.name!.isEmpty })
        #expect(all.allSatisfy { $0.asc < 0x80 })
    }

    @Test("names as SPC spells them, descriptions as camcontrol prints them")
    func names() {
        let cases: [(UInt8, UInt8, String, String)] = [
            (0x00, 0x00, "NO ADDITIONAL SENSE INFORMATION", "No additional sense information"),
            (0x04, 0x01, "LOGICAL UNIT IS IN PROCESS OF BECOMING READY", "Logical unit is in process of becoming ready"),
            (0x11, 0x00, "UNRECOVERED READ ERROR", "Unrecovered read error"),
            (0x20, 0x00, "INVALID COMMAND OPERATION CODE", "Invalid command operation code"),
            (0x21, 0x00, "LOGICAL BLOCK ADDRESS OUT OF RANGE", "Logical block address out of range"),
            (0x24, 0x00, "INVALID FIELD IN CDB", "Invalid field in CDB"),
            (0x29, 0x00, "POWER ON, RESET, OR BUS DEVICE RESET OCCURRED", "Power on, reset, or bus device reset occurred"),
            (0x29, 0x07, "I_T NEXUS LOSS OCCURRED", "I_T nexus loss occurred"),
            (0x3F, 0x0E, "REPORTED LUNS DATA HAS CHANGED", "Reported LUNs data has changed"),
            (0x3F, 0x12, "iSCSI IP ADDRESS ADDED", "iSCSI IP address added"),
            (0x10, 0x00, "ID CRC OR ECC ERROR", "ID CRC or ECC error"),
            (0x08, 0x03, "LOGICAL UNIT COMMUNICATION CRC ERROR (ULTRA-DMA/32)", "Logical unit communication CRC error (Ultra-DMA/32)"),
            (0x4B, 0x0E, "PCIE FABRIC ERROR", "PCIe fabric error"),
            (0x5D, 0x00, "FAILURE PREDICTION THRESHOLD EXCEEDED", "Failure prediction threshold exceeded"),
            (0x5D, 0x10, "HARDWARE IMPENDING FAILURE GENERAL HARD DRIVE FAILURE", "Hardware impending failure general hard drive failure"),
            (0x5D, 0x6C, "FIRMWARE IMPENDING FAILURE DRIVE CALIBRATION RETRY COUNT", "Firmware impending failure drive calibration retry count"),
            (0x5D, 0xFF, "FAILURE PREDICTION THRESHOLD EXCEEDED (FALSE)", "Failure prediction threshold exceeded (false)"),
            (0x0B, 0x14, "WARNING - PHYSICAL ELEMENT STATUS CHANGE", "Warning - physical element status change"),
            (0x2C, 0x11, "DESCRIPTOR FORMAT SENSE DATA REQUIRED", "Descriptor format sense data required"),
            (0x74, 0x79, "SECURITY CONFLICT IN TRANSLATED DEVICE", "Security conflict in translated device"),
            (0x40, 0x00, "RAM FAILURE (SHOULD USE 40 NN)", "Ram failure (should use 40 NN)"),
        ]
        for (a, q, name, text) in cases {
            let c = AdditionalSenseCode(asc: a, ascq: q)
            #expect(c.name == name)
            #expect(c.description == text)
            #expect(c.isAssigned && !c.isVendorSpecific)
        }
    }

    @Test("no (asc, ascq) is listed twice in the table's text")
    func noDuplicatePairs() {
        var seen: [UInt16: Int] = [:]
        for line in AdditionalSenseCode.tableText.split(separator: "\n") {
            let t = line.drop { $0 == " " }
            guard t.count > 5, let code = UInt16(t.prefix(4), radix: 16) else { continue }
            seen[code, default: 0] += 1
        }
        #expect(seen.count > 760)
        #expect(seen.filter { $0.value > 1 }.keys.sorted() == [])
        #expect(AdditionalSenseCode.allListed.count == seen.count)
    }

    @Test("pairs T10 assigned since SPC-5, and 5Dh's uneven failure-prediction range")
    func recentAssignments() {
        let cases: [(UInt8, UInt8, String)] = [
            (0x00, 0x23, "Overlapping atomic command in progress"),
            (0x30, 0x0B, "Cleaning tape expired"),
            (0x38, 0x09, "Depopulation restoration interrupted"),
            (0x67, 0x0E, "Feature not enabled"),
            (0x5D, 0x1C, "Hardware impending failure drive calibration retry count"),
            (0x5D, 0x1D, "Hardware impending failure power loss protection circuit"),
            (0x5D, 0x20, "Controller impending failure general hard drive failure"),
            (0x5D, 0x4B, "Servo impending failure spin-up retry count"),
            (0x5D, 0x73, "Media impending failure endurance limit met"),
            (0x5D, 0xFF, "Failure prediction threshold exceeded (false)"),
        ]
        for (a, q, text) in cases {
            let c = AdditionalSenseCode(asc: a, ascq: q)
            #expect(c.description == text, "\(c.shortForm)")
            #expect(c.isAssigned)
        }
        // Holes in the 5Dh range stay holes: only the hardware row has a 1Dh.
        for q: UInt8 in [0x04, 0x0F, 0x1E, 0x2D, 0x3D, 0x6D, 0x72, 0x74] {
            #expect(AdditionalSenseCode(asc: 0x5D, ascq: q).name == nil, "5D/\(q)")
        }
    }

    @Test("patterned ranges: 40/NN, 4D/NN, 70/NN")
    func patterns() {
        #expect(AdditionalSenseCode(asc: 0x40, ascq: 0x85).name == "DIAGNOSTIC FAILURE ON COMPONENT 85h")
        #expect(AdditionalSenseCode(asc: 0x40, ascq: 0x85).description == "Diagnostic failure on component 85h")
        #expect(AdditionalSenseCode(asc: 0x40, ascq: 0x05).name == nil)  // only 80h-FFh
        #expect(AdditionalSenseCode(asc: 0x4D, ascq: 0x3A).name == "TAGGED OVERLAPPED COMMANDS (TASK TAG 3Ah)")
        #expect(AdditionalSenseCode(asc: 0x4D, ascq: 0x00).description == "Tagged overlapped commands (task tag 00h)")
        #expect(AdditionalSenseCode(asc: 0x70, ascq: 0x0F).name == "DECOMPRESSION EXCEPTION SHORT ALGORITHM ID OF 0Fh")
        #expect(AdditionalSenseCode(asc: 0x4D, ascq: 0xF0).isVendorSpecific == false)
    }

    @Test("vendor-specific and reserved pairs")
    func unassigned() {
        #expect(AdditionalSenseCode(asc: 0x80, ascq: 0x00).description == "Vendor specific ASC")
        #expect(AdditionalSenseCode(asc: 0x80, ascq: 0x00).isVendorSpecific)
        #expect(AdditionalSenseCode(asc: 0x11, ascq: 0x80).description == "Vendor specific ASCQ")
        #expect(AdditionalSenseCode(asc: 0x0F, ascq: 0x00).description == "Reserved ASC/ASCQ pair")
        #expect(AdditionalSenseCode(asc: 0x0F, ascq: 0x00).name == nil)
        #expect(AdditionalSenseCode(asc: 0x11, ascq: 0x00).shortForm == "asc:11,0")
        #expect(AdditionalSenseCode(asc: 0x3f, ascq: 0x0e).shortForm == "asc:3f,e")
        // Every one of the 65536 pairs has a text.
        for a in 0...255 {
            for q in 0...255 {
                #expect(!AdditionalSenseCode(asc: UInt8(a), ascq: UInt8(q)).description.isEmpty)
            }
        }
    }

    @Test("status and sense key names")
    func statusAndKeys() {
        #expect(SCSIStatus.checkCondition.name == "CHECK CONDITION")
        #expect(SCSIStatus(rawValue: 0x28).description == "TASK SET FULL")
        #expect(SenseKey.illegalRequest.name == "ILLEGAL REQUEST")
        #expect(SenseKey.allCases.count == 16)
    }
}
