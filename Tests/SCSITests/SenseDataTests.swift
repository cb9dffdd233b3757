import Testing
import SCSI

@Suite("Sense data")
struct SenseDataTests {
    @Test("fixed format: MEDIUM ERROR with INFORMATION, as camcontrol prints it")
    func fixedMediumError() throws {
        // 70h with VALID, MEDIUM ERROR, info 0x1000, CSI 0, 11/00, FRU 0, retry count 3.
        let s = SenseData(hex("f0 00 03 00 00 10 00 0a 00 00 00 00 11 00 00 80 00 03"))
        #expect(s.senseKey == .mediumError)
        #expect(s.information == 0x1000)
        #expect(s.additionalSenseCode == .unrecoveredReadError)
        #expect(s.senseKeySpecific == .actualRetryCount(3))
        #expect(s.lines == [
            "MEDIUM ERROR asc:11,0 (Unrecovered read error)",
            "Info: 0x1000",
            "Actual Retry Count: 3",
        ])
    }

    @Test("fixed format: the VALID bit gates INFORMATION")
    func validBit() {
        let s = SenseData(hex("70 00 03 00 00 10 00 0a 00 00 00 00 11 00 00 00 00 00"))
        #expect(s.information == nil)
    }

    @Test("ILLEGAL REQUEST field pointer: C/D, bit pointer")
    func fieldPointer() {
        // SKSV, C/D=1, BPV, bit 5, byte 2.
        let s = SenseData(hex("70 00 05 00 00 00 00 0a 00 00 00 00 24 00 00 cd 00 02"))
        #expect(s.senseKeySpecific == .fieldPointer(inCDB: true, byte: 2, bit: 5))
        #expect(s.lines.last == "Command byte 2 bit 5 is invalid")
        // Parameter data, no bit pointer.
        let d = SenseData(hex("70 00 05 00 00 00 00 0a 00 00 00 00 26 00 00 80 00 0c"))
        #expect(d.senseKeySpecific == .fieldPointer(inCDB: false, byte: 12, bit: nil))
        #expect(d.lines.last == "Data byte 12 is invalid")
        // SKSV clear: no sense-key-specific field.
        #expect(SenseData(hex("70 00 05 00 00 00 00 0a 00 00 00 00 24 00 00 4d 00 02")).senseKeySpecific == nil)
    }

    @Test("NOT READY progress indication")
    func progress() {
        let s = SenseData(hex("70 00 02 00 00 00 00 0a 00 00 00 00 04 04 00 80 80 00"))
        #expect(s.senseKeySpecific == .progressIndication(0x8000))
        #expect(s.progress == 0x8000)
        #expect(s.lines == [
            "NOT READY asc:4,4 (Logical unit not ready, format in progress)",
            "Progress: 50% (32768/65536) complete",
        ])
    }

    @Test("stream bits, FRU, command-specific information, deferred")
    func otherFixedFields() {
        // Deferred (71h), FILEMARK+EOM+ILI, CSI 0xdeadbeef, FRU 7.
        let s = SenseData(hex("71 00 e1 00 00 00 00 0a de ad be ef 00 01 07 00 00 00"))
        #expect(s.isDeferred)
        #expect(s.filemark && s.endOfMedium && s.incorrectLength)
        #expect(s.commandSpecificInformation == 0xDEAD_BEEF)
        #expect(s.fieldReplaceableUnit == 7)
        #expect(s.lines == [
            "Deferred error: RECOVERED ERROR asc:0,1 (Filemark detected)",
            "Filemark EOM ILI",
            "Field Replaceable Unit: 7",
            "Command Specific Info: 0xdeadbeef",
        ])
    }

    @Test("descriptor format: information, command-specific, sense key specific, block, FRU")
    func descriptorFields() throws {
        let bytes = hex(
            "72 03 11 00 00 00 00 28 " +
            "00 0a 80 00 00 00 00 01 00 00 00 00 " +  // information 0x1_0000_0000, VALID
            "01 0a 00 00 00 00 00 00 00 00 12 34 " +  // command-specific 0x1234
            "02 06 00 00 80 00 05 00 " +  // retry count 5
            "03 02 00 09 " +  // FRU 9
            "05 02 00 20")  // block commands: ILI
        let s = SenseData(bytes)
        #expect(s.isDescriptorFormat)
        #expect(s.descriptors.map(\.type) == [0, 1, 2, 3, 5])
        #expect(s.descriptors.allSatisfy { $0.isComplete })
        #expect(s.information == 0x1_0000_0000)
        #expect(s.commandSpecificInformation == 0x1234)
        #expect(s.senseKeySpecific == .actualRetryCount(5))
        #expect(s.fieldReplaceableUnit == 9)
        #expect(s.incorrectLength && !s.filemark)
        #expect(s.lines == [
            "MEDIUM ERROR asc:11,0 (Unrecovered read error)",
            "ILI",
            "Info: 0x100000000",
            "Field Replaceable Unit: 9",
            "Command Specific Info: 0x1234",
            "Actual Retry Count: 5",
        ])
    }

    @Test("descriptor format: progress, forwarded and vendor descriptors are listed")
    func otherDescriptors() {
        let bytes = hex(
            "72 02 04 04 00 00 00 18 " +
            "0a 06 02 04 04 00 40 00 " +  // another progress indication: 25%
            "0c 0a 01 02 70 00 05 00 00 00 00 00 " +  // forwarded sense (truncated fixed sense)
            "80 02 ab cd")
        let s = SenseData(bytes)
        #expect(s.descriptors.count == 3)
        #expect(s.progress == 0x4000)
        #expect(s.descriptor(type: 0x0C)?.forwardedSense?.senseKey == .illegalRequest)
        #expect(s.lines == [
            "NOT READY asc:4,4 (Logical unit not ready, format in progress)",
            "Progress indication: NOT READY asc:4,4 (Logical unit not ready, format in progress): "
                + "Progress: 25% (16384/65536) complete",
            "Forwarded sense: ILLEGAL REQUEST (no ASC/ASCQ)",
            "Descriptor 0x80 (Vendor specific): ab cd",
        ])
    }

    @Test("builder: fixed and descriptor round-trip through the decoder")
    func builderRoundTrip() throws {
        let b = SenseBuilder(key: .illegalRequest, asc: 0x24, ascq: 0, information: 0x77,
                             commandSpecificInformation: 0x99,
                             senseKeySpecific: .fieldPointer(inCDB: true, byte: 8, bit: 3),
                             fieldReplaceableUnit: 2, incorrectLength: true, deferred: true)
        for format in [SenseFormat.fixed, .descriptor] {
            let s = SenseData(b.bytes(format))
            #expect(s.isDescriptorFormat == (format == .descriptor))
            #expect(s.isDeferred)
            #expect(s.senseKey == .illegalRequest)
            #expect(s.additionalSenseCode == .invalidFieldInCDB)
            #expect(s.information == 0x77)
            #expect(s.commandSpecificInformation == 0x99)
            #expect(s.senseKeySpecific == .fieldPointer(inCDB: true, byte: 8, bit: 3))
            #expect(s.fieldReplaceableUnit == 2)
            #expect(s.incorrectLength)
            #expect(!s.isTruncated)
        }
        #expect(b.bytes(.fixed).count == 18)
        #expect(b.bytes(.descriptor).count == b.descriptorLength)
        // Stream bits go in a stream commands descriptor.
        let t = SenseData(SenseBuilder(key: .noSense, asc: 0, ascq: 1, filemark: true, endOfMedium: true).bytes(.descriptor))
        #expect(t.filemark && t.endOfMedium && !t.incorrectLength)
        // A 64-bit INFORMATION does not fit fixed format: VALID stays clear.
        let big = SenseData(SenseBuilder(key: .mediumError, asc: 0x11, ascq: 0, information: 1 << 40).bytes(.fixed))
        #expect(big.information == nil)
        #expect(SenseData(SenseBuilder(key: .mediumError, asc: 0x11, ascq: 0, information: 1 << 40).bytes(.descriptor)).information == 1 << 40)
    }

    @Test("builder: the documented layouts, byte for byte")
    func builderBytes() {
        #expect(SenseData.fixed(key: .mediumError, asc: 0x11, ascq: 0, information: 0x1000)
            == hex("f0 00 03 00 00 10 00 0a 00 00 00 00 11 00 00 00 00 00"))
        #expect(SenseData.descriptor(key: .mediumError, asc: 0x11, ascq: 0, information: 0x1000)
            == hex("72 03 11 00 00 00 00 0c 00 0a 80 00 00 00 00 00 00 00 10 00"))
        #expect(SenseData.fixed(key: .unitAttention, .powerOnResetOrBusDeviceReset)
            == hex("70 00 06 00 00 00 00 0a 00 00 00 00 29 00 00 00 00 00"))
    }

    @Test("builder: writes into a short buffer without overrunning it")
    func builderShortBuffer() {
        let b = SenseBuilder(key: .mediumError, asc: 0x11, ascq: 0, information: 5)
        var buf = [UInt8](repeating: 0xEE, count: 10)
        let n = buf.withUnsafeMutableBytes { b.write(.descriptor, into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<8])) }
        #expect(n == 8)
        #expect(buf[8] == 0xEE && buf[9] == 0xEE)
        #expect(Array(buf[0..<8]) == hex("72 03 11 00 00 00 00 0c"))
        // The truncated sense still decodes what it holds.
        let s = SenseData(buf[0..<8])
        #expect(s.isTruncated && s.senseKey == .mediumError && s.information == nil)
    }

    @Test("empty, short and unknown-format sense")
    func degenerate() {
        #expect(SenseData([UInt8]()).summary == "No sense data present")
        #expect(SenseData([UInt8]()).senseKey == nil)
        let one = SenseData(hex("70"))
        #expect(one.responseCode == 0x70 && one.senseKey == nil && one.asc == nil)
        #expect(one.summary == "(no sense key) (no ASC/ASCQ)")
        let three = SenseData(hex("70 00 04"))
        #expect(three.senseKey == .hardwareError && three.asc == nil)
        #expect(three.summary == "HARDWARE ERROR (no ASC/ASCQ)")
        // Additional length says 5: ASC at byte 12 is valid, ASCQ at byte 13 is not.
        let cut = SenseData(hex("70 00 04 00 00 00 00 05 00 00 00 00 44 00 00 00 00 00"))
        #expect(cut.asc == 0x44 && cut.ascq == nil && cut.additionalSenseCode == nil)
        #expect(SenseData(hex("7f 00 00 00")).summary == "Error code 0x7f")
        #expect(SenseData(hex("f1 00 00 00 00 00 10")).summary == "Deferred error: NO SENSE (no ASC/ASCQ)")
        #expect(SenseData(hex("75 00 00 00 00 00 10")).summary == "Error code 0x75")
        #expect(SenseData(hex("e5 00 00 00 00 00 10")).summary == "Error code 0x65 at block no. 16 (decimal)")
        #expect(SenseData([UInt8](repeating: 0, count: 400)).bytes.count == 252)
        // A descriptor whose length runs past the data is cut, not followed.
        let d = SenseData(hex("72 03 11 00 00 00 00 10 00 0a 80 00 00 00 00 00 00 00 00 01 02 ff ff ff"))
        #expect(d.descriptors.count == 2)
        #expect(d.descriptors[1].type == 0x02 && !d.descriptors[1].isComplete)
        #expect(d.information == 1)
        #expect(d.senseKeySpecific == nil)
    }

    @Test("random and truncated buffers never trap")
    func fuzz() {
        var rng = SplitMix64(seed: 0x5C51)
        var seeds: [[UInt8]] = [
            TGT.lun1Read10PastEnd, TGT.lun2Read10PastEnd,
            hex("72 03 11 00 00 00 00 28 00 0a 80 00 00 00 00 01 00 00 00 00 01 0a 00 00 00 00 00 00 00 00 12 34 02 06 00 00 80 00 05 00 03 02 00 09 05 02 00 20"),
            SenseBuilder(key: .illegalRequest, asc: 0x24, ascq: 0, information: 1, commandSpecificInformation: 2,
                         senseKeySpecific: .fieldPointer(inCDB: true, byte: 1, bit: 1), fieldReplaceableUnit: 3,
                         filemark: true).bytes(.descriptor),
        ]
        for _ in 0..<2000 {
            let n = Int(rng.next() % 300)
            var b = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            // Bias toward the recognized formats so that the decoding paths run.
            if !b.isEmpty { b[0] = [0x70, 0x71, 0x72, 0x73, 0xF0, UInt8(truncatingIfNeeded: rng.next())][Int(rng.next() % 6)] }
            seeds.append(b)
        }
        var decoded = 0
        for seed in seeds {
            for cut in stride(from: 0, through: seed.count, by: Swift.max(1, seed.count / 16)) {
                let s = SenseData(seed.prefix(cut))
                _ = s.description
                _ = s.information
                _ = s.commandSpecificInformation
                _ = s.senseKeySpecific
                _ = s.fieldReplaceableUnit
                _ = s.progress
                _ = s.additionalSenseBytes
                for d in s.descriptors { _ = d.forwardedSense?.description }
                s.bytes.withUnsafeBytes { raw in _ = SenseData(raw).summary }
                decoded += 1
            }
        }
        #expect(decoded > 2000)
    }
}

/// A small deterministic generator, so that the fuzz tests run the same every time.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
