import Foundation
import Testing
import TestSupport

/// camcontrol run as a user runs it, on emulated disks.
@Suite("camcontrol end to end on the emulator")
struct CamcontrolTests {
    let camcontrol = TestSupport.tool("camcontrol")

    func run(_ args: [String], input: Data? = nil, env: [String: String] = [:]) throws -> TestSupport.Result {
        try TestSupport.run(camcontrol, args, input: input, environment: env, timeout: 60)
    }

    @Test("devlist prints FreeBSD's format, numbering buses in order")
    func devlist() throws {
        let r = try run(["devlist", "-v", "--bus", "emu:disk:size=1m", "--bus", "emu:disk:size=2m:product=SECOND"])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.out.split(separator: "\n").map(String.init)
        let expected = [
            "scbus0 on emu0 bus 0:",
            "<SWIFTCAM EMULATED DISK 0001>      at scbus0 target 0 lun 0 (pass0)",
            "scbus1 on emu0 bus 0:",
            "<SWIFTCAM SECOND 0001>             at scbus1 target 0 lun 0 (pass1)",
        ]
        // This machine has no /dev/sg devices of its own, so the emulated buses are the only ones.
        #expect(lines == expected)
    }

    @Test("devlist -b lists the buses only; periphlist and devtype name the periphs and the protocol")
    func busesPeriphsAndType() throws {
        let b = try run(["devlist", "-b", "--bus", "emu:disk:size=1m", "--bus", "emu:disk:size=2m"])
        #expect(b.status == 0, "\(b.stderr)")
        #expect(b.out.split(separator: "\n").map(String.init) == ["scbus0 on emu0 bus 0", "scbus1 on emu0 bus 0"])
        let p = try run(["periphlist", "emu:disk:size=1m"])
        #expect(p.status == 0, "\(p.stderr)")
        #expect(p.out == "pass0:  generation: 1 index: 1 status: LAST\n")
        let t = try run(["devtype", "emu:disk:size=1m"])
        #expect(t.status == 0, "\(t.stderr)")
        #expect(t.out == "scsi\n")
        let missing = try run(["periphlist", "pass7", "--bus", "emu:disk:size=1m"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("pass7: no such device"))
    }

    @Test("CAM_BUSES comes before --bus, and the same configuration numbers the same way every time")
    func stableNumbering() throws {
        let env = ["CAM_BUSES": "emu:disk:size=1m:product=FIRST emu:disk:size=1m:product=SECOND"]
        let a = try run(["devlist", "--bus", "emu:disk:size=1m:product=THIRD"], env: env)
        let b = try run(["devlist", "--bus", "emu:disk:size=1m:product=THIRD"], env: env)
        #expect(a.status == 0)
        #expect(a.out == b.out)
        let emu = a.out.split(separator: "\n").filter { $0.hasPrefix("<SWIFTCAM") }
        #expect(emu.count == 3)
        #expect(emu[0].contains("FIRST") && emu[0].hasSuffix("(pass0)"))
        #expect(emu[2].contains("THIRD") && emu[2].hasSuffix("(pass2)"))
        // And pass2 opens the third.
        let inq = try run(["inquiry", "pass2", "-D", "--bus", "emu:disk:size=1m:product=THIRD"], env: env)
        #expect(inq.status == 0, "\(inq.stderr)")
        #expect(inq.out.contains("<SWIFTCAM THIRD 0001>"))
    }

    @Test("inquiry prints the standard line, the serial number and the transport")
    func inquiry() throws {
        let r = try run(["inquiry", "emu:disk:size=8m"])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.out.split(separator: "\n").map(String.init)
        #expect(lines.count == 3)
        #expect(lines[0] == "pass0: <SWIFTCAM EMULATED DISK 0001> Fixed Direct Access SPC-5 SCSI device")
        #expect(lines[1].hasPrefix("pass0: Serial Number "))
        #expect(lines[2].hasPrefix("pass0: Emulated transport"))
        let s = try run(["inquiry", "emu:disk", "-S"])
        #expect(s.out.split(separator: "\n").count == 1)
    }

    @Test("readcap prints last block and block length, and sizes with -h")
    func readcap() throws {
        let r = try run(["readcap", "emu:disk:size=64m"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.out == "Last Block: 131071, Block Length: 512 bytes\n")
        let h = try run(["readcap", "emu:disk:size=64m:sector=4096", "-h"])
        #expect(h.out == "Last Block: 16383, Block Length: 4096 bytes, Device Size: 64 MiB\n")
        let n = try run(["readcap", "emu:disk:size=64m", "-N", "-q"])
        #expect(n.out == "131072 512\n")
        let l = try run(["readcap", "emu:disk:size=3t", "-b"])
        #expect(l.out == "512\n")
        let big = try run(["readcap", "emu:disk:size=3t"])
        #expect(big.out == "Last Block: \(3 * (1 << 40) / 512 - 1), Block Length: 512 bytes\n", "READ CAPACITY(16) for a disk past 2 TiB")
    }

    @Test("tur: 0 when ready, 1 with the sense by name when not")
    func tur() throws {
        let ok = try run(["tur", "emu:disk"])
        #expect(ok.status == 0)
        #expect(ok.out == "Unit is ready\n")
        let ua = try run(["tur", "emu:disk:ua", "-v"])
        #expect(ua.status == 1)
        #expect(ua.out == "Unit is not ready\n")
        #expect(ua.stderr.contains("UNIT ATTENTION asc:29,0"), "\(ua.stderr)")
        // With recovery the unit attention is retried away.
        let uaRecovered = try run(["tur", "emu:disk:ua", "-E", "-C", "2"])
        #expect(uaRecovered.status == 0)
        let stopped = try run(["tur", "emu:disk:stopped", "-v"])
        #expect(stopped.status == 1)
        #expect(stopped.out == "Unit is not ready\n")
        #expect(stopped.stderr.contains("NOT READY asc:4,2"), "\(stopped.stderr)")
        #expect(stopped.stderr.contains("CAM status: SCSI Status Error"))
        #expect(stopped.stderr.contains("SCSI status: Check Condition"))
        #expect(stopped.stderr.contains("(pass0:emu0:0:0:0): TEST UNIT READY. CDB: 00 00 00 00 00 00"))
        // Recovery does not retry a NOT READY that needs a command to clear.
        let rec = try run(["tur", "emu:disk:stopped", "-E", "-C", "3"])
        #expect(rec.status == 1)
    }

    @Test("cmd sends a raw CDB: data in as hex dump or raw, data out from stdin, errors by name")
    func cmd() throws {
        let dir = try TemporaryDirectory()
        let disk = "emu:disk:size=1m:file=\(dir.file("disk.img"))"
        let inq = try run(["cmd", disk, "-c", "12 0 0 0 24 0", "-i", "36"])
        #expect(inq.status == 0, "\(inq.stderr)")
        #expect(inq.out.hasPrefix("0000  00 00 07 "), "SPC-5, \(inq.out)")
        #expect(inq.out.contains("SWIFTCAM"))
        var block = Data(count: 512)
        for i in 0..<512 { block[i] = UInt8(truncatingIfNeeded: i &* 7 &+ 3) }
        let w = try run(["cmd", disk, "-c", "2a 0 0 0 0 5 0 0 1 0", "-o", "512", "-"], input: block)
        #expect(w.status == 0, "\(w.stderr)")
        let r = try run(["cmd", disk, "-c", "28 0 0 0 0 5 0 0 1 0", "-i", "512", "-"])
        #expect(r.status == 0)
        #expect(r.stdout == block, "what was written through the file-backed disk reads back")
        let outFile = dir.file("lba5.bin")
        let f = try run(["cmd", disk, "-c", "0x28 0 0 0 0 5 0 0 1 0", "-i", "512", outFile])
        #expect(f.status == 0)
        #expect(FileManager.default.contents(atPath: outFile) == block)
        let bad = try run(["cmd", disk, "-v", "-c", "28 0 0 1 0 0 0 0 1 0", "-i", "512"])
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("ILLEGAL REQUEST asc:21,0"), "\(bad.stderr)")
        #expect(bad.stderr.contains("Logical block address out of range") || bad.stderr.contains("LOGICAL BLOCK ADDRESS OUT OF RANGE"))
        #expect(bad.stderr.contains("CDB: 28 00 00 01 00 00 00 00 01 00"))
        let op = try run(["cmd", disk, "-v", "-c", "ff 0 0 0 0 0"])
        #expect(op.status == 1)
        #expect(op.stderr.contains("asc:20,0"))
    }

    @Test("bad input gets a clear error and exit status 64")
    func badInput() throws {
        let hex = try run(["cmd", "emu:disk", "-c", "12 zz 0"])
        #expect(hex.status == 64)
        #expect(hex.stderr.contains("'zz' is not a hex byte"))
        let both = try run(["cmd", "emu:disk", "-c", "12 0 0 0 24 0", "-i", "36", "-o", "36", "-"])
        #expect(both.status == 64)
        let dev = try run(["inquiry", "nonsense"])
        #expect(dev.status == 1)
        #expect(dev.stderr.contains("unknown device"))
        let unit = try run(["inquiry", "pass9"])
        #expect(unit.status == 1)
        #expect(unit.stderr.contains("pass9: no such device"))
        let opt = try run(["readcap", "emu:disk", "-b", "-s"])
        #expect(opt.status == 64)
        let emu = try run(["tur", "emu:disk:size=12q"])
        #expect(emu.status == 1)
        #expect(emu.stderr.contains("size"))
    }
}
