/// Device statistics (FreeBSD's devstat(9)): operations and bytes per direction, busy time,
/// and a latency histogram.
public struct DeviceStatistics: Sendable, Equatable {
    /// Operations with no data, reads (data in), writes (data out).
    public var operations: (none: UInt64, read: UInt64, write: UInt64) { (ops[0], ops[1], ops[2]) }
    /// Bytes moved in each direction.
    public var bytesRead: UInt64
    public var bytesWritten: UInt64
    /// Nanoseconds during which at least one command was started and not completed.
    public var busyNanoseconds: UInt64
    /// Commands that did not complete with request complete.
    public var errors: UInt64
    /// Most commands started at once.
    public var maxInFlight: Int
    /// Latency histogram: see `LatencyHistogram`.
    public var latency: LatencyHistogram

    var ops: [UInt64]

    init(storage: DeviceStatisticsStorage) {
        ops = [storage.ops.0, storage.ops.1, storage.ops.2]
        bytesRead = storage.bytesRead
        bytesWritten = storage.bytesWritten
        busyNanoseconds = storage.busyNanoseconds
        errors = storage.errors
        maxInFlight = storage.maxInFlight
        latency = LatencyHistogram(counts: Array(UnsafeBufferPointer(start: storage.buckets, count: LatencyHistogram.bucketCount)))
    }

    /// All operations.
    public var totalOperations: UInt64 { ops.reduce(0, +) }

    public static func == (a: DeviceStatistics, b: DeviceStatistics) -> Bool {
        a.ops == b.ops && a.bytesRead == b.bytesRead && a.bytesWritten == b.bytesWritten
            && a.busyNanoseconds == b.busyNanoseconds && a.errors == b.errors && a.latency == b.latency
    }
}

/// A log-linear latency histogram in nanoseconds: each power of two split into 8 buckets, so
/// any value is placed within 12.5% and percentiles come out within that.
public struct LatencyHistogram: Sendable, Equatable {
    static let subBits = 3
    static let subBuckets = 1 << subBits
    static let bucketCount = 64 * subBuckets

    public let counts: [UInt64]

    /// The bucket for `ns`.
    @inline(__always)
    static func index(_ ns: UInt64) -> Int {
        if ns < UInt64(subBuckets) { return Int(ns) }
        let log = 63 - ns.leadingZeroBitCount
        let sub = Int((ns >> UInt64(log - subBits)) & UInt64(subBuckets - 1))
        return (log - subBits + 1) * subBuckets + sub
    }

    /// The smallest value in bucket `i`.
    static func lowerBound(_ i: Int) -> UInt64 {
        if i < subBuckets { return UInt64(i) }
        let log = i / subBuckets + subBits - 1
        let sub = UInt64(i % subBuckets)
        return (1 << UInt64(log)) | (sub << UInt64(log - subBits))
    }

    /// Samples recorded.
    public var count: UInt64 { counts.reduce(0, +) }

    /// The latency under which `fraction` (0...1) of samples fall, in nanoseconds (bucket's
    /// upper edge, so never an under-estimate). nil when empty.
    public func percentile(_ fraction: Double) -> UInt64? {
        let total = count
        guard total > 0 else { return nil }
        let rank = UInt64((Double(total) * min(max(fraction, 0), 1)).rounded(.up))
        var seen: UInt64 = 0
        for (i, c) in counts.enumerated() where c > 0 {
            seen += c
            if seen >= max(rank, 1) {
                return i + 1 < LatencyHistogram.bucketCount ? LatencyHistogram.lowerBound(i + 1) - 1 : .max
            }
        }
        return nil
    }
}

/// The mutable counters, kept under the device lock (the completion path already holds it,
/// so counting costs no extra synchronisation).
struct DeviceStatisticsStorage {
    var ops: (UInt64, UInt64, UInt64) = (0, 0, 0)
    var bytesRead: UInt64 = 0
    var bytesWritten: UInt64 = 0
    var busyNanoseconds: UInt64 = 0
    var busySince: UInt64 = 0
    var errors: UInt64 = 0
    var maxInFlight = 0
    let buckets: UnsafeMutablePointer<UInt64>

    init() {
        buckets = .allocate(capacity: LatencyHistogram.bucketCount)
        buckets.initialize(repeating: 0, count: LatencyHistogram.bucketCount)
    }

    func free() { buckets.deallocate() }

    mutating func record(direction: CCBDirection, bytes: Int, latency: UInt64, ok: Bool) {
        switch direction {
        case .none: ops.0 &+= 1
        case .in: ops.1 &+= 1; bytesRead &+= UInt64(bytes)
        case .out: ops.2 &+= 1; bytesWritten &+= UInt64(bytes)
        }
        if !ok { errors &+= 1 }
        buckets[LatencyHistogram.index(latency)] &+= 1
    }
}
