#if canImport(Glibc)
import Glibc
#endif
import CAM
import SCSI

/// Which way a command's data moves.
public enum ISCSIDirection: Sendable {
    case none
    /// From the target into the buffers (DATA-IN).
    case `in`
    /// From the buffers to the target (DATA-OUT).
    case out
}

/// One request to a session: a SCSI command, or a LUN RESET.
///
/// The data stays where the caller has it: libiscsi reads and writes the segments directly
/// (`scsi_task_set_iov_in` / `_out`), so the memory must stay valid and untouched until the
/// completion comes back. The segment list itself is copied at `submit`.
public struct ISCSIRequest {
    public enum Kind: Sendable {
        /// A SCSI command (iSCSI SCSI Command PDU).
        case command
        /// LOGICAL UNIT RESET task management (RFC 7143 11.5.1, function 5).
        case lunReset
    }

    public var kind: Kind
    public var lun: UInt64
    /// At most 16 bytes: libiscsi does not send additional CDB segments.
    public var cdb: CDB
    public var direction: ISCSIDirection
    /// The data, as `iovec`s (caller-owned memory; see the type's note).
    public var segments: UnsafeBufferPointer<iovec>
    /// How long until the command is given up (and aborted at the target); zero or
    /// `CCB.infiniteTimeout`: never (reads back as `CCB.infiniteTimeout`).
    public var timeout: Duration {
        get { timeoutNanoseconds == CCB.noTimeout ? CCB.infiniteTimeout : .nanoseconds(timeoutNanoseconds) }
        set { timeoutNanoseconds = CCB.nanoseconds(newValue) }
    }
    /// `timeout` as the session keeps it (`CCB.timeoutNanoseconds`'s convention).
    package var timeoutNanoseconds: UInt64
    /// Yours: comes back in the completion.
    public var tag: UInt64
    /// Yours too (a CCB): kept alive until the completion, returned unchanged.
    public var context: AnyObject?

    public init(lun: UInt64, cdb: CDB, direction: ISCSIDirection = .none,
                segments: UnsafeBufferPointer<iovec> = UnsafeBufferPointer(start: nil, count: 0),
                timeout: Duration = .seconds(30), tag: UInt64 = 0, context: AnyObject? = nil) {
        self.init(lun: lun, cdb: cdb, direction: direction, segments: segments,
                  timeoutNanoseconds: CCB.nanoseconds(timeout), tag: tag, context: context)
    }

    /// A request with its time-out as a CCB carries it (what the SIM uses per command).
    package init(lun: UInt64, cdb: CDB, direction: ISCSIDirection = .none,
                 segments: UnsafeBufferPointer<iovec> = UnsafeBufferPointer(start: nil, count: 0),
                 timeoutNanoseconds: UInt64, tag: UInt64 = 0, context: AnyObject? = nil) {
        self.kind = .command
        self.lun = lun
        self.cdb = cdb
        self.direction = direction
        self.segments = segments
        self.timeoutNanoseconds = timeoutNanoseconds
        self.tag = tag
        self.context = context
    }

    /// A LUN RESET of `lun`.
    public static func lunReset(_ lun: UInt64, timeout: Duration = .seconds(30), tag: UInt64 = 0,
                                context: AnyObject? = nil) -> ISCSIRequest {
        lunReset(lun, timeoutNanoseconds: CCB.nanoseconds(timeout), tag: tag, context: context)
    }

    /// A LUN RESET with its time-out as a CCB carries it.
    package static func lunReset(_ lun: UInt64, timeoutNanoseconds: UInt64, tag: UInt64 = 0,
                                 context: AnyObject? = nil) -> ISCSIRequest {
        var r = ISCSIRequest(lun: lun, cdb: CDB(), timeoutNanoseconds: timeoutNanoseconds, tag: tag, context: context)
        r.kind = .lunReset
        return r
    }
}

/// How a request ended, as the session's handler sees it.
public struct ISCSICompletion {
    /// What happened, before SCSI status is looked at.
    public enum Outcome: Sendable, Equatable {
        /// The target answered; `scsiStatus` says how (for a LUN RESET: GOOD when the
        /// function completed).
        case status
        /// Not done within its time-out; an ABORT TASK was sent for it.
        case timedOut
        /// Ended by an abort (ABORT TASK answered by the target, or never sent).
        case aborted
        /// Ended by a LUN RESET of its LUN.
        case reset
        /// The connection failed while the command was out: it may or may not have run.
        case connectionLost
        /// The target did not come back within the reconnect window.
        case unreachable
        /// libiscsi refused or failed the command; see `detail`.
        case transportError
        /// The session was closed.
        case closed
    }

    public var tag: UInt64
    public var context: AnyObject?
    public var lun: UInt64
    public var kind: ISCSIRequest.Kind
    public var outcome: Outcome
    public var scsiStatus: SCSIStatus
    /// Sense bytes with CHECK CONDITION; valid only during the handler call.
    public var sense: UnsafeRawBufferPointer
    /// Bytes the target did not move (underflow); the whole length when the command failed.
    public var residual: Int
    /// The target had more data than the buffers could take.
    public var overflow: Bool
    /// Bytes the request described.
    public var length: Int
    /// Words for a person when the outcome is not `.status` (never holds a secret).
    public var detail: String?
}
