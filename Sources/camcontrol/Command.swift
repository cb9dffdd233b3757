#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import CAM
import SCSI

/// `camcontrol cmd`: send a raw CDB, with data in or out.
struct Command: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cmd",
        abstract: "Send a raw CDB given as hex bytes.",
        discussion: """
        -c takes the CDB as hex bytes separated by spaces ("28 0 0 0 0 10 0 0 8 0"; 0x prefixes allowed).
        -i LEN reads LEN bytes from the device: printed as a hex dump, or with "-" written raw to \
        standard output, or with a path written to that file.
        -o LEN sends LEN bytes to the device, read from standard input ("-") or from a file.
        Examples:
          camcontrol cmd pass0 -v -c "12 0 0 0 24 0" -i 36
          camcontrol cmd pass0 -c "28 0 0 0 0 0 0 0 8 0" -i 4096 - > blocks.bin
          camcontrol cmd pass0 -c "2a 0 0 0 0 0 0 0 8 0" -o 4096 blocks.bin
        """
    )

    @Argument(help: "The device: passN, B:T:L, emu:disk, /dev/sgN or an iscsi:// URL.")
    var device: String

    @Option(name: .customShort("c"), help: "The CDB, hex bytes separated by spaces (6 to 32 bytes).")
    var cdbText: String

    @Option(name: .customShort("i"), parsing: .upToNextOption, help: "LEN [-|FILE]: read LEN bytes from the device.")
    var dataIn: [String] = []

    @Option(name: .customShort("o"), parsing: .upToNextOption, help: "LEN [-|FILE]: write LEN bytes to the device, from stdin (-) or FILE.")
    var dataOut: [String] = []

    @OptionGroup(title: "Generic options")
    var options: GenericOptions

    func validate() throws {
        _ = try Command.parseCDB(cdbText)
        if !dataIn.isEmpty && !dataOut.isEmpty {
            throw ValidationError("-i and -o exclude each other: a CDB moves data one way (bidirectional commands are not supported)")
        }
        for (flag, v) in [("-i", dataIn), ("-o", dataOut)] where !v.isEmpty {
            guard v.count <= 2 else { throw ValidationError("\(flag) takes LEN and at most one of - or FILE, not \(v.joined(separator: " "))") }
            guard let n = Int(v[0]), n > 0, n <= 64 << 20 else {
                throw ValidationError("\(flag) takes a data length in bytes from 1 to 67108864, not '\(v[0])'")
            }
            _ = n
        }
        if dataOut.count == 1 { throw ValidationError("-o \(dataOut[0]) needs a source: - for standard input, or a file") }
    }

    /// "28 0 0 0 0 10 0 0 8 0" → CDB. Errors say which token is wrong.
    static func parseCDB(_ text: String) throws -> CDB {
        let tokens = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," })
        guard !tokens.isEmpty else { throw ValidationError("-c needs a CDB: hex bytes separated by spaces, such as \"0 0 0 0 0 0\" for TEST UNIT READY") }
        var bytes: [UInt8] = []
        for t in tokens {
            var s = Substring(t)
            if s.hasPrefix("0x") || s.hasPrefix("0X") { s = s.dropFirst(2) }
            guard let b = UInt8(s, radix: 16) else {
                throw ValidationError("-c: '\(t)' is not a hex byte (00 to ff)")
            }
            bytes.append(b)
        }
        guard bytes.count <= CDB.capacity, let cdb = CDB(bytes) else {
            throw ValidationError("-c: a CDB has 1 to 32 bytes; this one has \(bytes.count)")
        }
        return cdb
    }

    func run() throws {
        try exitOnFailure {
            let cdb = try Command.parseCDB(cdbText)
            var length = 0
            var direction = CCBDirection.none
            if let n = dataIn.first.flatMap(Int.init) { length = n; direction = .in }
            if let n = dataOut.first.flatMap(Int.init) { length = n; direction = .out }
            let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: max(length, 1), alignment: 4096)
            defer { buf.deallocate() }
            buf.initializeMemory(as: UInt8.self, repeating: 0)
            let data = UnsafeMutableRawBufferPointer(rebasing: buf[0..<length])
            if direction == .out {
                let got = try Command.readSource(dataOut[1], into: data)
                if got < length {
                    throw DeviceFailure(description: "camcontrol: -o \(length): \(dataOut[1] == "-" ? "standard input" : dataOut[1]) gave only \(got) bytes")
                }
            }
            let h = try openDevice(device, options)
            defer { h.close() }
            let ccb = CCB(cdb: cdb, data: length > 0 ? .buffer(data) : .none, direction: direction)
            let ok = try CAMControlSupport.run(ccb, on: h, options)
            if direction == .in {
                let got = UnsafeRawBufferPointer(rebasing: data[0..<ccb.transferred])
                switch dataIn.count == 2 ? dataIn[1] : nil {
                case "-":
                    var off = 0
                    while off < got.count {
                        let n = write(1, got.baseAddress! + off, got.count - off)
                        if n < 0 { if errno == EINTR { continue }; throw DeviceFailure(description: "camcontrol: write to standard output: \(String(cString: strerror(errno)))") }
                        off += n
                    }
                case let path?:
                    try Command.writeFile(path, got)
                case nil:
                    print(Command.hexDump(got), terminator: "")
                }
                if options.verbose && ccb.residual > 0 {
                    printError("camcontrol: \(ccb.residual) of \(length) bytes not transferred (residual)")
                }
            }
            if !ok { throw ExitCode(1) }
        }
    }

    static func readSource(_ source: String, into buf: UnsafeMutableRawBufferPointer) throws -> Int {
        let fd = source == "-" ? 0 : open(source, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw DeviceFailure(description: "camcontrol: cannot open \(source): \(String(cString: strerror(errno)))") }
        defer { if fd != 0 { close(fd) } }
        var off = 0
        while off < buf.count {
            let n = read(fd, buf.baseAddress! + off, buf.count - off)
            if n < 0 { if errno == EINTR { continue }; throw DeviceFailure(description: "camcontrol: read \(source): \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            off += n
        }
        return off
    }

    static func writeFile(_ path: String, _ data: UnsafeRawBufferPointer) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw DeviceFailure(description: "camcontrol: cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var off = 0
        while off < data.count {
            let n = write(fd, data.baseAddress! + off, data.count - off)
            if n < 0 { if errno == EINTR { continue }; throw DeviceFailure(description: "camcontrol: write \(path): \(String(cString: strerror(errno)))") }
            off += n
        }
    }

    /// 16 bytes a line: offset, hex, printable ASCII.
    static func hexDump(_ data: UnsafeRawBufferPointer) -> String {
        var out = ""
        var off = 0
        while off < data.count {
            let line = data[off..<min(off + 16, data.count)]
            var hex = line.map { b -> String in let s = String(b, radix: 16); return s.count == 1 ? "0" + s : s }.joined(separator: " ")
            hex += String(repeating: " ", count: 47 - hex.count)
            let ascii = String(decoding: line.map { ($0 >= 0x20 && $0 < 0x7F) ? $0 : UInt8(ascii: ".") }, as: UTF8.self)
            let o = String(off, radix: 16)
            out += String(repeating: "0", count: max(0, 4 - o.count)) + o + "  " + hex + "  " + ascii + "\n"
            off += 16
        }
        return out
    }
}
