import CAMDD

/// What a command line asks camdd to do.
enum CamddCommand {
    /// Copy (camdd(8)'s one job).
    case copy(Invocation)
    /// `-h`, `--help`, `-help`: the help on stdout.
    case help
    /// `--memcpy-bench` (hidden): see MemcpyBench.
    case memcpyBench
}

/// A command line camdd cannot use, in one sentence that says what would be right. main.swift
/// prints it as camdd(8) prints its usage errors, followed by the usage, and exits 64 (EX_USAGE).
struct UsageError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension CamddCommand {
    /// Reads `arguments` (without the program name) as getopt_long(3) would, with the spellings
    /// ArgumentParser also accepted:
    /// - `-i ARGS`, `-iARGS`, `-i=ARGS`; flags grouped (`-Ev`, `-Ei ARGS`);
    /// - `--bus SPEC`, `--bus=SPEC`, `--json`; `-h`, `--help`, `-help`;
    /// - a value is the next argument even when it starts with a dash (`-C -1` is a retry count);
    /// - an option given twice keeps its last value, except `--bus`, which adds a bus.
    /// Then every value is checked, once, here.
    init(parsing arguments: [String]) throws(UsageError) {
        var values: [OptionSpec.Key: String] = [:]
        var buses: [String] = []
        var flags = Set<OptionSpec.Key>()

        func take(_ spec: OptionSpec, _ value: String) {
            if spec.key == .bus { buses.append(value) } else { values[spec.key] = value }
        }

        var i = 0
        func nextValue(for spec: OptionSpec) throws(UsageError) -> String {
            guard i < arguments.count else {
                throw UsageError("option \(spec.synopsis) needs a value")
            }
            i += 1
            return arguments[i - 1]
        }

        while i < arguments.count {
            let arg = arguments[i]
            i += 1
            if arg == "--" {
                if i < arguments.count { throw Self.unexpected(arguments[i]) }
                break
            }
            if arg == "-help" {
                self = .help
                return
            }
            if arg.hasPrefix("--") {
                let body = arg.dropFirst(2)
                let equals = body.firstIndex(of: "=")
                let name = body[..<(equals ?? body.endIndex)]
                let attached = equals.map { String(body[body.index(after: $0)...]) }
                guard let spec = OptionSpec.named(long: name) else { throw UsageError("unknown option --\(name)") }
                if spec.takesValue {
                    if let attached { take(spec, attached) } else { take(spec, try nextValue(for: spec)) }
                } else if attached != nil {
                    throw UsageError("option --\(name) takes no value")
                } else if spec.key == .help {
                    self = .help
                    return
                } else {
                    flags.insert(spec.key)
                }
            } else if arg.hasPrefix("-") && arg.count > 1 {
                var rest = arg.dropFirst()
                while let c = rest.popFirst() {
                    guard let spec = OptionSpec.named(short: c) else { throw UsageError("unknown option -\(c)") }
                    if spec.takesValue {
                        // What follows the letter is its value; `-i=ARGS` as ArgumentParser read it.
                        if rest.first == "=" { rest = rest.dropFirst() }
                        take(spec, rest.isEmpty ? try nextValue(for: spec) : String(rest))
                        break
                    }
                    if spec.key == .help {
                        self = .help
                        return
                    }
                    if rest.first == "=" { throw UsageError("option -\(c) takes no value") }
                    flags.insert(spec.key)
                }
            } else {
                throw Self.unexpected(arg)
            }
        }
        self = try Self.checked(values: values, buses: buses, flags: flags)
    }

    private static func unexpected(_ arg: String) -> UsageError {
        UsageError("unexpected argument '\(arg)': camdd takes options only (-i ARGS names the input, -o ARGS the output)")
    }

    /// The checks, one per option, each with one message.
    private static func checked(
        values: [OptionSpec.Key: String], buses: [String], flags: Set<OptionSpec.Key>
    ) throws(UsageError) -> CamddCommand {
        func endpoint(_ option: String, _ text: String?) throws(UsageError) -> EndpointOptions? {
            guard let text else { return nil }
            do {
                return try EndpointOptions.parse(text)
            } catch {
                throw UsageError("\(option) \(text): \(error)")
            }
        }
        let input = try endpoint("-i", values[.input])
        let output = try endpoint("-o", values[.output])

        var retryCount = 1
        if let text = values[.retryCount] {
            guard let n = Int(text), n >= 0 else {
                throw UsageError("invalid retry count \(text) (-C takes a whole number of retries, 0 or more)")
            }
            retryCount = n
        }
        var maxBytes: UInt64?
        if let text = values[.maxIO] {
            guard let n = ByteSize.parse(text) else {
                throw UsageError("invalid maximum I/O amount \(text) (-m takes bytes, or a number with a k, m, g or t suffix)")
            }
            maxBytes = n
        }
        var timeout: Int?
        if let text = values[.timeout] {
            guard let n = Int(text), (0...4_000_000).contains(n) else {
                throw UsageError("invalid timeout \(text) (-t takes seconds, 1 to 4000000, or 0 for the default of 60)")
            }
            timeout = n
        }

        if flags.contains(.memcpyBench) { return .memcpyBench }
        guard let input, let output else {
            throw UsageError("Must specify both -i and -o (for example -i file=in.img -o pass=emu:disk:size=64m)")
        }
        if flags.contains(.json) && output.name == "-" {
            throw UsageError("--json writes to standard output, which is the copy's output here (-o file=-)")
        }

        var inv = Invocation(inputOptions: input, outputOptions: output)
        inv.buses = buses
        inv.retryCount = retryCount
        inv.errorRecovery = flags.contains(.errorRecovery)
        inv.maxBytes = maxBytes
        inv.timeout = timeout
        inv.verbose = flags.contains(.verbose)
        inv.progress = flags.contains(.progress)
        inv.json = flags.contains(.json)
        inv.benchPrefill = flags.contains(.benchPrefill)
        return .copy(inv)
    }
}
