import CAM
import CAMLinuxSG
import Foundation
import TestSupport
import Testing

extension OnSCSIDebug {
/// camdd through the sg SIM on scsi_debug disks under a real kernel: round trips, injected
/// medium errors, a device deleted mid-copy and brought back.
@Suite struct CamddOnSCSIDebugTests {
    let disk: SGDeviceInfo

    init() throws {
        disk = try #require(SCSIDebug.first)
        // Past the power-on UNIT ATTENTION: camdd runs without -E, as users run it.
        _ = try Tools.run("sg_turs", ["-n", "3", disk.devicePath])
    }

    static func camdd(_ arguments: [String], timeout: TimeInterval = 120) throws -> TestSupport.Result {
        try Tools.run("camdd", arguments, timeout: timeout)
    }

    /// File to disk with one pair of block sizes, disk to file with another; the last
    /// sector is padded on the way in, and exactly the data comes back.
    @Test(arguments: [
        // file bs, disk bs writing, disk bs reading, depth, disk offset
        ("64k", "4k", "32k", 1, "1m"),
        ("4k", "12k", "64k", 16, "5m"),
        ("1m", "20k", "4k", 64, "9m"),
    ])
    func roundTrip(fileBS: String, writeBS: String, readBS: String, depth: Int, offset: String) throws {
        let dir = try TemporaryDirectory("sgvm")
        let count = 1_500_001
        let data = TestData.bytes(count, seed: UInt64(depth) &* 0x9E37_79B9)
        let src = try dir.write("src", data)
        let dev = "pass=\(disk.devicePath)"
        let w = try Self.camdd(["-i", "file=\(src),bs=\(fileBS)", "-o", "\(dev),bs=\(writeBS),depth=\(depth),offset=\(offset)"])
        #expect(w.status == 0, "\(w.stderr)")
        #expect(w.bytes("read from") == UInt64(count))
        // 1 500 001 bytes end 353 bytes into a 512-byte sector: the rest is padded, and said so.
        #expect(w.bytes("written to") == 1_500_160, "\(w.stderr)")
        #expect(w.stderr.contains("padded the last block to pass0 with 159 zero bytes"), "\(w.stderr)")

        let r = try Self.camdd(["-i", "\(dev),bs=\(readBS),depth=\(depth),offset=\(offset)",
                                "-o", "file=\(dir.file("dst")),bs=\(fileBS)", "-m", "\(count)"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.bytes("read from") == UInt64(count))
        #expect(r.bytes("written to") == UInt64(count))
        let back = try dir.read("dst")
        #expect(back.count == count)
        #expect(TestData.checksum(back) == TestData.checksum(data))
    }

    /// One sg device to another (two LUNs of one scsi_debug host), reblocked on the way.
    @Test func disksToDiskReblocked() throws {
        let all = SCSIDebug.devices
        try #require(all.count >= 2, "test-linux-sg loads scsi_debug with max_luns=2")
        let (a, b) = (all[0], all[1])
        let dir = try TemporaryDirectory("sgvm")
        let count = 1 << 20
        let data = TestData.bytes(count, seed: 77)
        let src = try dir.write("src", data)
        _ = try Tools.run("sg_turs", ["-n", "3", b.devicePath])
        let w = try Self.camdd(["-i", "file=\(src),bs=256k", "-o", "pass=\(a.devicePath),bs=64k,depth=4,offset=2m"])
        #expect(w.status == 0, "\(w.stderr)")
        let c = try Self.camdd(["-i", "pass=\(a.devicePath),bs=16k,depth=16,offset=2m",
                                "-o", "pass=\(b.devicePath),bs=48k,depth=4,offset=12m", "-m", "1m"])
        #expect(c.status == 0, "\(c.stderr)")
        #expect(c.bytes("read from") == UInt64(count))
        #expect(c.bytes("written to") == UInt64(count))
        let r = try Self.camdd(["-i", "pass=\(b.devicePath),bs=128k,depth=8,offset=12m", "-o", "file=\(dir.file("dst"))", "-m", "1m"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(TestData.checksum(try dir.read("dst")) == TestData.checksum(data))
    }

    /// scsi_debug with opts=2 fails every READ that touches
    /// [medium_error_start, +medium_error_count) with MEDIUM ERROR, 11/00. Its sense's
    /// information field is the first bad LBA when the read starts before 0x1234 (4660, the
    /// default start) and the read's own LBA otherwise, so the starts used here are 4660 and
    /// one where reads begin exactly.
    @Test(arguments: [
        // bs, depth, output bs, error start, input offset (bytes)
        ("4k", 1, "4k", 4660, 0),
        ("4k", 16, "3k", 4660, 0),
        ("64k", 64, "1m", 4660, 0),
        ("64k", 16, "64k", 20480, 8 << 20),
    ])
    func mediumErrorIsReportedWithSenseAndLBAAndExactCounts(bs: String, depth: Int, outBS: String, start: Int, offset: Int) throws {
        let dir = try TemporaryDirectory("sgvm")
        let dev = "pass=\(disk.devicePath)"
        let blockBytes = bs == "4k" ? 4096 : 65536
        let blocksPerCommand = blockBytes / 512
        // The read that fails is the one holding the first bad LBA.
        let failingLBA = (start / blocksPerCommand) * blocksPerCommand
        let good = failingLBA * 512 - offset
        // Known data before the bad range, to check what camdd did pass on.
        let data = TestData.bytes(good, seed: UInt64(start + depth))
        let src = try dir.write("src", data)
        let w = try Self.camdd(["-i", "file=\(src),bs=1m", "-o", "\(dev),bs=512k,depth=4,offset=\(offset)"])
        #expect(w.status == 0, "\(w.stderr)")

        try SCSIDebug.withKnobs(["medium_error_start": "\(start)", "medium_error_count": "10", "opts": "2"]) {
            let out = dir.file("out")
            let r = try Self.camdd(["-v", "-i", "\(dev),bs=\(bs),depth=\(depth),offset=\(offset)", "-o", "file=\(out),bs=\(outBS)"])
            #expect(r.status == 1, "\(r.stderr)")
            // The sense, decoded, and both LBAs: the command's and the one the device names.
            #expect(r.stderr.contains("SCSI sense: MEDIUM ERROR asc:11,0 (Unrecovered read error)"), "\(r.stderr)")
            #expect(r.stderr.contains("at LBA \(failingLBA) "), "\(r.stderr)")
            #expect(r.stderr.contains("the device reports LBA \(start)"), "\(r.stderr)")
            #expect(r.stderr.contains("Info: 0x\(String(start, radix: 16))"), "\(r.stderr)")
            // Exactly what came before the bad read, read and written.
            #expect(r.bytes("read from") == UInt64(good), "\(r.stderr)")
            #expect(r.bytes("written to") == UInt64(good))
            let got = try dir.read("out")
            #expect(got.count == good)
            #expect(TestData.checksum(got) == TestData.checksum(data))
        }
    }

    /// The device goes (sysfs delete) while camdd has 32 commands out: camdd ends with a clear
    /// error within its time-out and exits non-zero; the device comes back on a re-scan, with
    /// its data, and camdd works on it again.
    @Test func deviceDeletedMidCopyThenRescanned() throws {
        let dir = try TemporaryDirectory("sgvm")
        let dev = "pass=\(disk.devicePath)"
        let hctl = disk.hctl
        let data = TestData.bytes(1 << 20, seed: 0xDE1E7E)
        let src = try dir.write("src", data)
        let w = try Self.camdd(["-i", "file=\(src)", "-o", "\(dev),bs=64k,depth=4"])
        #expect(w.status == 0, "\(w.stderr)")

        let outcome = try SCSIDebug.withKnobs(["random": "0", "ndelay": "40000000"]) { () throws -> (TestSupport.Result, Double, Int) in
            // 256 reads of 64 KiB, 40 ms each, 32 at a time: about 320 ms of I/O. The device
            // goes as soon as the kernel counts 16 of camdd's commands in flight.
            let deleter = DeleteWhenBusy(device: disk, busy: 16, seconds: 30)
            let t0 = Date()
            let r = try Self.camdd(["-i", "\(dev),bs=64k,depth=32", "-o", "file=/dev/null", "-t", "5"], timeout: 60)
            let elapsed = Date().timeIntervalSince(t0)
            return (r, elapsed, deleter.finish())
        }
        let (r, elapsed, busyWhenDeleted) = outcome
        #expect(busyWhenDeleted >= 16, "deleted with \(busyWhenDeleted) commands in flight")
        #expect(r.status == 1, "status \(r.status): \(r.stderr)")
        #expect(elapsed < 5 + 5, "camdd took \(elapsed) s with a 5 s time-out")
        let said = r.stderr.lowercased()
        #expect(said.contains("gone") || said.contains("not there") || said.contains("removed"), "\(r.stderr)")
        #expect(said.contains("pass0"), "the error names the device: \(r.stderr)")
        // What it counts is what it passed on: whole 64 KiB reads, fewer than the disk holds.
        let read = try #require(r.bytes("read from"), "\(r.stderr)")
        #expect(r.bytes("written to") == read)
        #expect(read % 65536 == 0 && read < 16 << 20)
        print("camdd with the device deleted at \(busyWhenDeleted) in flight: exit \(r.status) after "
              + "\(String(format: "%.2f", elapsed)) s, \(read) bytes:\n\(r.stderr)")

        let back = try #require(try SCSIDebug.rescan(bringingBack: disk), "a re-scan of host\(disk.host) brings \(hctl) back")
        _ = try Tools.run("sg_turs", ["-n", "3", back.devicePath])
        let again = try Self.camdd(["-i", "pass=\(back.devicePath),bs=64k,depth=32", "-o", "file=\(dir.file("dst"))", "-m", "1m"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(TestData.checksum(try dir.read("dst")) == TestData.checksum(data))
    }
}
}

/// Deletes a device from a thread of its own once the kernel counts `busy` commands in flight
/// on it (or when `seconds` pass); `finish` waits and says how many there were.
final class DeleteWhenBusy: @unchecked Sendable {
    // `seen` is written by the thread before it ends and read after `join`.
    private var seen = -1
    private var thread: CAMThread?

    init(device: SGDeviceInfo, busy: Int, seconds: Double) {
        thread = CAMThread(name: "sg-deleter") { [self] in
            let deadline = Date().addingTimeInterval(seconds)
            var n = 0
            while Date() < deadline {
                n = SCSIDebug.busy(hctl: device.hctl)
                if n >= busy { break }
                usleep(2_000)
            }
            seen = n
            try? SCSIDebug.delete(device)
        }
    }

    func finish() -> Int {
        thread?.join()
        thread = nil
        return seen
    }
}
