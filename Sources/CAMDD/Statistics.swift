import CAM
import Histogram
import Synchronization

/// Per-endpoint counters. `bytes` is read live (SIGUSR1, --progress); the rest belongs to the
/// endpoint's worker thread and is read after it has been joined.
final class EndpointCounters: @unchecked Sendable {
    // `bytes` is atomic; every other field is written by one worker thread only and read by
    // the engine after joining that thread (the join orders the accesses).
    let bytes = Atomic<UInt64>(0)
    var commands: UInt64 = 0
    var errors: UInt64 = 0
    var paddedBytes: UInt64 = 0
    var busyNanoseconds: UInt64 = 0
    private var busySince: UInt64 = 0
    private var active = 0
    // HdrHistogram of command latencies in nanoseconds, 1 ns to 1 hour, 3 significant digits;
    // recording into it allocates nothing. Made at the first record, and only when
    // `recordsLatency` (setting one up zeroes ~270 KiB: ~0.2 ms of camdd's start, for numbers
    // only --json prints).
    var latency: Histogram<UInt64>?
    /// Set before the copy starts.
    var recordsLatency = true

    /// A command was started: busy time runs while at least one is outstanding.
    @inline(__always)
    func started(at now: UInt64) {
        if active == 0 { busySince = now }
        active += 1
    }

    /// A command finished after `latency` nanoseconds.
    @inline(__always)
    func finished(at now: UInt64, latency ns: UInt64, ok: Bool) {
        active -= 1
        if active == 0 { busyNanoseconds &+= now &- busySince }
        commands &+= 1
        if !ok { errors &+= 1 }
        guard recordsLatency else { return }
        if latency == nil {
            latency = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000_000,
                                        numberOfSignificantValueDigits: .three)
        }
        _ = latency!.record(min(max(ns, 1), 3_600_000_000_000))
    }

    @inline(__always)
    func add(bytes n: Int) { bytes.add(UInt64(n), ordering: .relaxed) }
}

/// Latency of an endpoint's commands, in nanoseconds (from an HdrHistogram, 3 significant digits).
public struct LatencySummary: Sendable, Equatable {
    public var min: UInt64
    public var mean: Double
    public var max: UInt64
    public var p50: UInt64
    public var p90: UInt64
    public var p99: UInt64
    public var p999: UInt64
}

/// One endpoint's statistics.
public struct EndpointStatistics: Sendable, Equatable {
    /// "pass0", a path, or "-".
    public var name: String
    public var role: EndpointRole
    public var kind: EndpointKind
    public var blockSize: Int
    public var depth: Int
    public var sectorSize: Int
    /// Bytes read (in order, handed to the writer) or written (including padding).
    public var bytes: UInt64
    /// Commands (pass) or system calls (file) completed, and those that failed.
    public var commands: UInt64
    public var errors: UInt64
    /// Zero bytes added to pad a partial last block to a whole sector.
    public var paddedBytes: UInt64
    /// Time with at least one command outstanding.
    public var busyNanoseconds: UInt64
    /// nil when no command completed.
    public var latency: LatencySummary?
    /// Input blocks that are device buffers (filled with no copy; pass inputs on sg).
    public var deviceBuffers = 0
}

/// What a copy did: both endpoints and the elapsed time.
public struct CopyStatistics: Sendable, Equatable {
    public var input: EndpointStatistics
    public var output: EndpointStatistics
    public var elapsedNanoseconds: UInt64

    /// MB/s as camdd(8) computes it: the smaller byte count, in units of 2^20, per second.
    public var megabytesPerSecond: Double {
        let bytes = Double(min(input.bytes, output.bytes))
        return bytes / 1_048_576 / (Double(max(elapsedNanoseconds, 1)) / 1e9)
    }

    /// The four lines camdd(8)'s camdd_print_status writes to stderr.
    public var freeBSDText: String {
        let seconds = Double(elapsedNanoseconds) / 1e9
        return "\(input.bytes) bytes read from \(input.name)\n"
            + "\(output.bytes) bytes written to \(output.name)\n"
            + "\(fixed(seconds, 4)) seconds elapsed\n"
            + "\(fixed(megabytesPerSecond, 2)) MB/sec\n"
    }

    /// A line like GNU dd's status=progress: "104857600 bytes (105 MB, 100 MiB) copied, 2 s, 52.4 MB/s".
    public var progressLine: String {
        let bytes = output.bytes
        let seconds = Double(elapsedNanoseconds) / 1e9
        let rate = seconds > 0 ? Double(bytes) / seconds : 0
        var s = "\(bytes) bytes"
        if bytes >= 1000 {
            s += " (\(human(Double(bytes), si: true)), \(human(Double(bytes), si: false)))"
        }
        s += " copied, \(fixed(seconds, seconds < 10 ? 1 : 0)) s, \(human(rate, si: true))/s"
        return s
    }

    private func human(_ v: Double, si: Bool) -> String {
        let base = si ? 1000.0 : 1024.0
        let names = si ? ["B", "kB", "MB", "GB", "TB", "PB"] : ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var x = v
        var i = 0
        while x >= base && i < names.count - 1 { x /= base; i += 1 }
        return "\(significant3(x)) \(names[i])"
    }

    /// One JSON object with everything, for scripts (--json).
    public func json(outcome: String, message: String? = nil) -> String {
        var o = JSONWriter()
        o.open()
        o.field("outcome", string: outcome)
        if let message { o.field("error", string: message) }
        o.field("elapsed_seconds", number: fixed(Double(elapsedNanoseconds) / 1e9, 6))
        o.field("mb_per_second", number: fixed(megabytesPerSecond, 2))
        o.key("input"); endpoint(&o, input)
        o.key("output"); endpoint(&o, output)
        o.close()
        return o.text
    }

    private func endpoint(_ o: inout JSONWriter, _ e: EndpointStatistics) {
        o.open()
        o.field("name", string: e.name)
        o.field("kind", string: e.kind.rawValue)
        o.field("block_size", number: "\(e.blockSize)")
        o.field("depth", number: "\(e.depth)")
        o.field("sector_size", number: "\(e.sectorSize)")
        o.field("bytes", number: "\(e.bytes)")
        o.field("commands", number: "\(e.commands)")
        o.field("errors", number: "\(e.errors)")
        o.field("padded_bytes", number: "\(e.paddedBytes)")
        o.field("device_buffers", number: "\(e.deviceBuffers)")
        o.field("busy_seconds", number: fixed(Double(e.busyNanoseconds) / 1e9, 6))
        let elapsed = Double(max(elapsedNanoseconds, 1))
        o.field("busy_percent", number: fixed(min(100, Double(e.busyNanoseconds) / elapsed * 100), 1))
        o.key("latency_us")
        if let l = e.latency {
            o.open()
            o.field("min", number: fixed(Double(l.min) / 1000, 3))
            o.field("avg", number: fixed(l.mean / 1000, 3))
            o.field("max", number: fixed(Double(l.max) / 1000, 3))
            o.field("p50", number: fixed(Double(l.p50) / 1000, 3))
            o.field("p90", number: fixed(Double(l.p90) / 1000, 3))
            o.field("p99", number: fixed(Double(l.p99) / 1000, 3))
            o.field("p99.9", number: fixed(Double(l.p999) / 1000, 3))
            o.close()
        } else {
            o.raw("null")
        }
        o.close()
    }
}

/// Just enough of a JSON writer for the statistics object (no Foundation on this path).
struct JSONWriter {
    var text = ""
    private var needComma = [false]

    mutating func open() {
        text += "{"
        needComma.append(false)
    }

    mutating func close() {
        needComma.removeLast()
        text += "}"
        if !needComma.isEmpty { needComma[needComma.count - 1] = true }
    }

    mutating func key(_ k: String) {
        if needComma[needComma.count - 1] { text += "," }
        text += quote(k) + ":"
        needComma[needComma.count - 1] = false
    }

    mutating func raw(_ v: String) {
        text += v
        needComma[needComma.count - 1] = true
    }

    mutating func field(_ k: String, string v: String) { key(k); raw(quote(v)) }
    mutating func field(_ k: String, number v: String) { key(k); raw(v) }

    func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let h = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}

extension EndpointCounters {
    func snapshot(of e: Endpoint, final: Bool) -> EndpointStatistics {
        var lat: LatencySummary?
        if final, let latency, latency.totalCount > 0 {
            lat = LatencySummary(min: latency.min, mean: latency.mean, max: latency.max,
                                 p50: latency.valueAtPercentile(50), p90: latency.valueAtPercentile(90),
                                 p99: latency.valueAtPercentile(99), p999: latency.valueAtPercentile(99.9))
        }
        return EndpointStatistics(name: e.name, role: e.role, kind: e.kind, blockSize: e.blockSize, depth: e.depth,
                                  sectorSize: e.sectorSize, bytes: bytes.load(ordering: .relaxed),
                                  commands: final ? commands : 0, errors: final ? errors : 0,
                                  paddedBytes: final ? paddedBytes : 0, busyNanoseconds: final ? busyNanoseconds : 0,
                                  latency: lat)
    }
}
