// cam-bench --devices: N devices on one bus, one reader thread per device, each keeping
// `depth` READ(10)s in flight; total throughput and CPU per GiB under the completion mode in
// force (issue 10 item 4: direct completion on the SIM's thread, or CAM's completion threads).
#if canImport(Glibc)
import Glibc
#endif
import CAM
import CAMEmulator
import CAMSpecifier
import SCSI

/// The `--devices` mode's settings.
struct ReaderOptions {
    var devices = 8
    /// `emu[:disk][:OPTIONS]` (N emulated disks with those options), `sg` (every local sg
    /// device), `/dev/sgN`, or an iSCSI URL.
    var bus = ReaderOptions.defaultEmulator
    var blockSize = 64 << 10
    var depth = 4
    var seconds = 5.0
    var completionThreads = CompletionQueues.cpuCount

    /// RAM disks with a fixed latency, so commands complete on the emulator's timer thread (its
    /// SIM thread) as a real bus's do on its interrupt or poll thread.
    static let defaultEmulator = "emu:disk:size=64m:latency=50us"

    var isEmulator: Bool { bus == "emu" || bus.hasPrefix("emu:") }
}

/// One reader's outcome.
struct ReaderResult: Sendable {
    var bytes: UInt64 = 0
    var commands: UInt64 = 0
    var failure: String?
}

/// Registers and scans the bus `options.bus` names, and opens its first `options.devices`
/// direct-access devices.
func openReaderDevices(_ options: ReaderOptions, on xpt: XPT) throws -> (bus: CAMBus, handles: [PassHandle]) {
    if options.isEmulator {
        var text = options.bus.dropFirst(3)
        if text.hasPrefix(":disk") { text = text.dropFirst(5) }
        if text.hasPrefix(":") { text = text.dropFirst() }
        let config = try EmulatedDiskConfiguration(parsing: String(text))
        // One timer thread: the bus's one SIM thread, as the sg SIM has one epoll thread per bus.
        let sim = EmulatorSIM(maxIO: 1 << 20, commandSlots: 256, completionThreads: 1)
        for t in 0..<options.devices { try sim.addDisk(target: t, lun: 0, config) }
        let bus = xpt.register(sim)
        try xpt.scan(bus)
    } else {
        let sg = options.bus == "sg"
        let opener = DeviceOpener(xpt: xpt, buses: sg ? [] : [options.bus], environment: false, includeLocalSG: sg)
        try opener.scanConfiguredBuses()
    }
    let disks = xpt.devices().filter { $0.isPresent && $0.peripheralType == .directAccess }
    guard disks.count >= options.devices else {
        throw BenchError("\(options.bus): \(disks.count) direct-access devices, \(options.devices) asked for")
    }
    let chosen = Array(disks.prefix(options.devices))
    guard Set(chosen.map(\.path.bus)).count == 1, let bus = xpt.allBuses.first(where: { $0.number == chosen[0].path.bus }) else {
        throw BenchError("\(options.bus): the devices are on more than one bus (\(chosen.map(\.path.description).joined(separator: " ")))")
    }
    return (bus, try chosen.map { try xpt.open(unit: $0.unit) })
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// The device's size in blocks and its block length (READ CAPACITY(10)); asked a few times,
/// since a real disk's first command may meet a UNIT ATTENTION.
func readCapacity(_ h: PassHandle) throws -> (blocks: UInt64, blockLength: Int) {
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 8, alignment: 8)
    defer { buffer.deallocate() }
    let ccb = CCB()
    for _ in 0..<4 {
        ccb.setSCSI(cdb: CDB.readCapacity10(), data: .buffer(buffer), direction: .in)
        try h.execute(ccb)
        if ccb.status == .requestComplete, let rc = ReadCapacity10(UnsafeRawBufferPointer(buffer)) {
            return (rc.blockCount, Int(rc.blockLength))
        }
    }
    throw BenchError("READ CAPACITY(10) on \(h.name): \(ccb.status)")
}

/// Reads `h` from LBA 0 on, wrapping at its end, with `depth` READ(10)s of `blockSize` in
/// flight until `end` (monotonic nanoseconds); then drains. Runs on its own thread.
func readUntil(_ end: UInt64, handle h: PassHandle, capacity: (blocks: UInt64, blockLength: Int),
               blockSize: Int, depth: Int) -> ReaderResult {
    var result = ReaderResult()
    let perCommand = UInt64(blockSize / capacity.blockLength)
    guard perCommand > 0, perCommand <= 0xFFFF, capacity.blocks >= perCommand else {
        result.failure = "\(h.name): \(blockSize) bytes per command do not fit its \(capacity.blockLength)-byte blocks"
        return result
    }
    let wrap = min(capacity.blocks, UInt64(UInt32.max)) / perCommand * perCommand
    var next: UInt64 = 0
    let buffers = (0..<depth).map { _ in UnsafeMutableRawBufferPointer.allocate(byteCount: blockSize, alignment: 4096) }
    defer { buffers.forEach { $0.deallocate() } }
    let ccbs = (0..<depth).map { i in
        let c = CCB()
        c.cookie = UInt64(i)
        return c
    }
    func send(_ c: CCB) throws {
        c.setSCSI(cdb: CDB.read(lba: next, blocks: UInt32(perCommand), minimumSize: 10),
                  data: .buffer(buffers[Int(c.cookie)]), direction: .in)
        next += perCommand
        if next >= wrap { next = 0 }
        try h.queue(c)
    }
    var inFlight = 0
    do {
        for c in ccbs { try send(c); inFlight += 1 }
        var stopping = false
        var passes = 0
        while inFlight > 0 {
            // An inline completion lands on the done queue inside queue(): take at most `depth`
            // per pass and look at the clock between passes.
            var taken = 0
            while taken < depth, let c = h.get() {
                taken += 1
                inFlight -= 1
                guard c.status == .requestComplete else {
                    if result.failure == nil { result.failure = "READ(10) on \(h.name): \(c.status)" }
                    stopping = true
                    continue
                }
                result.commands += 1
                result.bytes += UInt64(blockSize - c.residual)
                if !stopping { try send(c); inFlight += 1 }
            }
            passes &+= 1
            if !stopping, passes & 15 == 0, camMonotonicNanoseconds() >= end { stopping = true }
            if taken == 0 { _ = h.wait(timeout: .milliseconds(100)) }
        }
    } catch {
        result.failure = "\(h.name): \(error)"
    }
    return result
}

/// User plus system CPU of the whole process (every thread: readers, SIM, completion threads).
func processCPUSeconds() -> Double {
    var u = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
    func s(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
    return s(u.ru_utime) + s(u.ru_stime)
}

/// The `--devices` mode: prints the configuration, then one `result` line of key=value pairs
/// (scripts/bench/completion-threads.sh reads it).
func runReaders(_ options: ReaderOptions) throws {
    let xpt = XPT(completionThreads: options.completionThreads)
    defer { xpt.shutdown() }
    let (bus, handles) = try openReaderDevices(options, on: xpt)
    defer { handles.forEach { $0.close() } }
    let capacities = try handles.map { try readCapacity($0) }
    let mode = bus.completesDirectly ? "direct" : "threads"
    let pi = bus.pathInquiry
    print("cam-bench: \(handles.count) devices on bus \(bus.number) (\(pi.simName), \(pi.transport)) from \(options.bus)")
    print("cam-bench: one reader per device, READ(10) of \(options.blockSize) bytes, depth \(options.depth), \(options.seconds) s; "
          + "completion \(mode)\(bus.completesDirectly ? "" : " (\(options.completionThreads) threads)")"
          + "\(getenv("CAM_COMPLETION") != nil ? " (CAM_COMPLETION)" : " (the SIM's choice)")")

    let results = CAMLockedBox([ReaderResult](repeating: ReaderResult(), count: handles.count))
    let cpu0 = processCPUSeconds()
    let t0 = camMonotonicNanoseconds()
    let end = t0 + UInt64(options.seconds * 1e9)
    let threads = handles.indices.map { i in
        let h = handles[i]
        let capacity = capacities[i]
        let (bs, depth) = (options.blockSize, options.depth)
        return CAMThread(name: "reader\(i)") {
            let r = readUntil(end, handle: h, capacity: capacity, blockSize: bs, depth: depth)
            results.withLock { $0[i] = r }
        }
    }
    threads.forEach { $0.join() }
    let t1 = camMonotonicNanoseconds()
    let cpu = processCPUSeconds() - cpu0

    let all = results.withLock { $0 }
    if let f = all.compactMap(\.failure).first { throw BenchError(f) }
    let bytes = all.reduce(0) { $0 + $1.bytes }
    let commands = all.reduce(0) { $0 + $1.commands }
    let seconds = Double(t1 - t0) / 1e9
    let gib = Double(bytes) / Double(1 << 30)
    let mibps = Double(bytes) / Double(1 << 20) / seconds
    let iops = Double(commands) / seconds
    let perDevice = all.map { String(format1: Double($0.bytes) / Double(1 << 20) / seconds) }.joined(separator: ",")
    print("MiB/s \(String(format1: mibps))  IOPS \(Int(iops))  CPU \(String(format3: cpu)) s = \(String(format3: gib > 0 ? cpu / gib : 0)) s/GiB"
          + "  (per device MiB/s: \(perDevice))")
    print("result completion=\(mode) sim=\(pi.simName) devices=\(handles.count) bs=\(options.blockSize) depth=\(options.depth)"
          + " seconds=\(String(format3: seconds)) mibps=\(String(format1: mibps)) iops=\(Int(iops))"
          + " cpu=\(String(format3: cpu)) cpu_per_gib=\(String(format3: gib > 0 ? cpu / gib : 0))")
}

extension String {
    init(format1 v: Double) {
        let scaled = Int((v * 10).rounded())
        self = "\(scaled / 10).\(scaled % 10)"
    }
}
