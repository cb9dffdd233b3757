import CAM
import CAMDD
import CAMEmulator
import Foundation
import TestSupport
import Testing

/// The engine on its own: files and emulated disks opened in-process, no tool in between.
@Suite("camdd engine", .serialized)
struct EngineTests {
    /// An emulated disk on a bus of its own, opened through CAM.
    static func disk(_ options: String, xpt: XPT) throws -> PassHandle {
        let sim = EmulatorSIM()
        try sim.addDisk(target: 0, lun: 0, EmulatedDiskConfiguration(parsing: options))
        let bus = xpt.register(sim)
        try xpt.scan(bus)
        let info = try #require(xpt.devices().first { $0.path.bus == bus.number })
        return try xpt.open(unit: info.unit)
    }

    static func options(_ text: String) throws -> EndpointOptions { try EndpointOptions.parse(text) }

    /// file → disk → file, returning both results.
    static func roundTrip(_ data: Data, disk: String, inBS: String, diskBS: String, outBS: String,
                          depth: Int) throws -> (CopyResult, CopyResult, Data) {
        let dir = try TemporaryDirectory()
        let src = try dir.write("src", data)
        let xpt = XPT(completionThreads: 2)
        defer { xpt.shutdown() }
        let h1 = try Self.disk(disk, xpt: xpt)
        let a = try CopyEngine(
            input: Endpoint.file(options("file=\(src),bs=\(inBS)"), role: .input),
            output: Endpoint.pass(h1, options: options("pass=x,bs=\(diskBS),depth=\(depth)"), role: .output),
            report: { _ in })
        let r1 = try a.run(signals: nil)
        let h2 = try xpt.open(unit: h1.unit)
        let b = try CopyEngine(
            input: Endpoint.pass(h2, options: options("pass=x,bs=\(diskBS),depth=\(depth)"), role: .input),
            output: Endpoint.file(options("file=\(dir.file("dst")),bs=\(outBS)"), role: .output),
            maxBytes: UInt64(data.count), report: { _ in })
        let r2 = try b.run(signals: nil)
        return (r1, r2, try dir.read("dst"))
    }

    @Test("round trips through an emulated disk with mismatched block sizes and depths", arguments: [
        ("4k", "1m", "4k", 1), ("1m", "4k", "1m", 8), ("12k", "20k", "12k", 3), ("20k", "12k", "20k", 64),
        ("512", "64k", "8k", 16), ("512k", "512", "1m", 32),
    ])
    func roundTrip(inBS: String, diskBS: String, outBS: String, depth: Int) throws {
        let data = Support.data(1_000_000 + 4096 * 7)
        let (r1, r2, out) = try Self.roundTrip(data, disk: "size=4m", inBS: inBS, diskBS: diskBS, outBS: outBS, depth: depth)
        #expect(r1.outcome == .completed)
        #expect(r2.outcome == .completed)
        #expect(r1.statistics.input.bytes == UInt64(data.count))
        #expect(r2.statistics.output.bytes == UInt64(data.count))
        #expect(Support.checksum(out) == Support.checksum(data))
        #expect(out == data)
    }

    @Test("output to /dev/null is discarded by the reader: every byte counted, no write command, no writer thread")
    func nullOutput() throws {
        let data = Support.data(3_000_000 + 123)
        let dir = try TemporaryDirectory()
        let src = try dir.write("src", data)
        for bs in ["4k", "1m"] {
            let e = try CopyEngine(
                input: Endpoint.file(Self.options("file=\(src),bs=\(bs)"), role: .input),
                output: Endpoint.file(Self.options("file=/dev/null,bs=\(bs)"), role: .output), report: { _ in })
            #expect(e.output.isNullDevice)
            let r = try e.run(signals: nil)
            #expect(r.outcome == .completed)
            #expect(r.statistics.input.bytes == UInt64(data.count))
            #expect(r.statistics.output.bytes == UInt64(data.count))
            #expect(r.statistics.output.commands == 0, "nothing is written to /dev/null")
        }
        // -m stops exactly; an ordinary character device is not mistaken for /dev/null.
        let e = try CopyEngine(
            input: Endpoint.file(Self.options("file=\(src),bs=64k"), role: .input),
            output: Endpoint.file(Self.options("file=/dev/null"), role: .output), maxBytes: 1_000_001, report: { _ in })
        #expect(try e.run(signals: nil).statistics.output.bytes == 1_000_001)
        let zero = try Endpoint.file(Self.options("file=/dev/zero"), role: .output)
        #expect(!zero.isNullDevice)
    }

    @Test("polled and handed-over completions copy the same bytes, with random latency", arguments: [true, false])
    func polledCopy(poll: Bool) throws {
        let data = Support.data(2_000_000)
        let dir = try TemporaryDirectory()
        let src = try dir.write("src", data)
        let xpt = XPT(completionThreads: 2)
        defer { xpt.shutdown() }
        let h1 = try Self.disk("size=4m:latency=20us-300us", xpt: xpt)
        let flag = poll ? "" : ",poll=0"
        let a = try CopyEngine(
            input: Endpoint.file(Self.options("file=\(src),bs=64k"), role: .input),
            output: Endpoint.pass(h1, options: Self.options("pass=x,bs=16k,depth=16\(flag)"), role: .output),
            report: { _ in })
        #expect(try a.run(signals: nil).outcome == .completed)
        #expect(!h1.isPolling, "the writer stops polling when it is done")
        let h2 = try xpt.open(unit: h1.unit)
        let b = try CopyEngine(
            input: Endpoint.pass(h2, options: Self.options("pass=x,bs=48k,depth=7\(flag)"), role: .input),
            output: Endpoint.file(Self.options("file=\(dir.file("dst")),bs=1m"), role: .output),
            maxBytes: UInt64(data.count), report: { _ in })
        let r = try b.run(signals: nil)
        #expect(r.outcome == .completed)
        #expect(r.statistics.output.bytes == UInt64(data.count))
        #expect(try dir.read("dst") == data)
    }

    @Test("completions out of order still reach the writer in order")
    func randomLatency() throws {
        let data = Support.data(3 << 20, seed: 7)
        let (r1, r2, out) = try Self.roundTrip(data, disk: "size=4m:latency=10us-400us", inBS: "64k",
                                               diskBS: "16k", outBS: "1m", depth: 32)
        #expect(r1.outcome == .completed && r2.outcome == .completed)
        #expect(out == data)
        #expect(r2.statistics.input.commands == UInt64((3 << 20) / (16 << 10)))
        let lat = try #require(r2.statistics.input.latency)
        #expect(lat.min >= 9_000 && lat.max >= lat.p50 && lat.p999 >= lat.p99)
    }

    @Test("a partial last block to a device is padded to a sector, and counted")
    func padding() throws {
        let dir = try TemporaryDirectory()
        let src = try dir.write("src", Support.data(1000))
        let xpt = XPT(completionThreads: 1)
        defer { xpt.shutdown() }
        let h = try Self.disk("size=1m", xpt: xpt)
        let lines = Lines()
        let e = try CopyEngine(input: Endpoint.file(Self.options("file=\(src)"), role: .input),
                               output: Endpoint.pass(h, options: Self.options("pass=x"), role: .output),
                               report: { lines.add($0) })
        let r = try e.run(signals: nil)
        #expect(r.outcome == .completed)
        #expect(r.statistics.input.bytes == 1000)
        #expect(r.statistics.output.bytes == 1024)
        #expect(r.statistics.output.paddedBytes == 24)
        #expect(lines.all.contains { $0.contains("padded the last block") && $0.contains("24 zero bytes") })
    }

    @Test("a medium error stops the copy; what was read before it is written, counted exactly")
    func mediumError() throws {
        let dir = try TemporaryDirectory()
        let xpt = XPT(completionThreads: 1)
        defer { xpt.shutdown() }
        let h = try Self.disk("size=1m:medium=100-107", xpt: xpt)
        let lines = Lines()
        let e = try CopyEngine(input: Endpoint.pass(h, options: Self.options("pass=x,bs=4k,depth=8"), role: .input),
                               output: Endpoint.file(Self.options("file=\(dir.file("out"))"), role: .output),
                               report: { lines.add($0) })
        let r = try e.run(signals: nil)
        #expect(r.outcome == .failed)
        // LBAs 96...103 are the 13th 4 KiB block: 12 blocks before it are good.
        #expect(r.statistics.input.bytes == 12 * 4096)
        #expect(r.statistics.output.bytes == 12 * 4096)
        #expect(try dir.read("out").count == 12 * 4096)
        #expect(r.error?.contains("LBA 96") == true)
        #expect(lines.all.contains { $0.contains("MEDIUM ERROR") })
    }

    @Test("the end of the output device ends the copy without an error")
    func outputFull() throws {
        let dir = try TemporaryDirectory()
        let src = try dir.write("src", Support.data(300_000))
        let xpt = XPT(completionThreads: 1)
        defer { xpt.shutdown() }
        let h = try Self.disk("size=128k", xpt: xpt)
        let e = try CopyEngine(input: Endpoint.file(Self.options("file=\(src),bs=48k"), role: .input),
                               output: Endpoint.pass(h, options: Self.options("pass=x,bs=20k,offset=16k"), role: .output),
                               report: { _ in })
        let r = try e.run(signals: nil)
        #expect(r.outcome == .completed)
        #expect(r.outputFull)
        #expect(r.statistics.output.bytes == 112 * 1024)
    }

    @Test("-E with -C retries a unit attention; without -E the copy stops on it")
    func errorRecovery() throws {
        let dir = try TemporaryDirectory()
        let xpt = XPT(completionThreads: 1)
        defer { xpt.shutdown() }
        let sim = EmulatorSIM()
        try sim.addDisk(target: 0, lun: 0, EmulatedDiskConfiguration(parsing: "size=256k"))
        let bus = xpt.register(sim)
        try xpt.scan(bus)
        let unit = try #require(xpt.devices().first { $0.path.bus == bus.number }).unit

        func copy(_ settings: IOSettings) throws -> (CopyResult, [String]) {
            let lines = Lines()
            let input = try Endpoint.pass(xpt.open(unit: unit), options: Self.options("pass=x,bs=64k,depth=2"),
                                          role: .input, settings: settings)
            // After the probe: the next command meets the unit attention.
            sim.injectUnitAttention(target: 0)
            let e = try CopyEngine(input: input,
                                   output: Endpoint.file(Self.options("file=\(dir.file("out")),trunc"), role: .output),
                                   settings: settings, report: { lines.add($0) })
            return (try e.run(signals: nil), lines.all)
        }
        let (raw, rawLines) = try copy(IOSettings())
        #expect(raw.outcome == .failed)
        #expect(rawLines.contains { $0.contains("UNIT ATTENTION") })
        var recover = IOSettings()
        recover.errorRecovery = true
        recover.retryCount = 2
        let (ok, _) = try copy(recover)
        #expect(ok.outcome == .completed)
        #expect(ok.statistics.output.bytes == 256 * 1024)
    }

    @Test("buffer memory is bounded by depth × block size")
    func bounded() throws {
        let dir = try TemporaryDirectory()
        let src = try dir.write("src", Support.data(4096))
        let xpt = XPT(completionThreads: 1)
        defer { xpt.shutdown() }
        let h = try Self.disk("size=16m", xpt: xpt)
        let e = try CopyEngine(input: Endpoint.pass(h, options: Self.options("pass=x,bs=1m,depth=8"), role: .input),
                               output: Endpoint.file(Self.options("file=\(src),bs=1m"), role: .output),
                               report: { _ in })
        // 8 in flight + 1 for the writer + 1 being filled.
        #expect(e.bufferBytes <= 10 << 20)
    }
}

/// Lines reported by an engine, collected from its threads.
final class Lines: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var lines: [String] = []
    func add(_ s: String) { lock.lock(); lines.append(s); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return lines }
}
