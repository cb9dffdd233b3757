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

extension CDB {
    static func inquiry(_ length: Int) -> CDB {
        var c = CDB(count: 6)
        c[0] = 0x12
        c.setBigEndian(UInt64(length), at: 3, width: 2)
        return c
    }
    static func readCapacity16(_ length: Int = 32) -> CDB {
        var c = CDB(count: 16)
        c[0] = 0x9E
        c[1] = 0x10
        c.setBigEndian(UInt64(length), at: 10, width: 4)
        return c
    }
    static func read16(lba: UInt64, blocks: UInt32) -> CDB {
        var c = CDB(count: 16)
        c[0] = 0x88
        c.setBigEndian(lba, at: 2, width: 8)
        c.setBigEndian(UInt64(blocks), at: 10, width: 4)
        return c
    }
    static func write16(lba: UInt64, blocks: UInt32) -> CDB {
        var c = read16(lba: lba, blocks: blocks)
        c[0] = 0x8A
        return c
    }
    static let testUnitReady = CDB(count: 6)
}

/// Submits one command on `session` and waits for it.
func execute(_ session: ISCSISession, _ collector: Collector, tag: UInt64, lun: UInt64, cdb: CDB,
             direction: ISCSIDirection = .none, buffers: [UnsafeMutableRawBufferPointer] = [],
             timeoutMilliseconds: UInt32 = 10_000, wait seconds: Double = 20) throws -> Done? {
    var iovs = buffers.map { iovec(iov_base: $0.baseAddress, iov_len: $0.count) }
    try iovs.withUnsafeBufferPointer { p in
        try session.submit(ISCSIRequest(lun: lun, cdb: cdb, direction: direction, segments: p,
                                        timeoutMilliseconds: timeoutMilliseconds, tag: tag))
    }
    iovs.removeAll()
    return collector.wait(tag, seconds: seconds)
}
