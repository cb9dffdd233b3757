// cam-bench: CCBs per second queued and reaped on the emulated disk, and allocations per CCB
// in steady state (issue 2's benchmark). With --devices, N devices on one bus read at once
// (DeviceReaders.swift: the completion-mode comparison of issue 10 item 4).
//
//   swift run -c release cam-bench [--seconds S] [--depths 1,8,32]
//   swift run -c release cam-bench --devices 8 [--bus emu[:OPTIONS]|sg|/dev/sgN|iscsi://...]
//       [--bs 64k] [--depth 4] [--seconds S] [--completion-threads N]
#if canImport(Glibc)
import Glibc
#endif
import CAM
import CAMEmulator
import CCAMBenchMalloc
import SCSI

struct Options {
    var seconds = 2.0
    var depths = [1, 8, 32]
    /// Set by --devices: the many-device mode.
    var readers: ReaderOptions?
}

let usage = """
    usage: cam-bench [--seconds S] [--depths 1,8,32]
           cam-bench --devices N [--bus emu[:OPTIONS]|sg|/dev/sgN|iscsi://HOST/IQN] [--bs 64k] [--depth 4]
                     [--seconds S] [--completion-threads N]
    """

/// "64k", "1m", "4096".
func parseBytes(_ text: String?) -> Int? {
    guard var t = text?.lowercased(), !t.isEmpty else { return nil }
    var shift = 0
    switch t.last {
    case "k": shift = 10
    case "m": shift = 20
    default: break
    }
    if shift > 0 { t.removeLast() }
    guard let n = Int(t), n > 0 else { return nil }
    return n << shift
}

func parseOptions() -> Options {
    var o = Options()
    var args = CommandLine.arguments.dropFirst()
    var r = ReaderOptions()
    var readerOption: String?
    var seconds: Double?
    while let a = args.popFirst() {
        switch a {
        case "--seconds":
            guard let v = args.popFirst().flatMap(Double.init), v > 0 else { fail("--seconds takes a positive number") }
            seconds = v
        case "--devices":
            guard let v = args.popFirst().flatMap({ Int($0) }), v > 0 else { fail("--devices takes a positive count, as in --devices 8") }
            r.devices = v
            o.readers = r
        case "--bus":
            guard let v = args.popFirst(), !v.isEmpty else { fail("--bus takes emu[:OPTIONS], sg, /dev/sgN or iscsi://HOST/IQN") }
            r.bus = v == "emu" ? ReaderOptions.defaultEmulator : v
            readerOption = a
        case "--bs":
            guard let v = parseBytes(args.popFirst()), v % 512 == 0, v <= 1 << 20 else { fail("--bs takes a multiple of 512 up to 1m, as in --bs 64k") }
            r.blockSize = v
            readerOption = a
        case "--depth":
            guard let v = args.popFirst().flatMap({ Int($0) }), v > 0 else { fail("--depth takes a positive number, as in --depth 4") }
            r.depth = v
            readerOption = a
        case "--completion-threads":
            guard let v = args.popFirst().flatMap({ Int($0) }), v > 0 else { fail("--completion-threads takes a positive number") }
            r.completionThreads = v
            readerOption = a
        case "--depths":
            let v = args.popFirst()?.split(separator: ",").compactMap { Int($0) } ?? []
            guard !v.isEmpty, v.allSatisfy({ $0 > 0 }) else { fail("--depths takes a list like 1,8,32") }
            o.depths = v
        case "-h", "--help":
            print(usage)
            exit(0)
        default:
            fail("unknown argument \(a)\n\(usage)")
        }
    }
    if o.readers != nil {
        r.seconds = seconds ?? r.seconds
        o.readers = r
    } else {
        if let readerOption { fail("\(readerOption) goes with --devices N") }
        o.seconds = seconds ?? o.seconds
    }
    return o
}

func fail(_ s: String) -> Never {
    let line = "cam-bench: \(s)\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
    exit(2)
}

enum Workload: String { case tur = "TEST UNIT READY", read4k = "READ(10) 4 KiB" }

/// Runs `workload` at `depth` for `seconds`; returns CCBs per second and allocations per CCB
/// measured over the steady state (after a warm-up pass).
func run(_ workload: Workload, depth: Int, seconds: Double, handle h: PassHandle) throws -> (rate: Double, allocsPerCCB: Double, ccbs: UInt64) {
    let ccbs = (0..<depth).map { _ in CCB() }
    let buffers = (0..<depth).map { _ in UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 4096) }
    defer { buffers.forEach { $0.deallocate() } }
    var read10 = CDB(count: 10)
    read10[0] = 0x28
    read10[8] = 8
    for (i, c) in ccbs.enumerated() {
        switch workload {
        case .tur: c.setSCSI(cdb: CDB(count: 6))
        case .read4k: c.setSCSI(cdb: read10, data: .buffer(buffers[i]), direction: .in)
        }
        c.cookie = UInt64(i)
    }
    func loop(for ns: UInt64) throws -> UInt64 {
        var done: UInt64 = 0
        for c in ccbs { try h.queue(c) }
        let end = camMonotonicNanoseconds() + ns
        var check = 0
        while true {
            // A SIM that completes inline puts a CCB back on the done queue inside queue(), so
            // take at most `depth` per pass and look at the clock between passes.
            var taken = 0
            while taken < depth, let c = h.get() {
                guard c.status == .requestComplete else { fail("command failed: \(c.status)") }
                done &+= 1
                taken += 1
                try h.queue(c)
            }
            check &+= 1
            if check & 15 == 0, camMonotonicNanoseconds() >= end { break }
            if taken == 0 { _ = h.wait(timeout: .milliseconds(100)) }
        }
        // Drain.
        var left = depth
        while left > 0 {
            if h.get() != nil { left -= 1; done &+= 1 } else { _ = h.wait(timeout: .milliseconds(100)) }
        }
        return done
    }
    _ = try loop(for: 200_000_000) // warm-up: pools, lazy pages, first-use allocations
    let a0 = ccambench_allocations()
    let t0 = camMonotonicNanoseconds()
    let n = try loop(for: UInt64(seconds * 1e9))
    let t1 = camMonotonicNanoseconds()
    let a1 = ccambench_allocations()
    return (Double(n) / (Double(t1 - t0) / 1e9), Double(a1 - a0) / Double(n), n)
}

let options = parseOptions()
if let readers = options.readers {
    do { try runReaders(readers) } catch { fail("\(error)") }
    exit(0)
}
let xpt = XPT(completionThreads: 1)
let sim = EmulatorSIM(maxIO: 1 << 20, commandSlots: 256)
do {
    try sim.addDisk(target: 0, lun: 0, EmulatedDiskConfiguration(capacityBytes: 64 << 20))
    let bus = xpt.register(sim)
    try xpt.scan(bus)
    let h = try xpt.open(unit: 0)
    print("cam-bench: emulated disk (no latency), \(options.seconds) s per run, one thread queueing and reaping")
    print("workload              depth        CCBs/s   allocations/CCB")
    for w in [Workload.tur, .read4k] {
        for d in options.depths {
            let r = try run(w, depth: d, seconds: options.seconds, handle: h)
            let name = w.rawValue + String(repeating: " ", count: max(0, 20 - w.rawValue.count))
            print("\(name)  \(String(d).leftPad(5))  \(String(Int(r.rate)).leftPad(12))   \(String(format3: r.allocsPerCCB).leftPad(15))")
        }
    }
    h.close()
    xpt.shutdown()
} catch {
    fail("\(error)")
}

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
    init(format3 v: Double) {
        let scaled = Int((v * 1000).rounded())
        let frac = String(scaled % 1000)
        self = "\(scaled / 1000)." + String(repeating: "0", count: 3 - frac.count) + frac
    }
}
