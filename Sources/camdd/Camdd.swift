#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import CAMDD

/// `-i` and `-o`, in camdd(8)'s comma-separated form.
struct Endpoints: ParsableArguments {
    @Option(name: .customShort("i"), help: ArgumentHelp(
        "Input: pass=DEVICE or file=PATH (- for stdin), then ,bs=N ,offset=N ,depth=N ,mcs=N ,direct ,poll=0 ,zerocopy=0.",
        valueName: "args"))
    var input: String?

    @Option(name: .customShort("o"), help: ArgumentHelp(
        "Output: pass=DEVICE or file=PATH (- for stdout), then ,bs=N ,offset=N ,depth=N ,mcs=N ,direct ,trunc ,poll=0.",
        valueName: "args"))
    var output: String?

    @Option(name: .customLong("bus"), help: ArgumentHelp(
        "A bus to scan before passN and B:T:L are resolved (emu:disk:..., /dev/sgN, iscsi://host[:port]); repeatable, after CAM_BUSES.",
        valueName: "spec"))
    var buses: [String] = []

    /// Parsed in validate().
    var inputOptions: EndpointOptions { (try? EndpointOptions.parse(input ?? "")) ?? EndpointOptions(kind: .file, name: "") }
    var outputOptions: EndpointOptions { (try? EndpointOptions.parse(output ?? "")) ?? EndpointOptions(kind: .file, name: "") }

    func validate() throws {
        if let input {
            do {
                _ = try EndpointOptions.parse(input)
            } catch {
                throw ValidationError("-i \(input): \(error)")
            }
        }
        if let output {
            do {
                _ = try EndpointOptions.parse(output)
            } catch {
                throw ValidationError("-o \(output): \(error)")
            }
        }
    }
}

/// -C, -E, -m, -t, -v as camdd(8) has them.
struct CommandOptions: ParsableArguments {
    @Option(name: .customShort("C"), help: ArgumentHelp("Retry count for pass commands (with -E).", valueName: "retry_count"))
    var retryCount: Int = 1

    @Flag(name: .customShort("E"), help: "Enable CAM error recovery for pass devices (retry unit attentions, busy, transport errors).")
    var errorRecovery = false

    @Option(name: .customShort("m"), help: ArgumentHelp("Stop after this many bytes (k, m, g, t suffixes).", valueName: "max_io"))
    var maxIO: String?

    @Option(name: .customShort("t"), help: ArgumentHelp("Time-out of each pass command, in seconds (default 60).", valueName: "timeout"))
    var timeout: Int?

    @Flag(name: .customShort("v"), help: "Verbose error reporting (sense bytes).")
    var verbose = false

    var maxBytes: UInt64? { maxIO.flatMap(ByteSize.parse) }

    func validate() throws {
        if retryCount < 0 { throw ValidationError("retry count \(retryCount) is < 0") }
        if let t = timeout, t < 0 || t > 4_000_000 { throw ValidationError("invalid timeout \(t) (seconds, 0 for the default of 60)") }
        if let m = maxIO, ByteSize.parse(m) == nil {
            throw ValidationError("invalid maximum I/O amount \(m) (bytes, or a number with a k, m, g or t suffix)")
        }
    }
}

/// What camdd adds to camdd(8): a live progress line and JSON statistics.
struct ReportOptions: ParsableArguments {
    @Flag(help: "Show a live progress line on stderr, as GNU dd's status=progress.")
    var progress = false

    @Flag(help: "Print the statistics as one JSON object on stdout (per endpoint: commands, bytes, busy time, latency percentiles).")
    var json = false

    @Flag(name: .customLong("memcpy-bench"), help: .hidden)
    var memcpyBench = false

    /// Benchmarks only: fill a pass input with zeros first (untimed), so that an emulated RAM
    /// disk holds real data and reads copy it instead of filling zeros.
    @Flag(name: .customLong("bench-prefill"), help: .hidden)
    var benchPrefill = false
}

struct Camdd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "camdd",
        abstract: "CAM data transfer utility: copy and benchmark through the asynchronous pass interface.",
        usage: """
            camdd -i pass=DEV|file=PATH[,bs=N][,offset=N][,depth=N][,mcs=N] -o ARGS
                  [-C retry_count] [-E] [-m max_io] [-t timeout] [-v] [-h] [--progress] [--json]
            """,
        discussion: """
            DEV is a device specifier: emu:disk[:size=64m][:file=PATH][:sector=512],
            /dev/sgN, iscsi://host[:port]/IQN/LUN, passN or bus:target:lun.
            Sizes take k, m, g, t (powers of 1024). Defaults: pass bs =
            min(maxio, 1m) in whole sectors, depth 6; file bs 512k, depth 1
            (depth=N on a regular file or block device input: N reads at once);
            -C 1; -t 60. Output files are not truncated unless ,trunc is given.
            Output to /dev/null is counted and discarded without write calls
            (as sg_dd and ddpt do). Pass devices whose transport can poll
            (sg, iSCSI) complete on camdd's own threads; ,poll=0 turns it off.
            An sg input is read into its mapped reserved buffers (no copy from
            the kernel); ,zerocopy=0 turns it off.
            SIGUSR1 prints the statistics and goes on; SIGINT stops, prints them.

            EXAMPLES
              Copy a file into an emulated disk kept in a file, back, compare:
                camdd -i file=data.bin \\
                      -o pass=emu:disk:size=64m:file=disk.img,bs=64k,depth=8
                camdd -i pass=emu:disk:size=64m:file=disk.img \\
                      -o file=copy.bin,trunc -m $(stat -c %s data.bin)
                cmp data.bin copy.bin
              Reblock 4k reads into 1m writes (S/G lists, no copying):
                camdd -i pass=pass0,bs=4k,depth=32 -o pass=pass1,bs=1m,depth=4
              Write 100 MiB of zeros to a disk, 4 commands in flight:
                camdd -i file=/dev/zero,bs=1M -o pass=/dev/sg2,depth=4 -m 100M
              Benchmark reading an iSCSI LUN, JSON statistics on stdout:
                camdd -i pass=iscsi://127.0.0.1/IQN/1,depth=16 \\
                      -o file=/dev/null --json
              Read a file to standard output:
                camdd -i file=/etc/hosts -o file=-
            """
    )

    @OptionGroup(title: "Input and output")
    var endpoints: Endpoints

    @OptionGroup(title: "Command options")
    var command: CommandOptions

    @OptionGroup(title: "Reporting")
    var reporting: ReportOptions

    func validate() throws {
        if !reporting.memcpyBench && (endpoints.input == nil || endpoints.output == nil) {
            throw ValidationError("Must specify both -i and -o (for example -i file=in.img -o pass=emu:disk:size=64m)")
        }
        if reporting.json, let o = endpoints.output, (try? EndpointOptions.parse(o))?.name == "-" {
            throw ValidationError("--json writes to standard output, which is the copy's output here (-o file=-)")
        }
    }

    mutating func run() throws {
        if reporting.memcpyBench {
            MemcpyBench.run()
            return
        }
        try Invocation(self).run()
    }
}

/// One camdd run, however its command line was read: by ArgumentParser (`Camdd`), or by
/// `quickParse` when it holds nothing but camdd(8)'s own options.
struct Invocation {
    var inputOptions: EndpointOptions
    var outputOptions: EndpointOptions
    var buses: [String] = []
    var retryCount = 1
    var errorRecovery = false
    var maxBytes: UInt64?
    var timeout: Int?
    var verbose = false
    var progress = false
    var json = false
    var benchPrefill = false

    init(inputOptions: EndpointOptions, outputOptions: EndpointOptions) {
        self.inputOptions = inputOptions
        self.outputOptions = outputOptions
    }

    init(_ c: Camdd) {
        self.init(inputOptions: c.endpoints.inputOptions, outputOptions: c.endpoints.outputOptions)
        buses = c.endpoints.buses
        retryCount = c.command.retryCount
        errorRecovery = c.command.errorRecovery
        maxBytes = c.command.maxBytes
        timeout = c.command.timeout
        verbose = c.command.verbose
        progress = c.reporting.progress
        json = c.reporting.json
        benchPrefill = c.reporting.benchPrefill
    }

    /// camdd(8)'s getopt options only (`-i ARGS -o ARGS [-C n] [-E] [-m n] [-t n] [-v]`, each
    /// once, every value valid): read here in microseconds. Anything else (--help, --json,
    /// --bus, an error to explain) returns nil and goes to ArgumentParser, which takes about a
    /// millisecond to set itself up (measured: 35% of a 4 ms run of camdd on a small file).
    static func quickParse(_ args: [String]) -> Invocation? {
        var seen = Set<String>()
        var values: [String: String] = [:]
        var i = 0
        while i < args.count {
            let a = args[i]
            guard seen.insert(a).inserted else { return nil }
            switch a {
            case "-E", "-v":
                values[a] = ""
                i += 1
            case "-i", "-o", "-C", "-m", "-t":
                guard i + 1 < args.count else { return nil }
                values[a] = args[i + 1]
                i += 2
            default:
                return nil
            }
        }
        guard let i = values["-i"], let o = values["-o"],
              let input = try? EndpointOptions.parse(i), let output = try? EndpointOptions.parse(o) else { return nil }
        var inv = Invocation(inputOptions: input, outputOptions: output)
        if let c = values["-C"] {
            guard let n = Int(c), n >= 0 else { return nil }
            inv.retryCount = n
        }
        if let m = values["-m"] {
            guard let n = ByteSize.parse(m) else { return nil }
            inv.maxBytes = n
        }
        if let t = values["-t"] {
            guard let n = Int(t), n >= 0, n <= 4_000_000 else { return nil }
            inv.timeout = n
        }
        inv.errorRecovery = values["-E"] != nil
        inv.verbose = values["-v"] != nil
        return inv
    }

    func run() throws {
        var settings = IOSettings()
        settings.retryCount = retryCount
        settings.errorRecovery = errorRecovery
        if let t = timeout, t > 0 { settings.timeoutMilliseconds = UInt32(t * 1000) }
        settings.verbose = verbose

        let opener = PassOpener(buses: buses)
        let input: Endpoint
        let output: Endpoint
        do {
            input = try opener.open(inputOptions, role: .input, settings: settings)
            for w in input.warnings { warn(w) }
            output = try opener.open(outputOptions, role: .output, settings: settings)
            for w in output.warnings { warn(w) }
        } catch {
            warn("\(error)")
            throw ExitCode(1)
        }
        if benchPrefill, input.kind == .pass {
            do {
                try prefill(input, opener: opener, settings: settings)
            } catch {
                warn("\(error)")
                throw ExitCode(1)
            }
        }
        let engine: CopyEngine
        do {
            engine = try CopyEngine(input: input, output: output, maxBytes: maxBytes, settings: settings)
        } catch {
            warn("\(error)")
            throw ExitCode(1)
        }
        engine.summarizesLatency = json
        let progress = progress
        var progressShown = false
        let result: CopyResult
        do {
            result = try engine.run(
                signals: copySignals, progressIntervalMilliseconds: progress ? 1000 : nil,
                onStatus: { stats in
                    if progressShown { writeStandardError("\n"); progressShown = false }
                    writeStandardError(stats.freeBSDText)
                },
                onProgress: { stats in
                    writeStandardError("\r" + stats.progressLine + "   ")
                    progressShown = true
                })
        } catch {
            warn("\(error)")
            throw ExitCode(1)
        }
        if progress {
            writeStandardError((progressShown ? "\r" : "") + result.statistics.progressLine + "   \n")
        }
        writeStandardError(result.statistics.freeBSDText)
        if json {
            let line = result.statistics.json(outcome: result.outcome.rawValue, message: result.error) + "\n"
            writeAll(1, line)
        }
        input.close()
        output.close()
        opener.shutdown()
        if result.outcome != .completed { throw ExitCode(1) }
    }
}

/// Writes zeros over the whole of `input`'s device through a second handle, untimed.
func prefill(_ input: Endpoint, opener: PassOpener, settings: IOSettings) throws(CAMDDError) {
    var o = EndpointOptions(kind: .pass, name: input.options.name)
    o.blockSize = UInt64(input.blockSize)
    o.depth = input.depth
    let target = try opener.open(o, role: .output, settings: settings)
    let zero = try Endpoint.file(EndpointOptions(kind: .file, name: "/dev/zero"), role: .input)
    let e = try CopyEngine(input: zero, output: target, maxBytes: target.capacity, settings: settings, report: { _ in })
    _ = try e.run(signals: nil)
    target.close()
    zero.close()
}

/// camdd(8) reports with warnx: "camdd: message".
func warn(_ message: String) {
    let text = message.hasPrefix("camdd: ") || message.hasPrefix("(") ? message : "camdd: " + message
    writeStandardError(text.hasSuffix("\n") ? text : text + "\n")
}

func writeStandardError(_ s: String) { writeAll(2, s) }

func writeAll(_ fd: Int32, _ s: String) {
    var bytes = Array(s.utf8)
    var off = 0
    while off < bytes.count {
        let n = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress! + off, $0.count - off) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return }
        off += n
    }
}
