#if canImport(Glibc)
import Glibc
#endif
import CAM
import CAMISCSI
import SCSI

/// What a test keeps of a completion (the sense is copied: it is valid only in the handler).
struct Done: Sendable {
    var tag: UInt64
    var outcome: ISCSICompletion.Outcome
    var status: SCSIStatus
    var sense: [UInt8]
    var residual: Int
    var detail: String?
}

/// Collects a session's completions and lets a test wait for them.
final class Collector: @unchecked Sendable {
    // `done` is guarded by `lock`.
    private let lock = CAMLock()
    private let cond = CAMCondition()
    private var done: [UInt64: Done] = [:]

    var handler: ISCSISession.Handler {
        { [self] c in
            let d = Done(tag: c.tag, outcome: c.outcome, status: c.scsiStatus, sense: Array(c.sense.bindMemory(to: UInt8.self)),
                         residual: c.residual, detail: c.detail)
            lock.withLock { done[c.tag] = d }
            cond.broadcast()
        }
    }

    /// Waits for `tag`'s completion, at most `seconds`.
    func wait(_ tag: UInt64, seconds: Double = 20) -> Done? {
        let end = camMonotonicNanoseconds() + UInt64(seconds * 1e9)
        lock.lock()
        defer { lock.unlock() }
        while done[tag] == nil {
            let now = camMonotonicNanoseconds()
            if now >= end { return nil }
            cond.wait(lock, timeoutNanoseconds: end - now)
        }
        return done.removeValue(forKey: tag)
    }
}

/// An aligned buffer that frees itself.
final class Buffer: @unchecked Sendable {
    // Test-only: one test thread fills and reads it while no command is out.
    let raw: UnsafeMutableRawBufferPointer
    init(_ count: Int) {
        raw = .allocate(byteCount: count, alignment: 4096)
        raw.initializeMemory(as: UInt8.self, repeating: 0)
    }
    deinit { raw.deallocate() }
    var bytes: [UInt8] { Array(raw) }
}

/// Submits one command on `session` and waits for it.
func execute(_ session: ISCSISession, _ collector: Collector, tag: UInt64, lun: UInt64, cdb: CDB,
             direction: ISCSIDirection = .none, buffers: [UnsafeMutableRawBufferPointer] = [],
             timeout: Duration = .seconds(10), wait seconds: Double = 20) throws -> Done? {
    var iovs = buffers.map { iovec(iov_base: $0.baseAddress, iov_len: $0.count) }
    try iovs.withUnsafeBufferPointer { p in
        try session.submit(ISCSIRequest(lun: lun, cdb: cdb, direction: direction, segments: p,
                                        timeout: timeout, tag: tag))
    }
    iovs.removeAll()
    return collector.wait(tag, seconds: seconds)
}

/// A session for a handler made before it (the handler submits to it).
final class SessionBox: @unchecked Sendable {
    // Set once by the test before any command is submitted; read on the session's thread.
    private let lock = CAMLock()
    private var stored: ISCSISession?
    var session: ISCSISession? {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}
