#if canImport(Glibc)
import Glibc
#endif
import CLibISCSI
import SCSI

/// One request slot of a session, made once: its libiscsi task and its segment list are
/// reused for every request, so the queued path allocates nothing of ours.
///
/// The `scsi_task` is ours, not made by `scsi_create_task`, and never passed to
/// `scsi_free_scsi_task`: libiscsi only fills it in. With data in our iovecs it allocates
/// nothing for it, except the copy of the sense it makes with CHECK CONDITION (`datain`),
/// which the session frees after the completion.
final class ISCSISlot {
    /// Written by the service thread only, so that it may look at every slot's state while
    /// another thread fills a free one.
    enum State: UInt8 { case free, waiting, issued }

    let index: Int
    // The session owns its slots and outlives them.
    unowned(unsafe) var session: ISCSISession?
    let task: UnsafeMutablePointer<scsi_task>
    let iov: UnsafeMutablePointer<scsi_iovec>
    let capacity: Int

    var state = State.free
    // Written by the submitter while it owns the slot, then by the service thread.
    var kind = ISCSIRequest.Kind.command
    var lun: UInt64 = 0
    var cdb = CDB()
    var direction = ISCSIDirection.none
    var count = 0
    var length = 0
    var tag: UInt64 = 0
    var context: AnyObject?
    var timeoutNanoseconds: UInt64 = 0
    /// Monotonic nanoseconds; 0: none.
    var deadline: UInt64 = 0

    // Service thread only.
    var itt: UInt32 = 0
    var cmdsn: UInt32 = 0
    var timedOut = false
    var abortRequested = false
    var resetPending = false
    var closing = false
    /// Issued for a LUN nobody polled at the time (counted in the session's `unpolledIssued`).
    var unpolled = false
    var generation: UInt32 = 0
    var managementGeneration: UInt32 = 0

    // Under the session's lock, for `abort(context:)`.
    var sharedContextIdentity: ObjectIdentifier?
    var sharedGeneration: UInt32 = 0

    init(index: Int, maxSegments: Int) {
        self.index = index
        capacity = maxSegments
        task = .allocate(capacity: 1)
        task.initialize(to: scsi_task())
        iov = .allocate(capacity: maxSegments)
        iov.initialize(repeating: scsi_iovec(), count: maxSegments)
    }

    func free() {
        task.deallocate()
        iov.deallocate()
    }

    /// The time-out, for messages ("30 s").
    var timeoutDescription: String { Duration.camDescription(nanoseconds: timeoutNanoseconds) }

    /// Takes a request's fields; the caller owns the slot (taken off the free list).
    func fill(_ r: ISCSIRequest, now: UInt64) {
        kind = r.kind
        lun = r.lun
        cdb = r.cdb
        direction = r.direction
        tag = r.tag
        context = r.context
        timeoutNanoseconds = r.timeoutNanoseconds
        deadline = r.timeoutNanoseconds > UInt64.max - now ? 0 : now + r.timeoutNanoseconds
        count = 0
        length = 0
        for seg in r.segments where seg.iov_len > 0 {
            iov[count] = scsi_iovec(iov_base: seg.iov_base, iov_len: seg.iov_len)
            count += 1
            length += seg.iov_len
        }
        timedOut = false
        abortRequested = false
        resetPending = false
        closing = false
    }

    /// Sets up the task for `iscsi_scsi_command_async` (what `scsi_create_task` would do).
    func prepareTask() {
        task.pointee = scsi_task()
        withUnsafeMutableBytes(of: &task.pointee.cdb) { raw in
            cdb.withUnsafeBytes { raw.copyMemory(from: $0) }
        }
        task.pointee.cdb_size = Int32(cdb.count)
        switch direction {
        case .none: task.pointee.xfer_dir = Int32(SCSI_XFER_NONE.rawValue)
        case .in: task.pointee.xfer_dir = Int32(SCSI_XFER_READ.rawValue)
        case .out: task.pointee.xfer_dir = Int32(SCSI_XFER_WRITE.rawValue)
        }
        task.pointee.expxferlen = Int32(clamping: length)
        if count > 0 {
            switch direction {
            case .in: scsi_task_set_iov_in(task, iov, Int32(count))
            case .out: scsi_task_set_iov_out(task, iov, Int32(count))
            case .none: break
            }
        }
    }

    /// Back to the free list (the caller holds the session's lock).
    func reset() {
        context = nil
        sharedContextIdentity = nil
        generation &+= 1
        sharedGeneration = generation
        state = .free
        deadline = 0
    }

    /// What a SCSI_STATUS_CANCELLED means for this slot.
    var cancelOutcome: ISCSICompletion.Outcome {
        if closing { return .closed }
        if timedOut { return .timedOut }
        if abortRequested { return .aborted }
        if resetPending { return .reset }
        return .connectionLost
    }

    func cancelDetail(_ lost: String?) -> String {
        switch cancelOutcome {
        case .closed: return "the session was closed"
        case .timedOut: return "no answer within \(timeoutDescription); ABORT TASK sent"
        case .aborted: return "aborted (ABORT TASK)"
        case .reset: return "ended by a LUN RESET of LUN \(lun)"
        default: return lost ?? "the connection to the target was lost; the command may or may not have run"
        }
    }
}
