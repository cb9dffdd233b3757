#if canImport(Glibc)
import Glibc
#endif
import CAM
import CCAMSystem

/// A command time-out as the sg driver takes it (sg_io_hdr.timeout, in milliseconds).
///
/// 0 does not mean "no time-out" in sg: it means the device's default (the request queue's
/// rq_timeout, `/sys/class/scsi_device/H:C:T:L/device/timeout`, 30 s unless changed). Waiting
/// forever is UINT_MAX. A CCB has no "device default": its zero and `CCB.infiniteTimeout` both
/// mean no time-out (CAM_TIME_INFINITY), so they become UINT_MAX here, and any other CAM
/// time-out becomes milliseconds, rounded up; `init(camNanoseconds:)` says so in one place.
public enum SGTimeout: Sendable, Equatable, CustomStringConvertible {
    /// The device's default (sg_io_hdr.timeout 0).
    case deviceDefault
    /// No time-out (sg_io_hdr.timeout UINT_MAX).
    case none
    /// This many milliseconds, 1 through UINT_MAX - 1.
    case milliseconds(UInt32)

    /// From a CCB's time-out (`CCB.timeoutNanoseconds`; `CCB.noTimeout` is CAM_TIME_INFINITY).
    package init(camNanoseconds ns: UInt64) {
        if ns == CCB.noTimeout { self = .none; return }
        let ms = ns / 1_000_000 + (ns % 1_000_000 == 0 ? 0 : 1)
        self = .milliseconds(UInt32(clamping: ms))
    }

    /// The value for sg_io_hdr.timeout.
    public var rawValue: UInt32 {
        switch self {
        case .deviceDefault: return CCAMSYSTEM_TIMEOUT_DEVICE_DEFAULT
        case .none: return CCAMSYSTEM_TIMEOUT_NONE
        // A caller's 0 must not turn into "the device's default", nor UINT_MAX into "never".
        case .milliseconds(let ms): return min(max(ms, 1), CCAMSYSTEM_TIMEOUT_NONE - 1)
        }
    }

    public var description: String {
        switch self {
        case .deviceDefault: return "device default"
        case .none: return "none"
        case .milliseconds(let ms): return "\(ms) ms"
        }
    }
}

/// Data direction of an sg command (sg_io_hdr.dxfer_direction).
public enum SGDirection: Sendable {
    /// SG_DXFER_NONE.
    case none
    /// SG_DXFER_FROM_DEV: data moves from the device into memory.
    case fromDevice
    /// SG_DXFER_TO_DEV.
    case toDevice

    var rawValue: Int32 {
        switch self {
        case .none: return SG_DXFER_NONE
        case .fromDevice: return SG_DXFER_FROM_DEV
        case .toDevice: return SG_DXFER_TO_DEV
        }
    }
}

/// sg_io_hdr.flags.
public struct SGFlags: OptionSet, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// SG_FLAG_DIRECT_IO: map the user's pages instead of copying (when the driver's
    /// allow_dio parameter permits; otherwise silently indirect).
    public static let directIO = SGFlags(rawValue: UInt32(SG_FLAG_DIRECT_IO))
    /// SG_FLAG_Q_AT_TAIL: queue at the tail of the device's queue. The driver's default is the
    /// head, which reorders a stream of commands; CAM's ordering wants the tail.
    public static let queueAtTail = SGFlags(rawValue: UInt32(CCAMSYSTEM_SG_FLAG_Q_AT_TAIL))
    /// SG_FLAG_Q_AT_HEAD: the head, explicitly.
    public static let queueAtHead = SGFlags(rawValue: UInt32(CCAMSYSTEM_SG_FLAG_Q_AT_HEAD))
    /// SG_FLAG_MMAP_IO: the data is the descriptor's mmap-ed reserved buffer (dxferp ignored).
    public static let mmapIO = SGFlags(rawValue: UInt32(CCAMSYSTEM_SG_FLAG_MMAP_IO))
    /// SG_FLAG_NO_DXFER: no copy between the kernel's buffers and user memory.
    public static let noDataTransfer = SGFlags(rawValue: UInt32(CCAMSYSTEM_SG_FLAG_NO_DXFER))
}

/// One command for the sg driver's v3 interface: an `sg_io_hdr` being filled in.
///
/// The header itself is copied by the kernel when the command starts, but the memory it
/// points to is not: the CDB must stay valid until `SGDescriptor.start` returns, and the data
/// buffers, the S/G array and the sense buffer until the command is collected. The request
/// owns none of it, so it allocates nothing.
public struct SGRequest {
    /// The header as it will be written.
    public var header: sg_io_hdr

    /// A request for `cdb` (6 to 252 bytes) with no data, sense into `sense` (at most 255
    /// bytes are used), and the cookies the driver hands back unchanged: `packID` and
    /// `userPointer`.
    public init(cdb: UnsafeRawBufferPointer, sense: UnsafeMutableRawBufferPointer, timeout: SGTimeout,
                packID: Int32 = -1, userPointer: UnsafeMutableRawPointer? = nil, flags: SGFlags = .queueAtTail) {
        header = sg_io_hdr()
        header.interface_id = Int32(UInt8(ascii: "S"))
        header.dxfer_direction = SG_DXFER_NONE
        header.cmd_len = UInt8(truncatingIfNeeded: cdb.count)
        // The driver takes a CDB pointer to read from; it never writes through it.
        header.cmdp = UnsafeMutablePointer(mutating: cdb.baseAddress?.assumingMemoryBound(to: UInt8.self))
        header.mx_sb_len = UInt8(min(sense.count, 255))
        header.sbp = sense.baseAddress?.assumingMemoryBound(to: UInt8.self)
        header.timeout = timeout.rawValue
        header.flags = flags.rawValue
        header.pack_id = packID
        header.usr_ptr = userPointer
    }

    /// One data buffer.
    public mutating func setData(_ buffer: UnsafeMutableRawBufferPointer, direction: SGDirection) {
        header.dxfer_direction = buffer.isEmpty ? SG_DXFER_NONE : direction.rawValue
        header.dxferp = buffer.baseAddress
        header.dxfer_len = UInt32(buffer.count)
        header.iovec_count = 0
    }

    /// A scatter/gather list (iovec_count): `segments` laid out as `struct iovec`, which is
    /// `sg_iovec_t`'s layout; `totalLength` bytes in all.
    public mutating func setData(segments: UnsafeMutableBufferPointer<iovec>, totalLength: Int, direction: SGDirection) {
        header.dxfer_direction = totalLength == 0 ? SG_DXFER_NONE : direction.rawValue
        header.dxferp = UnsafeMutableRawPointer(segments.baseAddress)
        header.dxfer_len = UInt32(totalLength)
        header.iovec_count = UInt16(segments.count)
    }
}

/// A collected command: the output fields of the `sg_io_hdr` that `read` returned.
public struct SGCompletion: Sendable, Equatable, CustomStringConvertible {
    /// The request's pack_id, unchanged.
    public var packID: Int32
    /// The request's usr_ptr, unchanged, as a bit pattern (0 for none).
    public var userPointer: UInt
    /// SCSI status byte (SAM values: 0x02 CHECK CONDITION).
    public var scsiStatus: UInt8
    /// Bytes of sense the driver wrote into the request's sense buffer.
    public var senseLength: Int
    /// The midlayer's host byte (DID_*).
    public var hostStatus: UInt16
    /// The midlayer's driver byte (DRIVER_*).
    public var driverStatus: UInt16
    /// Bytes not transferred (dxfer_len less what moved, as the low-level driver reports it).
    public var residual: Int32
    /// Time from start to completion, as the driver measured it (to the millisecond).
    public var duration: Duration { .milliseconds(durationMilliseconds) }
    /// `duration` as the driver gives it (sg_io_hdr.duration).
    package var durationMilliseconds: UInt32
    /// SG_INFO_* bits.
    public var info: UInt32

    public init(_ h: sg_io_hdr) {
        packID = h.pack_id
        userPointer = UInt(bitPattern: h.usr_ptr)
        scsiStatus = h.status
        senseLength = Int(h.sb_len_wr)
        hostStatus = h.host_status
        driverStatus = h.driver_status
        residual = h.resid
        durationMilliseconds = h.duration
        info = h.info
    }

    /// SG_INFO_OK: no sense, host or driver status.
    public var isOK: Bool { info & UInt32(SG_INFO_OK_MASK) == UInt32(SG_INFO_OK) }

    /// The host status by its kernel name ("DID_TIME_OUT").
    public var hostStatusName: String { SGHostStatus.name(hostStatus) }

    /// The driver status by its kernel name ("DRIVER_SENSE").
    public var driverStatusName: String { SGDriverStatus.name(driverStatus) }

    public var description: String {
        "pack_id \(packID): status 0x\(String(scsiStatus, radix: 16)), host \(hostStatusName), "
            + "driver \(driverStatusName), sense \(senseLength) bytes, resid \(residual), \(durationMilliseconds) ms"
    }
}

/// The host status codes (the kernel's `enum host_status`, DID_*).
public enum SGHostStatus {
    public static let ok = UInt16(CCAMSYSTEM_DID_OK)
    public static let noConnect = UInt16(CCAMSYSTEM_DID_NO_CONNECT)
    public static let busBusy = UInt16(CCAMSYSTEM_DID_BUS_BUSY)
    public static let timeOut = UInt16(CCAMSYSTEM_DID_TIME_OUT)
    public static let badTarget = UInt16(CCAMSYSTEM_DID_BAD_TARGET)
    public static let abort = UInt16(CCAMSYSTEM_DID_ABORT)
    public static let parity = UInt16(CCAMSYSTEM_DID_PARITY)
    public static let error = UInt16(CCAMSYSTEM_DID_ERROR)
    public static let reset = UInt16(CCAMSYSTEM_DID_RESET)
    public static let badInterrupt = UInt16(CCAMSYSTEM_DID_BAD_INTR)
    public static let passThrough = UInt16(CCAMSYSTEM_DID_PASSTHROUGH)
    public static let softError = UInt16(CCAMSYSTEM_DID_SOFT_ERROR)
    public static let immediateRetry = UInt16(CCAMSYSTEM_DID_IMM_RETRY)
    public static let requeue = UInt16(CCAMSYSTEM_DID_REQUEUE)
    public static let transportDisrupted = UInt16(CCAMSYSTEM_DID_TRANSPORT_DISRUPTED)
    public static let transportFailfast = UInt16(CCAMSYSTEM_DID_TRANSPORT_FAILFAST)
    public static let targetFailure = UInt16(CCAMSYSTEM_DID_TARGET_FAILURE)
    public static let nexusFailure = UInt16(CCAMSYSTEM_DID_NEXUS_FAILURE)
    public static let allocFailure = UInt16(CCAMSYSTEM_DID_ALLOC_FAILURE)
    public static let mediumError = UInt16(CCAMSYSTEM_DID_MEDIUM_ERROR)
    public static let transportMarginal = UInt16(CCAMSYSTEM_DID_TRANSPORT_MARGINAL)

    private static let names = [
        "DID_OK", "DID_NO_CONNECT", "DID_BUS_BUSY", "DID_TIME_OUT", "DID_BAD_TARGET", "DID_ABORT",
        "DID_PARITY", "DID_ERROR", "DID_RESET", "DID_BAD_INTR", "DID_PASSTHROUGH", "DID_SOFT_ERROR",
        "DID_IMM_RETRY", "DID_REQUEUE", "DID_TRANSPORT_DISRUPTED", "DID_TRANSPORT_FAILFAST",
        "DID_TARGET_FAILURE", "DID_NEXUS_FAILURE", "DID_ALLOC_FAILURE", "DID_MEDIUM_ERROR",
        "DID_TRANSPORT_MARGINAL",
    ]

    /// "DID_TIME_OUT", or "DID_0x42" for a code this table does not know.
    public static func name(_ code: UInt16) -> String {
        Int(code) < names.count ? names[Int(code)] : "DID_0x" + String(code, radix: 16)
    }
}

/// The driver status codes (DRIVER_*, the low nibble of sg_io_hdr.driver_status).
public enum SGDriverStatus {
    public static let ok = UInt16(CCAMSYSTEM_DRIVER_OK)
    public static let busy = UInt16(CCAMSYSTEM_DRIVER_BUSY)
    public static let soft = UInt16(CCAMSYSTEM_DRIVER_SOFT)
    public static let media = UInt16(CCAMSYSTEM_DRIVER_MEDIA)
    public static let error = UInt16(CCAMSYSTEM_DRIVER_ERROR)
    public static let invalid = UInt16(CCAMSYSTEM_DRIVER_INVALID)
    public static let timeout = UInt16(CCAMSYSTEM_DRIVER_TIMEOUT)
    public static let hard = UInt16(CCAMSYSTEM_DRIVER_HARD)
    public static let sense = UInt16(CCAMSYSTEM_DRIVER_SENSE)

    private static let names = [
        "DRIVER_OK", "DRIVER_BUSY", "DRIVER_SOFT", "DRIVER_MEDIA", "DRIVER_ERROR", "DRIVER_INVALID",
        "DRIVER_TIMEOUT", "DRIVER_HARD", "DRIVER_SENSE",
    ]

    /// "DRIVER_SENSE"; the suggestion nibble of old kernels is ignored.
    public static func name(_ code: UInt16) -> String {
        let low = Int(code & UInt16(CCAMSYSTEM_DRIVER_MASK))
        return low < names.count ? names[low] : "DRIVER_0x" + String(code, radix: 16)
    }
}
