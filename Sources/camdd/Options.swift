/// One option of camdd's command line: its spellings, its value, its help and its section.
///
/// `OptionSpec.all` is the only list of camdd's options. The parser (Parser.swift) reads the
/// command line with it and the help (Help.swift) is rendered from it, so a spelling, its value
/// and its text cannot drift apart.
///
/// Why not swift-argument-parser, as camcontrol uses: its set-up (reflecting over the property
/// wrappers of every option group) cost about 1 ms of a 3-4 ms camdd run on a small file, and
/// camdd is run in loops by scripts and benchmarks. The project once kept two parsers, a quick
/// one for camdd(8)'s plain command lines and ArgumentParser for the rest, and with them two
/// sets of checks and messages. One getopt-style parser over this table keeps start-up near
/// 2 ms and gives every command line the same checks.
struct OptionSpec: Sendable {
    /// What an option sets.
    enum Key: Sendable {
        case input, output, bus
        case retryCount, errorRecovery, maxIO, timeout, verbose
        case progress, json, memcpyBench, benchPrefill
        case help
    }

    /// The headings of `--help`, in order.
    enum Section: String, Sendable, CaseIterable {
        case endpoints = "INPUT AND OUTPUT"
        case command = "COMMAND OPTIONS"
        case reporting = "REPORTING"
        case other = "OPTIONS"
    }

    let key: Key
    /// The getopt letter (`-C`), if any.
    let short: Character?
    /// The long name without its dashes (`bus` for `--bus`), if any.
    let long: String?
    /// The value's name in help (`retry_count`); nil for a flag.
    let value: String?
    /// nil hides the option from help.
    let help: String?
    let section: Section

    var takesValue: Bool { value != nil }

    /// `-C <retry_count>`, `--bus <spec>`, `-h, --help`.
    var synopsis: String {
        let names = [short.map { "-\($0)" }, long.map { "--\($0)" }].compactMap { $0 }.joined(separator: ", ")
        return value.map { "\(names) <\($0)>" } ?? names
    }

    /// camdd(8)'s options (-i, -o, -C, -E, -m, -t, -v) and the project's long ones.
    static let all: [OptionSpec] = [
        OptionSpec(
            key: .input, short: "i", long: nil, value: "args",
            help: "Input: pass=DEVICE or file=PATH (- for stdin), then ,bs=N ,offset=N ,depth=N ,mcs=N ,direct ,poll=0 ,zerocopy=0.",
            section: .endpoints),
        OptionSpec(
            key: .output, short: "o", long: nil, value: "args",
            help: "Output: pass=DEVICE or file=PATH (- for stdout), then ,bs=N ,offset=N ,depth=N ,mcs=N ,direct ,trunc ,poll=0.",
            section: .endpoints),
        OptionSpec(
            key: .bus, short: nil, long: "bus", value: "spec",
            help: "A bus to scan before passN and B:T:L are resolved (emu:disk:..., /dev/sgN, iscsi://host[:port]); repeatable, after CAM_BUSES.",
            section: .endpoints),
        OptionSpec(
            key: .retryCount, short: "C", long: nil, value: "retry_count",
            help: "Retry count for pass commands (with -E). (default: 1)", section: .command),
        OptionSpec(
            key: .errorRecovery, short: "E", long: nil, value: nil,
            help: "Enable CAM error recovery for pass devices (retry unit attentions, busy, transport errors).",
            section: .command),
        OptionSpec(
            key: .maxIO, short: "m", long: nil, value: "max_io",
            help: "Stop after this many bytes (k, m, g, t suffixes).", section: .command),
        OptionSpec(
            key: .timeout, short: "t", long: nil, value: "timeout",
            help: "Time-out of each pass command, in seconds (default 60).", section: .command),
        OptionSpec(
            key: .verbose, short: "v", long: nil, value: nil,
            help: "Verbose error reporting (sense bytes).", section: .command),
        OptionSpec(
            key: .progress, short: nil, long: "progress", value: nil,
            help: "Show a live progress line on stderr, as GNU dd's status=progress.", section: .reporting),
        OptionSpec(
            key: .json, short: nil, long: "json", value: nil,
            help: "Print the statistics as one JSON object on stdout (per endpoint: commands, bytes, busy time, latency percentiles).",
            section: .reporting),
        // This machine's memcpy bandwidth, the yardstick for emulated RAM disks (MemcpyBench).
        OptionSpec(key: .memcpyBench, short: nil, long: "memcpy-bench", value: nil, help: nil, section: .reporting),
        // Benchmarks only: fill a pass input with zeros first (untimed), so that an emulated RAM
        // disk holds real data and reads copy it instead of filling zeros.
        OptionSpec(key: .benchPrefill, short: nil, long: "bench-prefill", value: nil, help: nil, section: .reporting),
        OptionSpec(key: .help, short: "h", long: "help", value: nil, help: "Show help information.", section: .other),
    ]

    static func named(short c: Character) -> OptionSpec? { all.first { $0.short == c } }
    static func named(long name: Substring) -> OptionSpec? { all.first { $0.long.map { $0[...] == name } ?? false } }
}
