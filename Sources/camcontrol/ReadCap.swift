import ArgumentParser
import CAM
import SCSI

/// `camcontrol readcap`: READ CAPACITY (10, then 16 when the device is too big for 10).
struct ReadCap: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "readcap",
        abstract: "Print a device's capacity: last block and block length.",
        discussion: """
        Output as FreeBSD's camcontrol readcap:
          Last Block: 131071, Block Length: 512 bytes
        With -h: Last Block: 131071, Block Length: 512 bytes, Device Size: 64 MiB
        READ CAPACITY(10) is sent first, and READ CAPACITY(16) when the answer is 0xFFFFFFFF or -l is given.
        """,
        // -h is camcontrol's "human-readable" here, as on FreeBSD; help is --help.
        helpNames: [.long]
    )

    @Argument(help: "The device: passN, B:T:L, emu:disk, /dev/sgN or an iscsi:// URL.")
    var device: String

    @Flag(name: .customShort("b"), help: "Print only the block length.")
    var blockLengthOnly = false

    @Flag(name: .customShort("h"), help: "Add the device size in powers of 1024 (KiB, MiB...).")
    var human = false

    @Flag(name: .customShort("H"), help: "Add the device size in powers of 1000 (kB, MB...).")
    var humanSI = false

    @Flag(name: .customShort("N"), help: "Print the number of blocks rather than the last block.")
    var numberOfBlocks = false

    @Flag(name: .customShort("q"), help: "Quiet: numbers only, no labels.")
    var quiet = false

    @Flag(name: .customShort("s"), help: "Print only the size (last block, or blocks with -N).")
    var sizeOnly = false

    @Flag(name: .customShort("l"), help: "Always use READ CAPACITY(16).")
    var long = false

    @OptionGroup(title: "Generic options")
    var options: GenericOptions

    func validate() throws {
        if blockLengthOnly && sizeOnly { throw ValidationError("-b and -s exclude each other: choose the block length or the size") }
        if human && humanSI { throw ValidationError("-h and -H exclude each other: choose powers of 1024 or of 1000") }
    }

    func run() throws {
        try exitOnFailure {
            let h = try openDevice(device, options)
            defer { h.close() }
            let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 32, alignment: 8)
            defer { buf.deallocate() }
            var cap: (lastLBA: UInt64, blockLength: UInt32)?
            var needs16 = long
            if !long {
                let c10 = CCB(cdb: CDB.readCapacity10(), data: .buffer(UnsafeMutableRawBufferPointer(rebasing: buf[0..<8])), direction: .in)
                guard try CAMControlSupport.run(c10, on: h, options) else { throw ExitCode(1) }
                if let r = ReadCapacity10(Array(buf.prefix(c10.transferred))) {
                    cap = (UInt64(r.lastLBA), r.blockLength)
                    needs16 = r.needsReadCapacity16
                }
            }
            if needs16 {
                let c16 = CCB(cdb: CDB.readCapacity16(allocationLength: 32), data: .buffer(buf), direction: .in)
                guard try CAMControlSupport.run(c16, on: h, options) else { throw ExitCode(1) }
                cap = ReadCapacity16(Array(buf.prefix(c16.transferred))).map { ($0.lastLBA, $0.blockLength) }
            }
            guard let cap else {
                throw DeviceFailure(description: "camcontrol: \(h.name) returned READ CAPACITY data too short to decode")
            }
            print(format(cap))
        }
    }

    func format(_ cap: (lastLBA: UInt64, blockLength: UInt32)) -> String {
        let count = numberOfBlocks ? cap.lastLBA + 1 : cap.lastLBA
        if blockLengthOnly { return "\(cap.blockLength)" }
        if sizeOnly { return "\(count)" }
        var s = quiet ? "\(count) \(cap.blockLength)" : "\(numberOfBlocks ? "Blocks" : "Last Block"): \(count), Block Length: \(cap.blockLength) bytes"
        let bytes = (cap.lastLBA + 1) * UInt64(cap.blockLength)
        if human || humanSI {
            let size = ReadCap.humanize(bytes, base: human ? 1024 : 1000)
            s += quiet ? " \(size)" : ", Device Size: \(size)"
        }
        return s
    }

    /// 67108864 → "64 MiB" (base 1024) or "67 MB" (base 1000), one decimal when under 10.
    static func humanize(_ bytes: UInt64, base: Double) -> String {
        let units = base == 1024 ? ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"] : ["bytes", "kB", "MB", "GB", "TB", "PB", "EB"]
        var v = Double(bytes)
        var i = 0
        while v >= base && i < units.count - 1 { v /= base; i += 1 }
        if i == 0 { return "\(bytes) bytes" }
        let tenths = (v * 10).rounded()
        if tenths < 100 && tenths.truncatingRemainder(dividingBy: 10) != 0 {
            return "\(Int(tenths) / 10).\(Int(tenths) % 10) \(units[i])"
        }
        return "\(Int(v.rounded())) \(units[i])"
    }
}
