import Foundation
import TestSupport
import Testing

/// The built camdd binary, end to end: emulated disks kept in files, pipes, bad input.
@Suite("camdd end to end", .serialized)
struct CamddToolTests {
    /// An emulated disk kept in `path`.
    static func disk(_ path: String, size: String = "8m", extra: String = "") -> String {
        "pass=emu:disk:size=\(size):file=\(path)\(extra)"
    }

    @Test("round trips through an emulated disk kept in a file", arguments: [
        ("4k", "1m", 1), ("1m", "4k", 8), ("12k", "20k", 2), ("20k", "12k", 64), ("64k", "64k", 16),
    ])
    func roundTrip(inBS: String, diskBS: String, depth: Int) throws {
        let dir = try TemporaryDirectory()
        let data = Support.data(2_500_000)
        let src = try dir.write("src", data)
        let img = dir.file("disk.img")
        let w = try Support.run(["-i", "file=\(src),bs=\(inBS)", "-o", Self.disk(img) + ",bs=\(diskBS),depth=\(depth)"])
        #expect(w.status == 0, "\(w.stderr)")
        #expect(w.bytes("read from") == 2_500_000)
        // 2 500 000 is not a whole number of 512-byte sectors: the last one is padded, and said so.
        #expect(w.bytes("written to") == 2_500_096, "\(w.stderr)")
        #expect(w.stderr.contains("padded the last block to pass0 with 96 zero bytes"))
        let r = try Support.run(["-i", Self.disk(img) + ",bs=\(diskBS),depth=\(depth)",
                                 "-o", "file=\(dir.file("dst")),bs=\(inBS)", "-m", "2500000"])
        #expect(r.status == 0, "\(r.stderr)")
        let out = try dir.read("dst")
        #expect(Support.checksum(out) == Support.checksum(data))
        #expect(r.stderr.contains("seconds elapsed") && r.stderr.contains("MB/sec"))
    }

    @Test("passN and bus:target:lun name devices on the buses of CAM_BUSES and --bus")
    func unitsAndPaths() throws {
        let dir = try TemporaryDirectory()
        let data = Support.data(1 << 20)
        let src = try dir.write("src", data)
        let a = "emu:disk:size=4m:file=\(dir.file("a.img"))", b = "emu:disk:size=4m:file=\(dir.file("b.img"))"
        // pass1 is the second bus: b.img.
        let w = try TestSupport.run(Support.camdd, ["-i", "file=\(src)", "-o", "pass=pass1,bs=64k", "--bus", b],
                                    environment: ["CAM_BUSES": a])
        #expect(w.status == 0, "\(w.stderr)")
        #expect(w.stderr.contains("1048576 bytes written to pass1"))
        // The same disk by its path, 1:0:0, reads back what was written.
        let r = try TestSupport.run(Support.camdd, ["-i", "pass=1:0:0,bs=128k", "-o", "file=-", "-m", "1m", "--bus", b],
                                    environment: ["CAM_BUSES": a])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == data)
        let missing = try TestSupport.run(Support.camdd, ["-i", "pass=pass5", "-o", "file=/dev/null", "--bus", b])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("pass5: no such device"), "\(missing.stderr)")
    }

    @Test("statistics print as FreeBSD's camdd prints them")
    func statisticsFormat() throws {
        let dir = try TemporaryDirectory()
        let src = try dir.write("src", Support.data(100_000))
        let r = try Support.run(["-i", "file=\(src)", "-o", "file=\(dir.file("dst"))"])
        #expect(r.status == 0)
        let lines = r.stderr.split(separator: "\n").map(String.init)
        #expect(lines.count == 4, "\(r.stderr)")
        #expect(lines[0] == "100000 bytes read from \(src)")
        #expect(lines[1] == "100000 bytes written to \(dir.file("dst"))")
        #expect(lines[2].hasSuffix(" seconds elapsed") && lines[2].split(separator: " ")[0].split(separator: ".")[1].count == 4)
        #expect(lines[3].hasSuffix(" MB/sec") && lines[3].split(separator: " ")[0].split(separator: ".")[1].count == 2)
    }

    @Test("offsets on both sides, and -m")
    func offsetsAndLimit() throws {
        let dir = try TemporaryDirectory()
        let data = Support.data(1 << 20, seed: 3)
        let src = try dir.write("src", data)
        let img = dir.file("disk.img")
        // 300 KiB from offset 100 KiB of the file to offset 64 KiB of the disk.
        let w = try Support.run(["-i", "file=\(src),offset=100k,bs=7k", "-o", Self.disk(img, size: "2m") + ",offset=64k,bs=16k",
                                 "-m", "300k"])
        #expect(w.status == 0, "\(w.stderr)")
        #expect(w.bytes("read from") == 300 * 1024)
        #expect(w.bytes("written to") == 300 * 1024)
        let r = try Support.run(["-i", Self.disk(img, size: "2m") + ",offset=64k", "-o", "file=\(dir.file("dst"))", "-m", "300k"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try dir.read("dst") == data.subdata(in: (100 * 1024)..<(400 * 1024)))
    }

    @Test("depths 1 to 64 with random latency: completions out of order, output in order", arguments: [1, 2, 7, 32, 64])
    func depths(depth: Int) throws {
        let dir = try TemporaryDirectory()
        let data = Support.data(1 << 20, seed: UInt64(depth))
        let src = try dir.write("src", data)
        let img = dir.file("disk.img")
        let lat = ":latency=10us-200us"
        let w = try Support.run(["-i", "file=\(src),bs=32k", "-o", Self.disk(img, size: "2m", extra: lat) + ",bs=8k,depth=\(depth)"])
        #expect(w.status == 0, "\(w.stderr)")
        let r = try Support.run(["-i", Self.disk(img, size: "2m", extra: lat) + ",bs=4k,depth=\(depth)",
                                 "-o", "file=\(dir.file("dst")),bs=64k", "-m", "1m"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(Support.checksum(try dir.read("dst")) == Support.checksum(data))
    }

    @Test("depth=N on a file input: N reads at once, output in order and exact", arguments: [2, 3, 8])
    func fileReadDepth(depth: Int) throws {
        let dir = try TemporaryDirectory()
        let data = Support.data(5_000_000 + 77, seed: UInt64(100 + depth))
        let src = try dir.write("src", data)
        // Whole file, odd block size: the last block is short.
        let a = try Support.run(["-i", "file=\(src),bs=12k,depth=\(depth)", "-o", "file=\(dir.file("a")),bs=100k"])
        #expect(a.status == 0, "\(a.stderr)")
        #expect(!a.stderr.contains("ignored"), "\(a.stderr)")
        #expect(a.bytes("read from") == UInt64(data.count))
        #expect(try dir.read("a") == data)
        // An offset and a -m limit that ends inside a block.
        let b = try Support.run(["-i", "file=\(src),bs=64k,offset=4k,depth=\(depth)", "-o", "file=\(dir.file("b"))",
                                 "-m", "1000001"])
        #expect(b.status == 0, "\(b.stderr)")
        #expect(try dir.read("b") == data.subdata(in: 4096..<(4096 + 1_000_001)))
        // To /dev/null: every byte counted.
        let c = try Support.run(["-i", "file=\(src),bs=1m,depth=\(depth)", "-o", "file=/dev/null"])
        #expect(c.status == 0, "\(c.stderr)")
        #expect(c.bytes("read from") == UInt64(data.count))
        #expect(c.bytes("written to") == UInt64(data.count))
    }

    @Test("depth= on a pipe input or a file output is ignored with FreeBSD's warning")
    func fileDepthIgnored() throws {
        let dir = try TemporaryDirectory()
        let data = Support.data(300_000, seed: 9)
        let src = try dir.write("src", data)
        let out = try Support.run(["-i", "file=\(src)", "-o", "file=\(dir.file("dst")),depth=4"])
        #expect(out.status == 0, "\(out.stderr)")
        #expect(out.stderr.contains("Queue depth 4 for \(dir.file("dst")) ignored"), "\(out.stderr)")
        #expect(try dir.read("dst") == data)
        let pipe = try Support.run(["-i", "file=-,depth=3", "-o", "file=\(dir.file("p"))"], input: data)
        #expect(pipe.status == 0, "\(pipe.stderr)")
        #expect(pipe.stderr.contains("Queue depth 3 for - ignored"), "\(pipe.stderr)")
        #expect(try dir.read("p") == data)
    }

    @Test("stdin to an emulated disk and back out to stdout")
    func pipes() throws {
        let dir = try TemporaryDirectory()
        let data = Support.data(700_001, seed: 11)
        let img = dir.file("disk.img")
        let w = try Support.run(["-i", "file=-,bs=64k", "-o", Self.disk(img, size: "1m") + ",bs=128k"], input: data)
        #expect(w.status == 0, "\(w.stderr)")
        #expect(w.bytes("read from") == 700_001)
        // The last block is padded to a whole sector, and that is said.
        #expect(w.bytes("written to") == 700_416)
        #expect(w.stderr.contains("padded the last block"))
        let r = try Support.run(["-i", Self.disk(img, size: "1m"), "-o", "file=-", "-m", "700001"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == data)
    }

    @Test("a partial last block: padded on the disk, exact on the way back")
    func partialLastBlock() throws {
        let dir = try TemporaryDirectory()
        let data = Support.data(5000, seed: 5)
        let src = try dir.write("src", data)
        let img = dir.file("disk.img")
        let w = try Support.run(["-i", "file=\(src)", "-o", Self.disk(img, size: "64k", extra: ":sector=4096")])
        #expect(w.status == 0, "\(w.stderr)")
        #expect(w.bytes("written to") == 8192)
        #expect(w.stderr.contains("3192 zero bytes"))
        let r = try Support.run(["-i", Self.disk(img, size: "64k", extra: ":sector=4096"), "-o", "file=-", "-m", "5000"])
        #expect(r.stdout == data)
        #expect(r.bytes("read from") == 5000)
    }

    @Test("a medium error names the LBA, exits non-zero, and counts exactly what reached the output")
    func mediumError() throws {
        let dir = try TemporaryDirectory()
        let img = dir.file("disk.img")
        let out = dir.file("out")
        let r = try Support.run(["-i", Self.disk(img, size: "1m", extra: ":medium=100-107") + ",bs=4k,depth=4",
                                 "-o", "file=\(out)"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("MEDIUM ERROR"), "\(r.stderr)")
        #expect(r.stderr.contains("LBA 96"))
        #expect(r.stderr.contains("LBA 100"))
        #expect(r.bytes("read from") == 49152)
        #expect(r.bytes("written to") == 49152)
        #expect(try dir.read("out").count == 49152)
    }

    @Test("--json gives one object with per-endpoint latency percentiles")
    func json() throws {
        let dir = try TemporaryDirectory()
        let src = try dir.write("src", Support.data(1 << 20))
        let r = try Support.run(["-i", "file=\(src),bs=64k", "-o", Self.disk(dir.file("img"), size: "2m") + ",bs=128k,depth=4", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let obj = try #require(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
        #expect(obj["outcome"] as? String == "completed")
        let output = try #require(obj["output"] as? [String: Any])
        #expect(output["bytes"] as? Int == 1 << 20)
        #expect(output["commands"] as? Int == 8)
        let lat = try #require(output["latency_us"] as? [String: Any])
        for k in ["min", "avg", "max", "p50", "p90", "p99", "p99.9"] { #expect(lat[k] is NSNumber, "\(k)") }
    }

    @Test("bad input fails clearly and leaves the output alone", arguments: [
        (["-i", "file=SRC,bs=0", "-o", "file=OUT"], "larger than 0"),
        (["-i", "file=SRC", "-o", "pass=emu:disk:size=1m,bs=1000"], "not a multiple of sector size 512"),
        (["-i", "file=SRC,speed=fast", "-o", "file=OUT"], "Unrecognized parameter speed=fast"),
        (["-o", "file=OUT"], "Must specify both -i and -o"),
        (["-i", "file=SRC"], "Must specify both -i and -o"),
        (["-i", "file=SRC", "-o", "file=OUT", "-Q"], "-Q"),
        (["-i", "pass=emu:disk:size=1m,offset=2m", "-o", "file=OUT"], "past the end"),
        (["-i", "file=SRC,offset=1m", "-o", "file=OUT"], "past the end"),
        (["-i", "pass=pass42", "-o", "file=OUT"], "pass42"),
        (["-i", "pass=/dev/sg250", "-o", "file=OUT"], "sg250"),
        (["-i", "file=MISSING", "-o", "file=OUT"], "No such file or directory"),
        (["-i", "file=DIR", "-o", "file=OUT"], "directory"),
    ])
    func badInput(arguments: [String], expected: String) throws {
        let dir = try TemporaryDirectory()
        let src = try dir.write("src", Support.data(4096))
        let original = Support.data(10_000, seed: 99)
        let out = try dir.write("out", original)
        try FileManager.default.createDirectory(atPath: dir.file("dir"), withIntermediateDirectories: true)
        let args = arguments.map {
            $0.replacingOccurrences(of: "SRC", with: src).replacingOccurrences(of: "OUT", with: out)
                .replacingOccurrences(of: "MISSING", with: dir.file("missing")).replacingOccurrences(of: "DIR", with: dir.file("dir"))
        }
        let r = try Support.run(args)
        #expect(r.status != 0)
        #expect(r.stderr.contains(expected), "\(r.stderr)")
        #expect(try dir.read("out") == original)
    }

    @Test("a bad -C, -m or -t value: one message naming the option, the usage, exit 64, nothing written", arguments: [
        (["-C", "x"], "invalid retry count x (-C takes a whole number of retries, 0 or more)"),
        (["-C", "-1"], "invalid retry count -1 (-C takes a whole number of retries, 0 or more)"),
        (["-C=-1"], "invalid retry count -1 (-C takes"),
        (["-C", ""], "invalid retry count  (-C takes"),
        (["-m", "12q"], "invalid maximum I/O amount 12q (-m takes bytes, or a number with a k, m, g or t suffix)"),
        (["-m", "k"], "invalid maximum I/O amount k (-m takes"),
        (["-m", "-5"], "invalid maximum I/O amount -5 (-m takes"),
        (["-t", "soon"], "invalid timeout soon (-t takes seconds, 1 to 4000000, or 0 for the default of 60)"),
        (["-t", "-1"], "invalid timeout -1 (-t takes"),
        (["-t", "4000001"], "invalid timeout 4000001 (-t takes"),
    ])
    func badCommandValues(extra: [String], expected: String) throws {
        let dir = try TemporaryDirectory()
        let src = try dir.write("src", Support.data(4096))
        let original = Support.data(10_000, seed: 98)
        let out = try dir.write("out", original)
        // The same check whatever else the command line holds (once, two parsers read these
        // differently: camdd(8)'s plain options and the long ones).
        for more in [[], ["--json"], ["--bus", "emu:disk:size=1m"]] {
            let r = try Support.run(["-i", "file=\(src)", "-o", "file=\(out)"] + extra + more)
            #expect(r.status == 64, "\(extra + more): \(r.stderr)")
            let lines = r.stderr.split(separator: "\n").map(String.init)
            #expect(lines.first?.hasPrefix("camdd: " + expected) == true, "\(extra + more): \(r.stderr)")
            #expect(lines.filter { $0.hasPrefix("camdd: ") }.count == 1, "one message: \(r.stderr)")
            #expect(lines.count > 1 && lines[1].hasPrefix("usage: camdd -i "), "\(r.stderr)")
            #expect(!r.stderr.contains("bytes read"), "\(r.stderr)")
            #expect(r.stdout.isEmpty)
            #expect(try dir.read("out") == original)
        }
    }

    @Test("good -C, -m and -t values at their limits are taken", arguments: [
        ["-C", "0"], ["-C", "7", "-E"], ["-m", "0x1000"], ["-m", "4K"], ["-t", "0"], ["-t", "4000000"],
    ])
    func goodCommandValues(extra: [String]) throws {
        let dir = try TemporaryDirectory()
        let src = try dir.write("src", Support.data(8192))
        let r = try Support.run(["-i", "file=\(src)", "-o", "file=\(dir.file("dst"))"] + extra)
        #expect(r.status == 0, "\(extra): \(r.stderr)")
        #expect(r.bytes("written to") == (extra.first == "-m" ? 4096 : 8192))
    }

    @Test("getopt's spellings and ArgumentParser's are read alike", arguments: [
        ["-i", "file=SRC", "-o", "file=DST", "-m", "4k", "-E", "-v"],
        ["-ifile=SRC", "-ofile=DST", "-m4k", "-Ev"],
        ["-i=file=SRC", "-o=file=DST", "-m=4k", "-vE"],
        ["-Evi", "file=SRC", "-o", "file=DST", "-m", "4k"],
        ["-i", "file=OTHER", "-o", "file=DST", "-i", "file=SRC", "-m", "1m", "-m", "4k", "--"],
        ["--bus=emu:disk:size=1m", "-i", "file=SRC", "--bus", "emu:disk:size=1m", "-o", "file=DST", "-m", "4k"],
    ])
    func spellings(arguments: [String]) throws {
        let dir = try TemporaryDirectory()
        let data = Support.data(10_000, seed: 4)
        let src = try dir.write("src", data)
        let other = try dir.write("other", Support.data(10_000, seed: 5))
        let args = arguments.map {
            $0.replacingOccurrences(of: "SRC", with: src).replacingOccurrences(of: "OTHER", with: other)
                .replacingOccurrences(of: "DST", with: dir.file("dst"))
        }
        let r = try Support.run(args)
        #expect(r.status == 0, "\(args): \(r.stderr)")
        #expect(try dir.read("dst") == data.prefix(4096))
    }

    @Test("command lines that are not camdd's: one message, the usage, exit 64", arguments: [
        (["-i", "file=SRC", "-o", "file=OUT", "-Q"], "camdd: unknown option -Q"),
        (["-i", "file=SRC", "-o", "file=OUT", "-vQ"], "camdd: unknown option -Q"),
        (["-i", "file=SRC", "-o", "file=OUT", "--fast"], "camdd: unknown option --fast"),
        (["-i", "file=SRC", "-o", "file=OUT", "-t"], "camdd: option -t <timeout> needs a value"),
        (["-i", "file=SRC", "-o", "file=OUT", "--bus"], "camdd: option --bus <spec> needs a value"),
        (["-i", "file=SRC", "-o", "file=OUT", "--json=yes"], "camdd: option --json takes no value"),
        (["-i", "file=SRC", "-o", "file=OUT", "-E=1"], "camdd: option -E takes no value"),
        (["-i", "file=SRC", "-o", "file=OUT", "OUT"], "camdd: unexpected argument 'OUT'"),
        (["-i", "file=SRC", "-o", "file=OUT", "--", "-v"], "camdd: unexpected argument '-v'"),
        (["-i", "file=SRC,bs=0", "-o", "file=OUT"], "camdd: -i file=SRC,bs=0: "),
        (["-i", "file=SRC", "-o", "file=OUT,colour=blue"], "camdd: -o file=OUT,colour=blue: Unrecognized parameter"),
        (["-i", "file=SRC", "-o", "file=-", "--json"], "camdd: --json writes to standard output"),
        (["-o", "file=OUT", "-v"], "camdd: Must specify both -i and -o"),
    ])
    func usageErrors(arguments: [String], expected: String) throws {
        let dir = try TemporaryDirectory()
        let src = try dir.write("src", Support.data(4096))
        let original = Support.data(10_000, seed: 97)
        let out = try dir.write("out", original)
        let sub = { (s: String) in s.replacingOccurrences(of: "SRC", with: src).replacingOccurrences(of: "OUT", with: out) }
        let r = try Support.run(arguments.map(sub))
        #expect(r.status == 64, "\(r.stderr)")
        let lines = r.stderr.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix(sub(expected)) == true, "\(r.stderr)")
        #expect(lines.count > 1 && lines[1].hasPrefix("usage: camdd -i "), "\(r.stderr)")
        #expect(r.stderr.contains("See 'camdd --help'"))
        #expect(r.stdout.isEmpty)
        #expect(try dir.read("out") == original)
    }

    @Test("SIGUSR1 prints statistics and goes on; SIGINT stops, prints them and exits non-zero")
    func signals() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Support.camdd)
        p.arguments = ["-i", "file=/dev/zero,bs=64k", "-o", "file=/dev/null"]
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let collector = Support.Collector(err.fileHandleForReading)
        // Signal only once camdd has blocked SIGUSR1 for its signalfd (before that it would
        // take the default action and die), then give the copy a moment to run.
        let blocked = Date().addingTimeInterval(20)
        while !Self.blocksSIGUSR1(p.processIdentifier) && Date() < blocked { usleep(5_000) }
        usleep(200_000)
        kill(p.processIdentifier, SIGUSR1)
        usleep(300_000)
        #expect(p.isRunning)
        kill(p.processIdentifier, SIGINT)
        let deadline = Date().addingTimeInterval(20)
        while p.isRunning && Date() < deadline { usleep(10_000) }
        if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
        let text = String(decoding: collector.wait(), as: UTF8.self)
        #expect(p.terminationReason == .exit)
        #expect(p.terminationStatus == 1)
        #expect(text.components(separatedBy: "bytes read from /dev/zero").count == 3, "\(text)")
        #expect(text.components(separatedBy: "MB/sec").count == 3)
    }

    /// Whether SIGUSR1 is in the process's blocked mask (/proc/PID/status, SigBlk).
    static func blocksSIGUSR1(_ pid: Int32) -> Bool {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return false }
        for line in status.split(separator: "\n") where line.hasPrefix("SigBlk:") {
            let hex = line.dropFirst(7).trimmingCharacters(in: .whitespaces)
            if let mask = UInt64(hex, radix: 16) { return mask & (1 << UInt64(SIGUSR1 - 1)) != 0 }
        }
        return false
    }

    @Test("--help shows the examples")
    func help() throws {
        let r = try Support.run(["--help"])
        #expect(r.status == 0)
        #expect(r.out.contains("EXAMPLES"))
        #expect(r.out.contains("-i pass=") || r.out.contains("camdd -i"))
    }

    @Test("-h, --help and -help print every visible option on stdout, wherever they stand", arguments: [
        ["-h"], ["--help"], ["-help"], ["-i", "file=/nonexistent", "-h"], ["-vh"], ["-C", "x", "--help"],
    ])
    func helpSpellings(arguments: [String]) throws {
        let r = try Support.run(arguments)
        #expect(r.status == 0, "\(arguments): \(r.stderr)")
        #expect(r.stderr.isEmpty)
        let text = r.out
        #expect(text.hasPrefix("OVERVIEW: CAM data transfer utility"))
        for option in ["-i <args>", "-o <args>", "--bus <spec>", "-C <retry_count>", "-E ", "-m <max_io>",
                       "-t <timeout>", "-v ", "--progress", "--json", "-h, --help"] {
            #expect(text.contains("\n  " + option), "\(option)")
        }
        #expect(!text.contains("memcpy") && !text.contains("prefill"), "hidden options stay hidden")
        #expect(text.split(separator: "\n").allSatisfy { $0.count <= 80 }, "80 columns")
    }

    @Test("an iSCSI password shows as user%***@ in camdd's messages, never as itself")
    func passwordMaskedInMessages() throws {
        // Port 1 refuses at once: the open fails, and the message names the URL.
        let r = try Support.run(["-i", "pass=iscsi://alice%hunter2@127.0.0.1:1/iqn.2024-01.test:none/0,bs=512",
                                 "-o", "file=/dev/null"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("iscsi://alice%***@127.0.0.1:1"), "\(r.stderr)")
        #expect(!r.stderr.contains("hunter2"), "\(r.stderr)")
    }
}

/// Block devices: a loop device over a file, where the machine lets us make one (root).
@Suite("camdd on a block device", .serialized, .enabled(if: LoopDevice.available))
struct BlockDeviceTests {
    @Test("sector size and size come from the kernel; direct I/O; padding; offsets; the end of the device")
    func loopDevice() throws {
        let dir = try TemporaryDirectory()
        let loop = try LoopDevice(size: 4 << 20, in: dir)
        defer { loop.detach() }
        let data = Support.data(1_500_000, seed: 21)
        let src = try dir.write("src", data)
        let w = try Support.run(["-i", "file=\(src),bs=12k", "-o", "file=\(loop.path),bs=64k,direct"])
        #expect(w.status == 0, "\(w.stderr)")
        #expect(w.bytes("written to") == 1_500_160)
        #expect(w.stderr.contains("padded the last block to \(loop.path) with 160 zero bytes"))
        let r = try Support.run(["-i", "file=\(loop.path),bs=1m,direct", "-o", "file=-", "-m", "1500000"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == data)
        let bad = try Support.run(["-i", "file=\(loop.path),bs=1000", "-o", "file=/dev/null"])
        #expect(bad.status == 1 && bad.stderr.contains("not a multiple of sector size 512"))
        let past = try Support.run(["-i", "file=\(loop.path),offset=4m", "-o", "file=/dev/null"])
        #expect(past.status == 1 && past.stderr.contains("past the end"))
        // 4 MiB device from offset 3 MiB: 1 MiB fits, the rest is not written, no error.
        let full = try Support.run(["-i", "file=\(src)", "-o", "file=\(loop.path),offset=3m"])
        #expect(full.status == 0, "\(full.stderr)")
        #expect(full.bytes("written to") == 1 << 20)
    }
}

/// A loop device over a file in a temporary directory.
struct LoopDevice {
    let path: String

    static var available: Bool {
        getuid() == 0 && FileManager.default.fileExists(atPath: "/dev/loop-control")
            && FileManager.default.isExecutableFile(atPath: "/sbin/losetup")
    }

    init(size: Int, in dir: TemporaryDirectory) throws {
        let image = try dir.write("loop.img", Data(count: size))
        let r = try TestSupport.run("/sbin/losetup", ["-f", "--show", image])
        guard r.status == 0 else { throw CocoaError(.fileWriteUnknown) }
        path = r.out.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func detach() { _ = try? TestSupport.run("/sbin/losetup", ["-d", path]) }
}
