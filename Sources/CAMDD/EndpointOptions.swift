/// How an endpoint is reached: the asynchronous pass interface, or read/write on a file.
public enum EndpointKind: String, Sendable, Equatable {
    /// `pass=DEVICE`: SCSI READ/WRITE through CAM, up to `depth` commands in flight.
    case pass
    /// `file=PATH`: pread/pwritev, or read/write for pipes, character devices, stdin, stdout.
    case file
}

/// Input or output.
public enum EndpointRole: String, Sendable, Equatable {
    case input, output
}

/// One `-i` or `-o` argument list, as camdd(8)'s camdd_parse_io_opts reads it:
/// `pass=DEV|file=PATH[,bs=N][,offset=N][,depth=N][,mcs=N][,debug=N]`, plus our flags
/// `direct` (O_DIRECT), `trunc` (truncate an output file) and `poll` (polled completion) and `zerocopy` (device buffers).
public struct EndpointOptions: Sendable, Equatable {
    public var kind: EndpointKind
    /// The device specifier or path; "-" is stdin or stdout.
    public var name: String
    /// Bytes per command; nil: the endpoint's default (camdd(8): pass min(maxio, 1 MiB), file 512 KiB).
    public var blockSize: UInt64?
    /// Commands in flight; nil: the default (pass 6, file 1).
    public var depth: Int?
    /// Starting byte offset.
    public var offset: UInt64 = 0
    /// Smallest READ/WRITE CDB to use: 0 or 6, 10, 12, 16 (camdd(8) `mcs=`).
    public var minimumCommandSize: Int = 0
    /// Debug level (camdd(8) `debug=`): non-zero prints each command.
    public var debug: Int = 0
    /// Open with O_DIRECT (files and block devices).
    public var direct = false
    /// Truncate an output file before writing (camdd(8) never truncates).
    public var truncate = false
    /// Harvest a pass device's completions on camdd's own thread when its SIM can
    /// (`PassHandle.startPolling`): `poll=0` hands them over from the SIM's thread instead.
    public var poll = true
    /// Read a pass device into its SIM's device buffers when it has them (`zerocopy=0`: into
    /// ordinary memory, through the kernel's copy).
    public var zeroCopy = true

    public init(kind: EndpointKind, name: String) {
        self.kind = kind
        self.name = name
    }

    /// The keys an argument list may hold, for messages.
    public static let keys = "pass=, file=, bs=, offset=, depth=, mcs=, debug=, direct, trunc, poll, zerocopy"

    /// Parses one `-i`/`-o` list. Empty fields (",,") are skipped as in camdd(8); everything
    /// else that is unknown or malformed is an error naming the field.
    public static func parse(_ text: String) throws(CAMDDError) -> EndpointOptions {
        var kind: EndpointKind?
        var name = ""
        var result = EndpointOptions(kind: .file, name: "")
        for field in text.split(separator: ",", omittingEmptySubsequences: true) {
            let parts = field.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = parts[0].lowercased()
            let value = parts.count > 1 ? String(parts[1]) : nil
            if key.isEmpty {
                throw CAMDDError(.badArgument, "empty parameter name in \"\(text)\"")
            }
            switch key {
            case "direct", "trunc", "truncate", "poll", "zerocopy":
                let on: Bool
                switch value?.lowercased() {
                case nil, "1", "yes", "on", "true": on = true
                case "0", "no", "off", "false": on = false
                default: throw CAMDDError(.badArgument, "\(key)=\(value!): expected \(key), \(key)=1 or \(key)=0")
                }
                switch key {
                case "direct": result.direct = on
                case "poll": result.poll = on
                case "zerocopy": result.zeroCopy = on
                default: result.truncate = on
                }
                continue
            default:
                break
            }
            guard let value, !value.isEmpty else {
                throw CAMDDError(.badArgument, "Empty I/O parameter value for \(key) (expected \(key)=VALUE)")
            }
            switch key {
            case "file", "pass":
                if kind != nil {
                    throw CAMDDError(.badArgument, "\"\(text)\" names more than one device; give one pass= or file= per -i/-o")
                }
                kind = key == "file" ? .file : .pass
                name = value
            case "bs", "blocksize":
                guard let n = ByteSize.parse(value) else {
                    throw CAMDDError(.badArgument, "\(key)=\(value): not a size (bytes, or a number with a k, m, g or t suffix)")
                }
                guard n > 0 else {
                    throw CAMDDError(.badArgument, "\(key)=\(value): the block size must be larger than 0")
                }
                guard n <= 1 << 30 else {
                    throw CAMDDError(.badArgument, "\(key)=\(value): block sizes above 1g are not supported")
                }
                result.blockSize = n
            case "offset":
                guard let n = ByteSize.parse(value) else {
                    throw CAMDDError(.badArgument, "offset=\(value): not a size (bytes, or a number with a k, m, g or t suffix)")
                }
                result.offset = n
            case "depth":
                guard let n = parseInteger(value), n > 0, n <= 4096 else {
                    throw CAMDDError(.badArgument, "depth=\(value): invalid queue depth (a number from 1 to 4096)")
                }
                result.depth = n
            case "mcs":
                guard let n = parseInteger(value), [0, 6, 10, 12, 16].contains(n) else {
                    throw CAMDDError(.badArgument, "mcs=\(value): invalid minimum cmd size (0, 6, 10, 12 or 16)")
                }
                result.minimumCommandSize = n
            case "debug":
                guard let n = parseInteger(value), n >= 0 else {
                    throw CAMDDError(.badArgument, "debug=\(value): invalid debug level")
                }
                result.debug = n
            default:
                throw CAMDDError(.badArgument, "Unrecognized parameter \(key)=\(value) (known: \(keys))")
            }
        }
        guard let kind else {
            throw CAMDDError(.badArgument, "\"\(text)\" names no device: start it with pass=DEVICE or file=PATH")
        }
        result.kind = kind
        result.name = name
        return result
    }

    /// strtol(..., 0) for the fields that take plain numbers: decimal or 0x hex.
    static func parseInteger(_ s: String) -> Int? {
        if s.hasPrefix("0x") || s.hasPrefix("0X") { return Int(s.dropFirst(2), radix: 16) }
        return Int(s)
    }
}
