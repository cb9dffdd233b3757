#if canImport(Glibc)
import Glibc
#endif
import CAM
import CAMSystem
import SCSI

/// What a `file=` endpoint turned out to be (camdd(8)'s camdd_file_type).
public enum FileType: String, Sendable {
    case regular, blockDevice = "block-device", characterDevice = "character-device", fifo, standardStream = "standard-stream"
}

/// Settings that apply to both endpoints (camdd(8)'s -C, -E, -t, -v).
public struct IOSettings: Sendable, Equatable {
    /// Retries CAM may make for a failed pass command when `errorRecovery` is on (-C).
    public var retryCount: Int = 1
    /// CAM error recovery (CAM_PASS_ERR_RECOVER) for pass commands (-E).
    public var errorRecovery = false
    /// Time-out of each pass command (-t, in seconds there); zero or `CCB.infiniteTimeout`:
    /// none.
    public var timeout: Duration = CCB.defaultTimeout
    /// Print sense bytes and more on errors (-v).
    public var verbose = false

    public init() {}
}

/// An opened, probed input or output: a pass device through CAM or a file descriptor, with
/// the block size, depth, sector size and capacity the copy will use.
///
/// camdd(8)'s camdd_probe_pass and camdd_probe_file, with their defaults: pass block size
/// min(maxio, 1 MiB) in whole sectors (128 KiB when the SIM gives no maxio), depth 6; file
/// block size 512 KiB, depth 1.
public final class Endpoint: @unchecked Sendable {
    // @unchecked: everything is set in init; afterwards one worker thread at a time uses the
    // handle or descriptor (the engine hands the endpoint to its worker and takes it back at
    // the end by joining the thread).

    public let role: EndpointRole
    public let options: EndpointOptions
    /// The name statistics use: "pass0" for a pass device, the path (or "-") for a file.
    public let name: String
    /// Bytes per sector: the device's for pass and block devices, 1 for other files.
    public let sectorSize: Int
    /// Bytes from 0 to the end, when known (pass and block devices, input regular files).
    public let capacity: UInt64?
    /// Bytes per command.
    public let blockSize: Int
    /// Commands in flight at most.
    public let depth: Int
    /// Starting byte offset.
    public var offset: UInt64 { options.offset }
    /// Warnings from probing (ignored depth, and the like), for the tool to print.
    public private(set) var warnings: [String] = []

    // pass
    public let handle: PassHandle?
    // file
    let fd: Int32
    public let fileType: FileType?
    /// The output is the null device (/dev/null by any name): the copy discards its blocks
    /// without write calls, as sg_dd and ddpt do for of=/dev/null.
    public let isNullDevice: Bool
    let seekable: Bool
    /// Alignment O_DIRECT needs (0: not direct).
    let directAlignment: Int
    private let ownsDescriptor: Bool

    public var kind: EndpointKind { handle == nil ? .file : .pass }

    /// camdd(8)'s CAMDD_FILE_DEFAULT_BLOCK.
    public static let fileDefaultBlockSize = 512 * 1024
    /// camdd(8)'s CAMDD_PASS_MAX_BLOCK.
    public static let passMaximumDefaultBlockSize = 1024 * 1024
    /// camdd(8)'s CAMDD_PASS_DEFAULT_DEPTH.
    public static let passDefaultDepth = 6

    private init(role: EndpointRole, options: EndpointOptions, name: String, sectorSize: Int, capacity: UInt64?,
                 blockSize: Int, depth: Int, handle: PassHandle?, fd: Int32, fileType: FileType?,
                 seekable: Bool, directAlignment: Int, ownsDescriptor: Bool, warnings: [String],
                 isNullDevice: Bool = false) {
        self.role = role
        self.isNullDevice = isNullDevice
        self.options = options
        self.name = name
        self.sectorSize = sectorSize
        self.capacity = capacity
        self.blockSize = blockSize
        self.depth = depth
        self.handle = handle
        self.fd = fd
        self.fileType = fileType
        self.seekable = seekable
        self.directAlignment = directAlignment
        self.ownsDescriptor = ownsDescriptor
        self.warnings = warnings
    }

    deinit { close() }

    private var closed = false

    /// Closes the descriptor (not stdin/stdout) or the pass handle. Idempotent.
    public func close() {
        if closed { return }
        closed = true
        if ownsDescriptor, fd >= 0 { _ = Glibc.close(fd) }
        handle?.close()
    }

    // MARK: pass

    /// Probes an opened pass device as camdd_probe_pass does: the device type must be
    /// disk-like, READ CAPACITY(10) then (16) give the sector size and the last LBA, path
    /// inquiry gives maxio. Takes ownership of `handle` (closes it on failure too).
    public static func pass(_ handle: PassHandle, options: EndpointOptions, role: EndpointRole,
                            settings: IOSettings = IOSettings()) throws(CAMDDError) -> Endpoint {
        do {
            return try probePass(handle, options: options, role: role, settings: settings)
        } catch {
            handle.close()
            throw error
        }
    }

    private static func probePass(_ handle: PassHandle, options: EndpointOptions, role: EndpointRole,
                                  settings: IOSettings) throws(CAMDDError) -> Endpoint {
        let name = handle.name
        if let type = handle.deviceInfo?.peripheralType, !type.isBlockAddressed {
            throw CAMDDError(.unsupported, "Unsupported SCSI device type \(type.rawValue) (\(type.name)) on \(name): camdd copies to and from disk-like devices only")
        }
        let (lastLBA, blockLength) = try readCapacity(handle, settings: settings)
        guard blockLength > 0 else {
            throw CAMDDError(.probeFailed, "Sector size for \(name) is 0, cannot continue")
        }
        let sector = Int(blockLength)
        let capacity = (lastLBA &+ 1) &* UInt64(blockLength)
        let maxIO = handle.maxIO > 0 ? handle.maxIO : 131_072
        var blockSize = (min(maxIO, passMaximumDefaultBlockSize) / sector) * sector
        if let bs = options.blockSize {
            guard bs % UInt64(sector) == 0 else {
                throw CAMDDError(.badArgument, "Blocksize \(bs) for \(name) is not a multiple of sector size \(sector)")
            }
            guard bs <= UInt64(maxIO) else {
                throw CAMDDError(.badArgument, "Blocksize \(bs) for \(name) is larger than the largest transfer its bus takes (maxio \(maxIO)); use bs=\(ByteSize.format(UInt64((maxIO / sector) * sector))) or less")
            }
            blockSize = Int(bs)
        }
        guard blockSize > 0 else {
            throw CAMDDError(.probeFailed, "\(name): maxio \(maxIO) is smaller than one sector of \(sector) bytes")
        }
        if options.offset % UInt64(sector) != 0 {
            throw CAMDDError(.badArgument, "Offset \(options.offset) for \(name) is not a multiple of the sector size \(sector)")
        }
        if options.offset >= capacity {
            throw CAMDDError(.badArgument, "Offset \(options.offset) is past the end of device \(name) (\(capacity) bytes, \(lastLBA &+ 1) sectors of \(sector))")
        }
        return Endpoint(role: role, options: options, name: name, sectorSize: sector, capacity: capacity,
                        blockSize: blockSize, depth: options.depth ?? passDefaultDepth, handle: handle, fd: -1,
                        fileType: nil, seekable: true, directAlignment: 0, ownsDescriptor: false, warnings: [])
    }

    /// READ CAPACITY(10), and (16) when the last LBA does not fit 32 bits: (last LBA, block length).
    static func readCapacity(_ handle: PassHandle, settings: IOSettings) throws(CAMDDError) -> (UInt64, UInt32) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 32, alignment: 8)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        let ccb = CCB()
        // camdd(8) probes with recovery, 3 retries and 5 s: a unit attention after power-on is normal.
        ccb.flags.insert(.errorRecovery)
        ccb.retryCount = 3
        func run(_ cdb: CDB, length: Int) throws(CAMDDError) {
            ccb.setSCSI(cdb: cdb, data: .buffer(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<length])),
                        direction: .in, timeout: .seconds(5))
            do {
                try handle.execute(ccb)
            } catch {
                throw CAMDDError(.probeFailed, "error sending \(cdb.commandName) to \(handle.name): \(error)")
            }
            guard ccb.status == .requestComplete else {
                let r = ErrorReport.lines(for: ccb, on: handle, verbose: settings.verbose)
                throw CAMDDError(.probeFailed, (r.detail + ["Unable to probe device \(handle.name): \(r.summary)"]).joined(separator: "\n"))
            }
        }
        try run(CDB.readCapacity10(), length: 8)
        guard let cap10 = ReadCapacity10(UnsafeRawBufferPointer(rebasing: buffer[0..<8])) else {
            throw CAMDDError(.probeFailed, "Unable to probe device \(handle.name): short READ CAPACITY(10) data")
        }
        guard cap10.needsReadCapacity16 else { return (UInt64(cap10.lastLBA), cap10.blockLength) }
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        try run(CDB.readCapacity16(), length: 32)
        guard let cap16 = ReadCapacity16(UnsafeRawBufferPointer(buffer)) else {
            throw CAMDDError(.probeFailed, "Unable to probe device \(handle.name): short READ CAPACITY(16) data")
        }
        return (cap16.lastLBA, cap16.blockLength)
    }

    // MARK: file

    /// Opens and probes a `file=` endpoint as camdd_probe_file does. An output is opened
    /// O_WRONLY|O_CREAT and not truncated unless `trunc` was given; "-" is stdin or stdout.
    public static func file(_ options: EndpointOptions, role: EndpointRole) throws(CAMDDError) -> Endpoint {
        let name = options.name
        var warnings: [String] = []
        // depth= is kept for reads of regular files and block devices (FileReadPool), and
        // ignored with FreeBSD's warning everywhere else (below, once the type is known).
        var depthWarning: String?
        if let d = options.depth, d != 1 {
            depthWarning = "Queue depth \(d) for \(name) ignored, only 1 outstanding command supported"
        }
        let blockSize = Int(options.blockSize ?? UInt64(fileDefaultBlockSize))

        if name == "-" {
            if let depthWarning { warnings.append(depthWarning) }
            if options.offset != 0 {
                throw CAMDDError(.unsupported, "Offset \(options.offset) specified for -, but we cannot seek on standard \(role == .input ? "input" : "output")")
            }
            if options.direct {
                throw CAMDDError(.unsupported, "direct (O_DIRECT) needs a regular file or a block device, not standard \(role == .input ? "input" : "output")")
            }
            return Endpoint(role: role, options: options, name: name, sectorSize: 1, capacity: nil, blockSize: blockSize,
                            depth: 1, handle: nil, fd: role == .input ? 0 : 1, fileType: .standardStream,
                            seekable: false, directAlignment: 0, ownsDescriptor: false, warnings: warnings)
        }

        var flags: Int32 = O_CLOEXEC
        if role == .input {
            flags |= O_RDONLY
        } else {
            flags |= O_WRONLY | O_CREAT
            if options.truncate { flags |= O_TRUNC }
        }
        var fd: Int32 = -1
        while true {
            fd = Glibc.open(name, flags, 0o666)
            if fd >= 0 || errno != EINTR { break }
        }
        if fd < 0 {
            let e = errno
            throw CAMDDError(.openFailed, "error opening file \(name): \(errnoText(e))", errno: e)
        }
        var ok = false
        defer { if !ok { _ = Glibc.close(fd) } }

        var st = stat()
        if fstat(fd, &st) != 0 {
            let e = errno
            throw CAMDDError(.openFailed, "Cannot stat \(name): \(errnoText(e))", errno: e)
        }
        let type: FileType
        switch st.st_mode & S_IFMT {
        case S_IFREG: type = .regular
        case S_IFBLK: type = .blockDevice
        case S_IFCHR: type = .characterDevice
        case S_IFIFO, S_IFSOCK: type = .fifo
        case S_IFDIR: throw CAMDDError(.unsupported, "cannot operate on directory \(name)")
        default: throw CAMDDError(.unsupported, "Cannot determine file type for \(name)")
        }

        var sector = 1
        var capacity: UInt64?
        var seekable = false
        switch type {
        case .regular:
            seekable = true
            if role == .input { capacity = UInt64(st.st_size) }
        case .blockDevice:
            seekable = true
            let s: UInt32
            do throws(SystemError) { s = try BlockDevice.logicalBlockSize(fd, on: name) } catch {
                throw CAMDDError(.probeFailed, "BLKSSZGET ioctl failed on \(name): \(errnoText(error.errno))", errno: error.errno)
            }
            guard s > 0 else { throw CAMDDError(.probeFailed, "BLKSSZGET ioctl returned invalid sector size 0 for \(name)") }
            let size: UInt64
            do throws(SystemError) { size = try BlockDevice.byteCount(fd, on: name) } catch {
                throw CAMDDError(.probeFailed, "BLKGETSIZE64 ioctl failed on \(name): \(errnoText(error.errno))", errno: error.errno)
            }
            guard size > 0 else { throw CAMDDError(.probeFailed, "BLKGETSIZE64 ioctl returned invalid media size 0 for \(name)") }
            sector = Int(s)
            capacity = size
            if blockSize % sector != 0 {
                throw CAMDDError(.badArgument, "\(name) blocksize \(blockSize) not a multiple of sector size \(sector)")
            }
            if options.offset % UInt64(sector) != 0 {
                throw CAMDDError(.badArgument, "Offset \(options.offset) for \(name) is not a multiple of the sector size \(sector)")
            }
        case .characterDevice, .fifo, .standardStream:
            seekable = false
        }

        if options.offset != 0 && !seekable {
            throw CAMDDError(.unsupported, "Offset \(options.offset) specified for \(name), but we cannot seek on \(name)")
        }
        if let cap = capacity {
            let past = type == .regular ? options.offset > cap : options.offset >= cap
            if past {
                throw CAMDDError(.badArgument, "Offset \(options.offset) is past the end of \(type == .regular ? "file" : "device") \(name) (\(cap) bytes)")
            }
        }

        var alignment = 0
        if options.direct {
            guard type == .regular || type == .blockDevice else {
                throw CAMDDError(.unsupported, "direct (O_DIRECT) needs a regular file or a block device; \(name) is a \(type.rawValue)")
            }
            // O_DIRECT wants buffers, lengths and offsets in whole logical blocks; 4 KiB is
            // safe for any file system, a block device says its own.
            alignment = type == .blockDevice ? max(sector, 512) : 4096
            if blockSize % alignment != 0 || options.offset % UInt64(alignment) != 0 {
                throw CAMDDError(.badArgument, "direct I/O on \(name) needs bs= and offset= in multiples of \(alignment) (bs=\(blockSize), offset=\(options.offset))")
            }
            let fl = fcntl(fd, F_GETFL)
            if fl < 0 || fcntl(fd, F_SETFL, fl | OpenFlags.direct) != 0 {
                let e = errno
                throw CAMDDError(.unsupported, "cannot turn on O_DIRECT for \(name): \(errnoText(e))", errno: e)
            }
        }
        var depth = 1
        if let d = options.depth, d != 1 {
            if role == .input && (type == .regular || type == .blockDevice) {
                depth = d
            } else if let depthWarning {
                warnings.append(depthWarning + (role == .input ? " (only regular files and block devices read with depth)" : " (file outputs write one command at a time)"))
            }
        }
        var null = stat()
        let isNull = type == .characterDevice && stat("/dev/null", &null) == 0
            && null.st_mode & S_IFMT == S_IFCHR && null.st_rdev == st.st_rdev
        ok = true
        return Endpoint(role: role, options: options, name: name, sectorSize: sector, capacity: capacity,
                        blockSize: blockSize, depth: depth, handle: nil, fd: fd, fileType: type, seekable: seekable,
                        directAlignment: alignment, ownsDescriptor: true, warnings: warnings,
                        isNullDevice: isNull)
    }

    /// Whether a partial last block written here is padded with zeros to a whole sector
    /// (pass devices and block devices).
    var padsLastBlock: Bool { sectorSize > 1 }
}
