#if canImport(Glibc)
import Glibc
#endif
import CAM

/// How long an emulated disk takes to complete a command.
///
/// `.none` completes inside `start`, on the queuing thread; the others hand the command to a
/// timer thread that completes it when due, so queue depth matters and, with `.random`,
/// completions come back out of order (as tagged commands on a real disk do). INQUIRY,
/// REPORT LUNS and REQUEST SENSE always answer at once, as a disk's firmware does.
public enum EmulatedLatency: Sendable, Equatable {
    /// Complete inside `start`.
    case none
    /// Every command takes this long.
    case fixed(Duration)
    /// Each command takes a time drawn uniformly from `min` through `max` (to the nanosecond).
    case random(min: Duration, max: Duration)
}

/// `EmulatedLatency` in nanoseconds, as a disk draws it per command (converted once, when the
/// latency is set, so that no command does Duration arithmetic).
enum NanosecondLatency: Equatable {
    case none
    case fixed(UInt64)
    case random(UInt64, UInt64)

    init(_ latency: EmulatedLatency) {
        switch latency {
        case .none: self = .none
        case .fixed(let d):
            let ns = d.nanosecondsRoundedUp
            self = ns == 0 ? .none : .fixed(ns)
        case .random(let lo, let hi):
            self = .random(lo.nanosecondsRoundedUp, max(lo.nanosecondsRoundedUp, hi.nanosecondsRoundedUp))
        }
    }
}

/// What an emulated direct-access (SBC) disk looks like: size, sector size, where the data
/// lives, the strings INQUIRY reports, and the knobs tests use to make it misbehave.
public struct EmulatedDiskConfiguration: Sendable, Equatable {
    /// Capacity in bytes, rounded down to whole sectors.
    public var capacityBytes: UInt64 = 64 << 20
    /// Logical block length: 512 or 4096.
    public var sectorSize: Int = 512
    /// Back the data with this file (created if missing, extended to the capacity, never
    /// shrunk), so it outlives the process. nil: RAM, allocated in chunks on first write.
    public var file: String? = nil
    /// T10 vendor identification (at most 8 ASCII characters).
    public var vendor = "SWIFTCAM"
    /// Product identification (at most 16).
    public var product = "EMULATED DISK"
    /// Product revision level (at most 4).
    public var revision = "0001"
    /// Unit serial number (VPD 0x80); nil derives one from target and LUN.
    public var serial: String? = nil
    /// Per-command latency.
    public var latency: EmulatedLatency = .none
    /// Commands the device holds at once; more get TASK SET FULL (SAM-5 5.3.1).
    public var taskSlots: Int = 64
    /// The first command other than INQUIRY, REPORT LUNS and REQUEST SENSE gets CHECK
    /// CONDITION, UNIT ATTENTION, 29/00 POWER ON, RESET, OR BUS DEVICE RESET OCCURRED.
    public var unitAttentionOnFirstAccess = false
    /// LBAs that fail: reads and verifies with MEDIUM ERROR 11/00, writes with 0C/00.
    public var mediumErrorLBAs: [ClosedRange<UInt64>] = []
    /// Report sense in descriptor format (0x72) from the start, as the control mode page's
    /// D_SENSE bit does; MODE SELECT may change it later.
    public var descriptorSense = false
    /// The disk starts stopped: media access gets NOT READY 04/02 (initializing command
    /// required) until START STOP UNIT starts it, as a spun-down disk answers.
    public var startsStopped = false

    public init(capacityBytes: UInt64 = 64 << 20, sectorSize: Int = 512, file: String? = nil,
                vendor: String = "SWIFTCAM", product: String = "EMULATED DISK", revision: String = "0001",
                serial: String? = nil, latency: EmulatedLatency = .none, taskSlots: Int = 64,
                unitAttentionOnFirstAccess: Bool = false, mediumErrorLBAs: [ClosedRange<UInt64>] = [],
                descriptorSense: Bool = false) {
        self.capacityBytes = capacityBytes
        self.sectorSize = sectorSize
        self.file = file
        self.vendor = vendor
        self.product = product
        self.revision = revision
        self.serial = serial
        self.latency = latency
        self.taskSlots = taskSlots
        self.unitAttentionOnFirstAccess = unitAttentionOnFirstAccess
        self.mediumErrorLBAs = mediumErrorLBAs
        self.descriptorSense = descriptorSense
    }

    /// Parses the options of an `emu:disk` device specifier, colon-separated (colons, not
    /// commas, because camdd's lists are comma-separated):
    /// `size=64m:file=/tmp/x:sector=4096:latency=50us:latency=10us-200us:slots=8:ua:medium=100-107+300:vendor=V:product=P:revision=R:serial=S:dsense`.
    ///
    /// Sizes take k, m, g, t (powers of 1024); latencies ns, us, ms, s. A leading `emu:disk`
    /// is skipped. A value cannot contain a colon. With `file=` and no `size=`, an existing
    /// file keeps its size.
    public init(parsing options: String) throws(CAMError) {
        self.init()
        var tokens = options.split(separator: ":", omittingEmptySubsequences: true).map(String.init)
        if tokens.first == "emu" { tokens.removeFirst() }
        if tokens.first == "disk" { tokens.removeFirst() }
        var mediumSeen = false
        var sizeGiven = false
        for token in tokens {
            let key: String
            let value: String?
            if let eq = token.firstIndex(of: "=") {
                key = String(token[..<eq]).lowercased()
                value = String(token[token.index(after: eq)...])
            } else {
                key = token.lowercased()
                value = nil
            }
            func need() throws(CAMError) -> String {
                guard let value, !value.isEmpty else {
                    throw CAMError(.invalidRequest, "emulated disk option '\(key)' needs a value, as in \(key)=\(Self.example(key))")
                }
                return value
            }
            switch key {
            case "size":
                capacityBytes = try Self.parseSize(need(), key: key)
                sizeGiven = true
            case "file":
                file = try need()
            case "sector", "sectorsize", "blocksize":
                let v = try need()
                guard let n = Int(v), n == 512 || n == 4096 else {
                    throw CAMError(.invalidRequest, "emulated disk option sector=\(v): the sector size must be 512 or 4096")
                }
                sectorSize = n
            case "latency":
                latency = try Self.parseLatency(need())
            case "slots", "taskslots":
                let v = try need()
                guard let n = Int(v), n >= 1 else {
                    throw CAMError(.invalidRequest, "emulated disk option slots=\(v): give a number of task slots of 1 or more, as in slots=8")
                }
                taskSlots = n
            case "ua":
                unitAttentionOnFirstAccess = try Self.parseFlag(value, key: key)
            case "stopped":
                startsStopped = try Self.parseFlag(value, key: key)
            case "dsense", "descriptorsense":
                descriptorSense = try Self.parseFlag(value, key: key)
            case "medium":
                if !mediumSeen { mediumErrorLBAs = []; mediumSeen = true }
                for part in try need().split(separator: "+") {
                    mediumErrorLBAs.append(try Self.parseLBARange(String(part)))
                }
            case "vendor":
                vendor = try Self.checkASCII(need(), key: key, max: 8)
            case "product":
                product = try Self.checkASCII(need(), key: key, max: 16)
            case "revision", "rev":
                revision = try Self.checkASCII(need(), key: key, max: 4)
            case "serial":
                serial = try Self.checkASCII(need(), key: key, max: 64)
            default:
                throw CAMError(.invalidRequest, "unknown emulated disk option '\(token)' (known: size, file, sector, latency, slots, ua, dsense, medium, vendor, product, revision, serial; as in emu:disk:size=1g:sector=4096)")
            }
        }
        // An existing image without size= keeps its own size, so emu:disk:file=PATH opens the
        // whole image again.
        if !sizeGiven, let file {
            var st = stat()
            if stat(file, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, UInt64(st.st_size) >= UInt64(sectorSize) {
                capacityBytes = UInt64(st.st_size)
            }
        }
        try validate()
    }

    /// Checks the values that `init(parsing:)` and `EmulatorSIM.addDisk` both refuse.
    func validate() throws(CAMError) {
        guard sectorSize == 512 || sectorSize == 4096 else {
            throw CAMError(.invalidRequest, "emulated disk: sector size \(sectorSize) is not supported; use 512 or 4096")
        }
        guard capacityBytes >= UInt64(sectorSize) else {
            throw CAMError(.invalidRequest, "emulated disk: a size of \(capacityBytes) bytes holds no \(sectorSize)-byte sector; give at least size=\(sectorSize)")
        }
        guard taskSlots >= 1 else {
            throw CAMError(.invalidRequest, "emulated disk: taskSlots is \(taskSlots); give 1 or more")
        }
        if case .random(let lo, let hi) = latency, lo > hi {
            throw CAMError(.invalidRequest, "emulated disk: random latency from \(lo.camDescription) to \(hi.camDescription) is empty; give the smaller bound first")
        }
        _ = try Self.checkASCII(vendor, key: "vendor", max: 8)
        _ = try Self.checkASCII(product, key: "product", max: 16)
        _ = try Self.checkASCII(revision, key: "revision", max: 4)
        if let serial { _ = try Self.checkASCII(serial, key: "serial", max: 64) }
        if let file, file.isEmpty {
            throw CAMError(.invalidRequest, "emulated disk: the file name is empty; give file=/path/to/image")
        }
    }

    /// The block count.
    var blockCount: UInt64 { capacityBytes / UInt64(sectorSize) }

    private static func example(_ key: String) -> String {
        switch key {
        case "size": return "64m"
        case "file": return "/tmp/disk.img"
        case "sector", "sectorsize", "blocksize": return "4096"
        case "latency": return "50us or latency=10us-200us"
        case "slots", "taskslots": return "8"
        case "medium": return "100-107"
        default: return "VALUE"
        }
    }

    static func parseSize(_ text: String, key: String) throws(CAMError) -> UInt64 {
        let bad = CAMError(.invalidRequest, "emulated disk option \(key)=\(text): give a size in bytes with an optional k, m, g or t (powers of 1024), as in \(key)=64m")
        var digits = Substring(text)
        var shift: UInt64 = 0
        if let last = digits.last, !last.isNumber {
            switch last.lowercased() {
            case "k": shift = 10
            case "m": shift = 20
            case "g": shift = 30
            case "t": shift = 40
            default: throw bad
            }
            digits = digits.dropLast()
        }
        guard let n = UInt64(digits), n > 0 else { throw bad }
        guard n <= UInt64.max >> shift else {
            throw CAMError(.invalidRequest, "emulated disk option \(key)=\(text) is too large")
        }
        return n << shift
    }

    static func parseDuration(_ text: String) -> UInt64? {
        let units: [(String, UInt64)] = [("ns", 1), ("us", 1_000), ("µs", 1_000), ("ms", 1_000_000), ("s", 1_000_000_000)]
        if text == "0" { return 0 }
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            let number = text.dropLast(suffix.count)
            guard let n = UInt64(number), n <= UInt64.max / scale else { return nil }
            return n * scale
        }
        return nil
    }

    static func parseLatency(_ text: String) throws(CAMError) -> EmulatedLatency {
        let bad = CAMError(.invalidRequest, "emulated disk option latency=\(text): give a time with a unit (ns, us, ms, s) or a range, as in latency=50us or latency=10us-200us")
        if text == "none" || text == "0" { return .none }
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        if parts.count == 1 {
            guard let ns = parseDuration(text) else { throw bad }
            return ns == 0 ? .none : .fixed(.nanoseconds(ns))
        }
        guard parts.count == 2, let lo = parseDuration(String(parts[0])), let hi = parseDuration(String(parts[1])) else { throw bad }
        guard lo <= hi else {
            throw CAMError(.invalidRequest, "emulated disk option latency=\(text): the range is empty; give the smaller bound first, as in latency=10us-200us")
        }
        return .random(min: .nanoseconds(lo), max: .nanoseconds(hi))
    }

    static func parseFlag(_ value: String?, key: String) throws(CAMError) -> Bool {
        switch value?.lowercased() {
        case nil, "1", "yes", "on", "true": return true
        case "0", "no", "off", "false": return false
        case let v?: throw CAMError(.invalidRequest, "emulated disk option \(key)=\(v): give \(key) alone, or \(key)=1 / \(key)=0")
        }
    }

    static func parseLBARange(_ text: String) throws(CAMError) -> ClosedRange<UInt64> {
        let bad = CAMError(.invalidRequest, "emulated disk option medium=\(text): give an LBA or an LBA range, as in medium=100 or medium=100-107 (join several with +)")
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2, let lo = UInt64(parts[0]) else { throw bad }
        let hi = parts.count == 2 ? UInt64(parts[1]) : lo
        guard let hi, lo <= hi else { throw bad }
        return lo...hi
    }

    static func checkASCII(_ text: String, key: String, max: Int) throws(CAMError) -> String {
        let ok = text.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F }
        guard ok, text.utf8.count <= max else {
            throw CAMError(.invalidRequest, "emulated disk option \(key)=\(text): give at most \(max) printable ASCII characters")
        }
        return text
    }

    /// "64m", "1t", "1536k", "1000": the shortest exact form, for device names.
    static func formatSize(_ bytes: UInt64) -> String {
        for (shift, unit) in [(40, "t"), (30, "g"), (20, "m"), (10, "k")] as [(UInt64, String)] {
            if bytes >= 1 << shift, bytes & ((1 << shift) - 1) == 0 { return "\(bytes >> shift)\(unit)" }
        }
        return "\(bytes)"
    }
}
