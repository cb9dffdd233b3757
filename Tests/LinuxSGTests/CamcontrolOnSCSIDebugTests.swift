import CAMLinuxSG
import Foundation
import TestSupport
import Testing

extension OnSCSIDebug {
/// camcontrol on scsi_debug devices under a real kernel says what sg3_utils says about the
/// same devices: sg_map for the addresses, sg_inq for INQUIRY and the serial number,
/// sg_readcap for the capacity, sg_turs for readiness, sg_raw for raw CDBs.
@Suite struct CamcontrolOnSCSIDebugTests {
    let devices: [SGDeviceInfo]

    init() throws {
        devices = SCSIDebug.devices
        try #require(!devices.isEmpty)
        // Past the power-on UNIT ATTENTION, so that sg3_utils (which does not retry) sees a
        // ready device too.
        for d in devices { _ = try Tools.run("sg_turs", ["-n", "3", d.devicePath]) }
    }

    /// sg_inq's "Name: value" lines (values untrimmed: T10 fields are space padded).
    static func fields(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.range(of: ": ") else { continue }
            let key = line[..<colon.lowerBound].trimmingCharacters(in: .whitespaces)
            out[key] = String(line[colon.upperBound...])
        }
        return out
    }

    static func trimmed(_ s: String?) -> String { (s ?? "").trimmingCharacters(in: .whitespaces) }

    @Test func devlistShowsEveryDeviceAtSgMapsAddressWithSgInqsNames() throws {
        let list = try Tools.run("camcontrol", ["devlist", "-v"])
        #expect(list.status == 0, "\(list.stderr)")
        let map = try Tools.run("sg_map", ["-x"])
        #expect(map.status == 0, "\(map.stderr)")
        for d in devices {
            // sg_map -x: "/dev/sg0  0 0 0 0  0": host, channel, target, LUN, type.
            let row = try #require(Tools.lines(map).first { $0.hasPrefix(d.devicePath + " ") }, "\(map.out)")
            let cols = row.split(separator: " ").map(String.init)
            try #require(cols.count >= 6)
            let inq = Self.fields(try Tools.run("sg_inq", [d.devicePath]).out)
            let names = "<\(Self.trimmed(inq["Vendor identification"])) \(Self.trimmed(inq["Product identification"])) "
                + "\(Self.trimmed(inq["Product revision level"]))>"
            // The device's line, and the bus header above it ("scbus0 on sg0 bus 0:", sgH).
            var header = ""
            var line: String?
            for l in Tools.lines(list) {
                if l.hasPrefix("scbus") { header = l; continue }
                if l.hasSuffix(",\(d.name))") { line = l; break }
            }
            let found = try #require(line, "\(d.name) not in:\n\(list.out)")
            #expect(found.hasPrefix(names + " "), "\(found) vs sg_inq's \(names)")
            #expect(found.contains(" target \(cols[3]) lun \(String(UInt64(cols[4]) ?? 0, radix: 16)) (pass"), "\(found) vs sg_map's \(row)")
            #expect(header.hasPrefix("scbus") && header.contains(" on sg\(cols[1]) bus "), "\(header) vs host \(cols[1])")
        }
    }

    @Test func periphlistAndDevtypeAgreeWithSgVpd() throws {
        for d in devices {
            let periphs = try Tools.run("camcontrol", ["periphlist", d.devicePath])
            #expect(periphs.status == 0, "\(periphs.stderr)")
            let lines = Tools.lines(periphs)
            #expect(lines.count == 1 && lines[0].hasPrefix("pass") && lines[0].hasSuffix("  generation: 1 index: 1 status: LAST"),
                    "\(periphs.out)")
            // satl exactly when the device lists the ATA Information VPD page (89h) among its
            // supported pages ("sv"), which sg_vpd names "ATA information (SAT) [ai]".
            let pages = try Tools.run("sg_vpd", ["-p", "sv", d.devicePath])
            #expect(pages.status == 0, "\(pages.stderr)")
            let expected = pages.out.contains("[ai]") ? "satl" : "scsi"
            let type = try Tools.run("camcontrol", ["devtype", d.devicePath])
            #expect(type.status == 0, "\(type.stderr)")
            #expect(type.out == expected + "\n", "\(type.out) vs sg_vpd:\n\(pages.out)")
        }
    }

    @Test func inquiryAgreesWithSgInq() throws {
        for d in devices {
            let ours = try Tools.run("camcontrol", ["inquiry", d.devicePath])
            #expect(ours.status == 0, "\(ours.stderr)")
            let theirs = try Tools.run("sg_inq", [d.devicePath])
            #expect(theirs.status == 0, "\(theirs.stderr)")
            let f = Self.fields(theirs.out)
            let vendor = Self.trimmed(f["Vendor identification"])
            let product = Self.trimmed(f["Product identification"])
            let revision = Self.trimmed(f["Product revision level"])
            #expect(vendor == "Linux" && product == "scsi_debug" && !revision.isEmpty, "\(theirs.out)")
            // "version=0x07  [SPC-5]", "RMB=0", "Peripheral device type: disk", "CmdQue=1".
            let spc = try #require(theirs.out.firstMatch(of: /version=0x[0-9a-fA-F]+\s+\[([^\]]+)\]/)?.1)
            #expect(theirs.out.firstMatch(of: /Peripheral device type: (\S+)/)?.1 == "disk")
            let fixed = theirs.out.contains("RMB=0") ? "Fixed" : "Removable"
            let queueing = theirs.out.contains("CmdQue=1") ? ", Command Queueing Enabled" : ""
            let serial = Self.trimmed(f["Unit serial number"])
            #expect(!serial.isEmpty)
            let lines = Tools.lines(ours)
            try #require(lines.count == 3, "\(ours.out)")
            #expect(lines[0] == "pass0: <\(vendor) \(product) \(revision)> \(fixed) Direct Access \(spc) SCSI device")
            #expect(lines[1] == "pass0: Serial Number \(serial)")
            #expect(lines[2] == "pass0: SCSI generic transport\(queueing)")
        }
    }

    @Test func readcapAgreesWithSgReadcap() throws {
        for d in devices {
            let theirs = try Tools.run("sg_readcap", [d.devicePath])
            #expect(theirs.status == 0, "\(theirs.stderr)")
            // "Last LBA=32767 (0x7fff), Number of logical blocks=32768", "Logical block length=512 bytes".
            let last = try #require(theirs.out.firstMatch(of: /Last LBA=([0-9]+)/).flatMap { UInt64($0.1) }, "\(theirs.out)")
            let blocks = try #require(theirs.out.firstMatch(of: /Number of logical blocks=([0-9]+)/).flatMap { UInt64($0.1) })
            let length = try #require(theirs.out.firstMatch(of: /Logical block length=([0-9]+) bytes/).flatMap { Int($0.1) })
            #expect(blocks == last + 1)

            let ours = try Tools.run("camcontrol", ["readcap", d.devicePath, "-E", "-C", "3"])
            #expect(ours.status == 0, "\(ours.stderr)")
            #expect(ours.out == "Last Block: \(last), Block Length: \(length) bytes\n")
            let n = try Tools.run("camcontrol", ["readcap", d.devicePath, "-N", "-q"])
            #expect(n.out == "\(blocks) \(length)\n")

            // READ CAPACITY(16) both ways.
            let theirs16 = try Tools.run("sg_readcap", ["-l", d.devicePath])
            let last16 = theirs16.out.firstMatch(of: /Last LBA=([0-9]+)/).flatMap { UInt64($0.1) }
            #expect(last16 == last)
            let ours16 = try Tools.run("camcontrol", ["readcap", d.devicePath, "-l"])
            #expect(ours16.out == "Last Block: \(last), Block Length: \(length) bytes\n", "\(ours16.stderr)")
        }
    }

    @Test func rawResponsesAreByteForByteWhatSg3UtilsGets() throws {
        let dir = try TemporaryDirectory("sgvm")
        for d in devices {
            // INQUIRY, 96 bytes: camcontrol cmd against sg_raw.
            let inq = try Tools.run("camcontrol", ["cmd", d.devicePath, "-c", "12 0 0 0 60 0", "-i", "96", "-"])
            #expect(inq.status == 0, "\(inq.stderr)")
            let rawFile = dir.file("inq-\(d.name)")
            let raw = try Tools.run("sg_raw", ["-r", "96", "-o", rawFile, d.devicePath, "12", "00", "00", "00", "60", "00"])
            #expect(raw.status == 0, "\(raw.stderr)")
            #expect(inq.stdout == (try dir.read("inq-\(d.name)")))
            #expect(inq.stdout.count == 96)

            // The unit serial number page against sg_inq --raw.
            let vpd = try Tools.run("camcontrol", ["cmd", d.devicePath, "-c", "12 1 80 0 fc 0", "-i", "252", "-"])
            #expect(vpd.status == 0, "\(vpd.stderr)")
            let vpdTheirs = try Tools.run("sg_inq", ["--page=0x80", "--raw", d.devicePath])
            #expect(vpd.stdout == vpdTheirs.stdout, "\(Array(vpd.stdout)) vs \(Array(vpdTheirs.stdout))")

            // READ CAPACITY(10) against sg_readcap --raw.
            let cap = try Tools.run("camcontrol", ["cmd", d.devicePath, "-c", "25 0 0 0 0 0 0 0 0 0", "-i", "8", "-"])
            #expect(cap.status == 0, "\(cap.stderr)")
            let capTheirs = try Tools.run("sg_readcap", ["--raw", d.devicePath])
            #expect(cap.stdout == capTheirs.stdout)
        }
    }

    @Test func dataWrittenByEitherToolReadsBackThroughTheOther() throws {
        let dir = try TemporaryDirectory("sgvm")
        let d = try #require(devices.first)
        // LBA 0x2000: camcontrol writes, sg_raw reads.
        let ours = TestData.bytes(1024, seed: 0x5EED)
        let w = try Tools.run("camcontrol", ["cmd", d.devicePath, "-c", "2a 0 0 0 20 0 0 0 2 0", "-o", "1024", "-"], input: ours)
        #expect(w.status == 0, "\(w.stderr)")
        let r = try Tools.run("sg_raw", ["-r", "1024", "-o", dir.file("back"), d.devicePath,
                                         "28", "00", "00", "00", "20", "00", "00", "00", "02", "00"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try dir.read("back") == ours)
        // LBA 0x2002: sg_raw writes, camcontrol reads.
        let theirs = TestData.bytes(512, seed: 0xFEED)
        let src = try dir.write("src", theirs)
        let w2 = try Tools.run("sg_raw", ["-s", "512", "-i", src, d.devicePath, "2a", "00", "00", "00", "20", "02", "00", "00", "01", "00"])
        #expect(w2.status == 0, "\(w2.stderr)")
        let r2 = try Tools.run("camcontrol", ["cmd", d.devicePath, "-c", "28 0 0 0 20 2 0 0 1 0", "-i", "512", "-"])
        #expect(r2.status == 0, "\(r2.stderr)")
        #expect(r2.stdout == theirs)
    }

    @Test func anErrorIsNamedAsSg3UtilsNamesIt() throws {
        let d = try #require(devices.first)
        // READ(10) past the end: ILLEGAL REQUEST, LOGICAL BLOCK ADDRESS OUT OF RANGE.
        let ours = try Tools.run("camcontrol", ["cmd", d.devicePath, "-v", "-c", "28 0 7f 0 0 0 0 0 1 0", "-i", "512"])
        #expect(ours.status == 1)
        #expect(ours.stderr.contains("ILLEGAL REQUEST asc:21,0"), "\(ours.stderr)")
        #expect(ours.stderr.contains("SCSI status: Check Condition"))
        let theirs = try Tools.run("sg_raw", ["-r", "512", "-o", "/dev/null", d.devicePath,
                                              "28", "00", "7f", "00", "00", "00", "00", "00", "01", "00"])
        #expect(theirs.status != 0)
        let text = try #require(theirs.stderr.firstMatch(of: /Additional sense: ([^\n]+)/)?.1, "\(theirs.stderr)")
        #expect(ours.stderr.lowercased().contains(String(text).lowercased()), "sg_raw: \(text); camcontrol: \(ours.stderr)")
        #expect(theirs.stderr.contains("Illegal Request"))
    }

    @Test func turAgreesWithSgTursReadyAndAfterAReset() throws {
        for d in devices {
            let ours = try Tools.run("camcontrol", ["tur", d.devicePath, "-E", "-C", "3"])
            #expect(ours.status == 0, "\(ours.stderr)")
            #expect(ours.out == "Unit is ready\n")
            let theirs = try Tools.run("sg_turs", [d.devicePath])
            #expect(theirs.status == 0, "\(theirs.out)\(theirs.stderr)")
        }
        // A LOGICAL UNIT RESET leaves a UNIT ATTENTION for the next command, whoever sends it.
        let d = try #require(devices.first)
        #expect(try Tools.run("sg_reset", ["-d", d.devicePath]).status == 0)
        let ours = try Tools.run("camcontrol", ["tur", d.devicePath, "-v"])
        #expect(ours.status == 1)
        #expect(ours.out == "Unit is not ready\n")
        #expect(ours.stderr.contains("UNIT ATTENTION asc:29,"), "\(ours.stderr)")
        #expect(try Tools.run("sg_reset", ["-d", d.devicePath]).status == 0)
        let theirs = try Tools.run("sg_turs", [d.devicePath])
        #expect(theirs.status == 6, "sg3_utils' SG_LIB_CAT_UNIT_ATTENTION; \(theirs.out)\(theirs.stderr)")
        let said = (theirs.out + theirs.stderr)
        let text = try #require(said.firstMatch(of: /Additional sense: ([^\n]+)/)?.1, "\(said)")
        #expect(ours.stderr.lowercased().contains(String(text).lowercased()), "sg_turs: \(text); camcontrol: \(ours.stderr)")
        // Now both see a ready unit again.
        #expect(try Tools.run("camcontrol", ["tur", d.devicePath]).status == 0)
        #expect(try Tools.run("sg_turs", [d.devicePath]).status == 0)
    }
}
}
