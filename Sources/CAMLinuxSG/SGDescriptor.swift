#if canImport(Glibc)
import Glibc
#endif
import CCAMSystem
import SCSI

/// An open `/dev/sgN`: the sg driver's asynchronous v3 interface, the Linux counterpart of
/// pass(4)'s CAMIOQUEUE (`start`, a write(2) of an `sg_io_hdr`) and CAMIOGET (`collect`, a
/// read(2) of one).
///
/// Opened O_RDWR | O_NONBLOCK | O_CLOEXEC: `collect` never waits, and the descriptor polls
/// readable while a completed command waits to be read (POLLHUP once the device is gone).
/// The driver keeps at most `maxOutstanding` commands per descriptor, counting completed ones
/// not yet read; `start` throws `.queueFull` (EDOM) beyond. Calls from several threads at once
/// are safe (the driver locks per descriptor); the descriptor closes when the value goes away.
public struct SGDescriptor: ~Copyable, Sendable {
    /// Commands a descriptor may have started and not yet collected (SG_MAX_QUEUE).
    public static let maxOutstanding = Int(CCAMSYSTEM_SG_MAX_QUEUE)

    /// The file descriptor, for epoll. Owned by this value: do not close it.
    public let fd: Int32
    /// The device's path, for messages.
    public let path: String
    /// The driver's version (SG_GET_VERSION_NUM: 30536 is 3.5.36).
    public let driverVersion: Int

    /// Opens `path` and checks that the sg driver is behind it (a version of 3.0 or later).
    public init(path: String) throws(LinuxSGError) {
        let fd = try SGSystem.open(path, flags: O_RDWR | O_NONBLOCK | O_CLOEXEC)
        var version: Int32 = 0
        do {
            _ = try SGSystem.ioctl(fd, SG_GET_VERSION_NUM, "SG_GET_VERSION_NUM", &version, on: path)
        } catch {
            SGSystem.close(fd)
            if error.errno == ENOTTY || error.errno == EINVAL {
                throw LinuxSGError(.notSGDevice, "\(path) is not a SCSI generic (sg) device: SG_GET_VERSION_NUM failed", errno: error.errno)
            }
            throw error
        }
        guard version >= 30000 else {
            SGSystem.close(fd)
            throw LinuxSGError(.notSGDevice, "\(path): sg driver version \(version) lacks the v3 interface (3.0 or later is needed)")
        }
        self.fd = fd
        self.path = path
        self.driverVersion = Int(version)
    }

    deinit { SGSystem.close(fd) }

    // MARK: commands

    /// Starts a command (write(2) of its `sg_io_hdr`). Returns at once. Throws `.queueFull`
    /// with `maxOutstanding` commands outstanding, `.deviceGone` once the device is gone.
    public func start(_ request: inout SGRequest) throws(LinuxSGError) {
        let size = MemoryLayout<sg_io_hdr>.size
        let written = try withUnsafePointer(to: &request.header) { (p) throws(LinuxSGError) -> Int? in
            try SGSystem.write(fd, p, size, on: path)
        }
        // sg's write never blocks for the v3 interface; EAGAIN would mean no request slot.
        guard let written else { throw LinuxSGError.system("write", EAGAIN, on: path) }
        guard written == size else {
            throw LinuxSGError(.systemCall, "write on \(path): \(written) of \(size) bytes of sg_io_hdr taken")
        }
    }

    /// Collects one completed command (read(2) of an `sg_io_hdr`): its data is in the
    /// request's buffers and its sense in the request's sense buffer when this returns. Returns
    /// nil when none is complete.
    ///
    /// After the device is removed the descriptor polls POLLHUP, commands that were in flight
    /// still complete and are collected here, and then this keeps returning nil: a
    /// non-blocking read never reports ENODEV (only `start` does), so the caller ends its wait
    /// for what is left on its own.
    public func collect() throws(LinuxSGError) -> SGCompletion? {
        try collect(packID: -1)
    }

    /// Collects the command with `packID` only, when `setForcePackID(true)` is on (-1: any).
    public func collect(packID: Int32) throws(LinuxSGError) -> SGCompletion? {
        var header = sg_io_hdr()
        header.interface_id = Int32(UInt8(ascii: "S"))
        // With SG_SET_FORCE_PACK_ID the driver looks at the buffer as the old sg_header first:
        // only a negative second int (its reply_len, our dxfer_direction) makes it take
        // pack_id from the sg_io_hdr; otherwise it reads a pack_id of 0 from the wrong field.
        header.dxfer_direction = SG_DXFER_NONE
        header.pack_id = packID
        return try collect(into: &header) ? SGCompletion(header) : nil
    }

    /// `collect` into a caller's header, for callers that want every field. False: none ready.
    /// For a pack_id of the caller's choice, set interface_id 'S', dxfer_direction
    /// SG_DXFER_NONE and pack_id first (see `collect(packID:)`).
    public func collect(into header: inout sg_io_hdr) throws(LinuxSGError) -> Bool {
        let size = MemoryLayout<sg_io_hdr>.size
        let n = try withUnsafeMutablePointer(to: &header) { (p) throws(LinuxSGError) -> Int? in
            try SGSystem.read(fd, p, size, on: path)
        }
        guard let n else { return false }
        guard n == size else {
            throw LinuxSGError(.systemCall, "read on \(path): \(n) of \(size) bytes of sg_io_hdr returned")
        }
        return true
    }

    /// True once the device is going or gone: the driver marks the descriptor hung up
    /// (POLLHUP) as soon as the SCSI device starts to be removed, before the commands that
    /// were in flight have all come back.
    public var isHungUp: Bool {
        let revents = (try? SGSystem.pollNow(fd, events: Int16(POLLIN), on: path)) ?? Int16(POLLERR)
        return revents & Int16(POLLHUP | POLLERR) != 0
    }

    // MARK: ioctls

    /// Where the device is (SG_GET_SCSI_ID).
    public func scsiID() throws(LinuxSGError) -> SGSCSIID {
        var id = sg_scsi_id()
        _ = try SGSystem.ioctl(fd, SG_GET_SCSI_ID, "SG_GET_SCSI_ID", &id, on: path)
        return SGSCSIID(id)
    }

    /// Completed commands waiting to be collected (SG_GET_NUM_WAITING).
    public func waitingCount() throws(LinuxSGError) -> Int {
        try getInt(SG_GET_NUM_WAITING, "SG_GET_NUM_WAITING")
    }

    /// Open descriptors on the device, all processes (SG_GET_ACCESS_COUNT).
    public func accessCount() throws(LinuxSGError) -> Int {
        try getInt(CCAMSYSTEM_SG_GET_ACCESS_COUNT, "SG_GET_ACCESS_COUNT")
    }

    /// The descriptor's reserved buffer, used by one command at a time (SG_GET_RESERVED_SIZE).
    public func reservedSize() throws(LinuxSGError) -> Int {
        try getInt(SG_GET_RESERVED_SIZE, "SG_GET_RESERVED_SIZE")
    }

    /// Asks for a reserved buffer of `bytes` (SG_SET_RESERVED_SIZE); the driver may give less.
    public func setReservedSize(_ bytes: Int) throws(LinuxSGError) {
        try setInt(SG_SET_RESERVED_SIZE, "SG_SET_RESERVED_SIZE", Int32(clamping: bytes))
    }

    /// Command queuing on the descriptor (SG_SET_COMMAND_Q). The v3 interface turns it on
    /// with the first `sg_io_hdr` written; this makes it explicit.
    public func setCommandQueueing(_ on: Bool) throws(LinuxSGError) {
        try setInt(SG_SET_COMMAND_Q, "SG_SET_COMMAND_Q", on ? 1 : 0)
    }

    /// With true, `collect` returns only the command whose pack_id the reader names
    /// (SG_SET_FORCE_PACK_ID); `collect()` with -1 still takes any.
    public func setForcePackID(_ on: Bool) throws(LinuxSGError) {
        try setInt(SG_SET_FORCE_PACK_ID, "SG_SET_FORCE_PACK_ID", on ? 1 : 0)
    }

    /// With true, a command whose descriptor closes first is kept for reading (SG_SET_KEEP_ORPHAN).
    public func setKeepOrphan(_ on: Bool) throws(LinuxSGError) {
        try setInt(SG_SET_KEEP_ORPHAN, "SG_SET_KEEP_ORPHAN", on ? 1 : 0)
    }

    /// What the descriptor has outstanding (SG_GET_REQUEST_TABLE): started and completed
    /// commands not yet collected.
    public func requestTable() throws(LinuxSGError) -> [SGRequestInfo] {
        let rows = Int(CCAMSYSTEM_SG_REQUEST_TABLE_ROWS)
        let table = UnsafeMutableBufferPointer<sg_req_info>.allocate(capacity: rows)
        defer { table.deallocate() }
        table.initialize(repeating: sg_req_info())
        _ = try SGSystem.ioctl(fd, SG_GET_REQUEST_TABLE, "SG_GET_REQUEST_TABLE", UnsafeMutableRawPointer(table.baseAddress!), on: path)
        return table.filter { $0.req_state != 0 }.map(SGRequestInfo.init)
    }

    /// Resets (SG_SCSI_RESET). sg has no per-command abort: this is what there is. With
    /// `escalate` false, only that reset is tried (SG_SCSI_RESET_NO_ESCALATE).
    public func reset(_ kind: SGResetKind, escalate: Bool = false) throws(LinuxSGError) {
        var value = kind.rawValue
        if !escalate && kind != .nothing { value |= CCAMSYSTEM_SG_SCSI_RESET_NO_ESCALATE }
        _ = try SGSystem.ioctl(fd, SG_SCSI_RESET, "SG_SCSI_RESET(\(kind))", &value, on: path)
    }

    private func getInt(_ request: Int32, _ name: String) throws(LinuxSGError) -> Int {
        var value: Int32 = 0
        _ = try SGSystem.ioctl(fd, request, name, &value, on: path)
        return Int(value)
    }

    private func setInt(_ request: Int32, _ name: String, _ value: Int32) throws(LinuxSGError) {
        var v = value
        _ = try SGSystem.ioctl(fd, request, name, &v, on: path)
    }
}

/// A device's address and type as the sg driver gives them (struct sg_scsi_id).
public struct SGSCSIID: Sendable, Equatable {
    /// H:C:T:L: host (the `scsi_host` number), channel, target (scsi_id), LUN.
    public var host: Int
    public var channel: Int
    public var target: Int
    public var lun: Int
    /// SCSI peripheral device type (direct access, sequential access, CD-ROM...).
    public var type: PeripheralDeviceType
    /// The host's commands per LUN and the device's queue depth.
    public var hostCommandsPerLUN: Int
    public var queueDepth: Int

    init(_ id: sg_scsi_id) {
        host = Int(id.host_no)
        channel = Int(id.channel)
        target = Int(id.scsi_id)
        lun = Int(id.lun)
        type = PeripheralDeviceType(rawValue: UInt8(truncatingIfNeeded: id.scsi_type))
        hostCommandsPerLUN = Int(id.h_cmd_per_lun)
        queueDepth = Int(id.d_queue_depth)
    }
}

/// One outstanding command as SG_GET_REQUEST_TABLE lists it (struct sg_req_info).
public struct SGRequestInfo: Sendable, Equatable {
    /// True once complete and waiting to be collected (req_state 2), false while started (1).
    public var isComplete: Bool
    /// True for a command whose SG_IO caller was interrupted.
    public var isOrphan: Bool
    /// True when the driver noted an error to report.
    public var hasProblem: Bool
    public var packID: Int32
    public var userPointer: UInt
    /// Time since it started (started) or its duration (complete).
    public var duration: Duration { .milliseconds(durationMilliseconds) }
    /// `duration` as the driver gives it (sg_req_info.duration).
    package var durationMilliseconds: UInt32

    init(_ r: sg_req_info) {
        isComplete = r.req_state == 2
        isOrphan = r.orphan != 0
        hasProblem = r.problem != 0
        packID = r.pack_id
        userPointer = UInt(bitPattern: r.usr_ptr)
        durationMilliseconds = r.duration
    }
}

/// What SG_SCSI_RESET resets, least disruptive first.
public enum SGResetKind: Int32, Sendable, CustomStringConvertible {
    /// Reports whether a reset is in progress, resets nothing.
    case nothing = 0
    /// The LUN (a LOGICAL UNIT RESET through the host's eh_device_reset_handler).
    case device = 1
    /// The target (I_T nexus), all its LUNs.
    case target = 4
    /// The bus, every device on it.
    case bus = 2
    /// The host adapter.
    case host = 3

    public var description: String {
        switch self {
        case .nothing: return "SG_SCSI_RESET_NOTHING"
        case .device: return "SG_SCSI_RESET_DEVICE"
        case .target: return "SG_SCSI_RESET_TARGET"
        case .bus: return "SG_SCSI_RESET_BUS"
        case .host: return "SG_SCSI_RESET_HOST"
        }
    }
}
