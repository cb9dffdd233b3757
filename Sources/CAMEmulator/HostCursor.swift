#if canImport(Glibc)
import Glibc
#endif
import CAM

/// A position in a CCB's data (one buffer or an S/G list, seen as iovecs), moving forward as
/// the device transfers bytes. The emulator's side of the data phase: callers never ask for
/// more than `remaining`.
struct HostCursor {
    private let segments: UnsafeMutablePointer<iovec>
    private let segmentCount: Int
    private var index = 0
    private var offset = 0
    /// Bytes the cursor may still move.
    private(set) var remaining: Int

    init(segments: UnsafeMutablePointer<iovec>, count: Int, limit: Int) {
        self.segments = segments
        self.segmentCount = count
        self.remaining = limit
    }

    /// The current contiguous piece of host memory, at most `max` bytes long.
    private mutating func piece(max: Int) -> (UnsafeMutableRawPointer, Int)? {
        while index < segmentCount {
            let seg = segments[index]
            if offset < seg.iov_len, let base = seg.iov_base {
                return (base + offset, min(seg.iov_len - offset, max))
            }
            index += 1
            offset = 0
        }
        return nil
    }

    /// Moves `n` bytes forward.
    mutating func advance(_ n: Int) {
        var left = n
        remaining -= n
        while left > 0, index < segmentCount {
            let room = segments[index].iov_len - offset
            if left < room { offset += left; return }
            left -= room
            index += 1
            offset = 0
        }
    }

    /// Device to host: copies `n` bytes from `source`.
    mutating func put(_ source: UnsafeRawPointer, _ n: Int) {
        var done = 0
        while done < n, let (p, len) = piece(max: n - done) {
            p.copyMemory(from: source + done, byteCount: len)
            advance(len)
            done += len
        }
    }

    /// Device to host: `n` zero bytes (unwritten blocks of a thin disk read as zeros).
    mutating func putZeros(_ n: Int) {
        var done = 0
        while done < n, let (p, len) = piece(max: n - done) {
            memset(p, 0, len)
            advance(len)
            done += len
        }
    }

    /// Host to device: copies `n` bytes into `destination`.
    mutating func take(_ destination: UnsafeMutableRawPointer, _ n: Int) {
        var done = 0
        while done < n, let (p, len) = piece(max: n - done) {
            (destination + done).copyMemory(from: p, byteCount: len)
            advance(len)
            done += len
        }
    }

    /// Host to device, for VERIFY with BYTCHK: compares `n` host bytes with `device` (nil:
    /// zeros). Returns the index of the first byte that differs, or nil.
    mutating func compare(_ device: UnsafeRawPointer?, _ n: Int) -> Int? {
        var done = 0
        while done < n, let (p, len) = piece(max: n - done) {
            let host = p.assumingMemoryBound(to: UInt8.self)
            if let device {
                if memcmp(p, device + done, len) != 0 {
                    let d = device.advanced(by: done).assumingMemoryBound(to: UInt8.self)
                    for i in 0..<len where host[i] != d[i] { return done + i }
                }
            } else {
                for i in 0..<len where host[i] != 0 { return done + i }
            }
            advance(len)
            done += len
        }
        return nil
    }

    /// Calls `body` with iovecs covering the next `n` bytes (at most 1024 of them, UIO_MAXIOV)
    /// and moves forward by what `body` returns (bytes done, or a negative errno result that
    /// moves nothing). For preadv/pwritev.
    mutating func withIOVecs(_ n: Int, _ body: (UnsafeMutablePointer<iovec>, Int32) -> Int) -> Int {
        let maxIOV = 1024
        let wanted = min(segmentCount - index, maxIOV)
        guard wanted > 0, n > 0 else { return 0 }
        // Stack-allocated for the usual small lists: the command path stays allocation-free.
        return withUnsafeTemporaryAllocation(of: iovec.self, capacity: wanted) { iov in
            var count = 0
            var covered = 0
            var i = index
            var off = offset
            while covered < n, i < segmentCount, count < wanted {
                let seg = segments[i]
                let len = min(seg.iov_len - off, n - covered)
                if len > 0, let base = seg.iov_base {
                    iov[count] = iovec(iov_base: base + off, iov_len: len)
                    count += 1
                    covered += len
                }
                i += 1
                off = 0
            }
            let rc = body(iov.baseAddress!, Int32(count))
            if rc > 0 { advance(rc) }
            return rc
        }
    }
}

extension CCBData {
    /// Calls `body` with a cursor over the first `limit` bytes of the data.
    func withCursor<R, E: Error>(limit: Int, _ body: (inout HostCursor) throws(E) -> R) throws(E) -> R {
        switch self {
        case .none:
            var one = iovec()
            return try withUnsafeMutablePointer(to: &one) { (p) throws(E) -> R in
                var c = HostCursor(segments: p, count: 0, limit: 0)
                return try body(&c)
            }
        case .buffer(let b):
            var one = iovec(iov_base: b.baseAddress, iov_len: b.count)
            return try withUnsafeMutablePointer(to: &one) { (p) throws(E) -> R in
                var c = HostCursor(segments: p, count: 1, limit: min(limit, b.count))
                return try body(&c)
            }
        case .scatterGather(let sg):
            var c = HostCursor(segments: sg.segments, count: sg.count, limit: min(limit, sg.totalLength))
            return try body(&c)
        }
    }
}
