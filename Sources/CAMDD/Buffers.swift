#if canImport(Glibc)
import Glibc
#endif
import CAM

/// One of the reader's buffers (camdd(8)'s CAMDD_BUF_DATA on the reader side): room for one
/// input block, and for a pass reader the CCB that fills it. All are allocated before the copy
/// starts and reused; none is allocated per request.
final class Block: @unchecked Sendable {
    // Ownership moves: free list (reader) → in flight (CAM) → reorder slot (reader) → the
    // writer's mailbox → the writer's requests → the reader's mailbox. Each hand-over goes
    // through a mailbox lock or a CAM queue lock, so one thread at a time touches the fields.
    let index: Int
    let storage: UnsafeMutableRawBufferPointer
    let ccb: CCB?
    /// Sequence number of the read, for in-order hand-over.
    var sequence = 0
    /// Position in the stream, bytes from the input's start offset.
    var position: UInt64 = 0
    /// Valid bytes.
    var length = 0
    /// When the read started, for file latency.
    var startedAt: UInt64 = 0
    /// errno of a failed file read (FileReadPool), 0 if none.
    var readError: Int32 = 0
    // writer's
    /// Slices of this block in write requests not yet completed.
    var outstandingSlices = 0
    /// All bytes have been put into write requests.
    var fullySliced = false

    /// The device buffer `storage` lives in, if any (kept alive with the block).
    private let deviceBuffer: (any CAMDeviceBuffer)?

    /// Keeps the arena `storage` lives in, if any.
    private let arena: BlockArena?

    /// A block in `arena` (when given), in ordinary memory, or in `deviceBuffer` (a pass
    /// input's device fills it with no copy; pass(4)'s to-do 1).
    init(index: Int, capacity: Int, alignment: Int, pass: Bool, deviceBuffer: (any CAMDeviceBuffer)? = nil,
         arena: BlockArena? = nil) {
        self.index = index
        if let deviceBuffer, deviceBuffer.bytes.count >= capacity {
            self.deviceBuffer = deviceBuffer
            self.arena = nil
            storage = deviceBuffer.bytes
        } else if let arena, let slice = arena.slice(index, capacity: capacity) {
            self.deviceBuffer = nil
            self.arena = arena
            storage = slice
        } else {
            self.deviceBuffer = nil
            self.arena = nil
            storage = .allocate(byteCount: max(capacity, 1), alignment: alignment)
        }
        ccb = pass ? CCB() : nil
        ccb?.cookie = UInt64(index)
    }

    deinit { if deviceBuffer == nil && arena == nil { storage.deallocate() } }

    /// Whether the block lives in a device buffer.
    var isDeviceBuffer: Bool { deviceBuffer != nil }
}

/// One mapping for all of the reader's blocks, in transparent huge pages where the kernel
/// allows (madvise): a copy cycling through depth × 1 MiB of buffers otherwise walks thousands
/// of 4 KiB pages and misses the TLB on most of them. Unmapped when the last block goes.
final class BlockArena: @unchecked Sendable {
    // Immutable after init.
    private let base: UnsafeMutableRawPointer
    private let length: Int
    private let stride: Int
    private let count: Int
    /// The first block, on a huge page boundary.
    private let first: UnsafeMutableRawPointer

    static let hugePage = 2 << 20

    /// nil when the mapping fails (the blocks then allocate on their own). `shared`: every
    /// block is the same memory, for a sink, whose data nobody looks at: reads then land in
    /// memory that stays in the CPU's caches, as sg_dd's and iscsi-perf's single buffers do.
    init?(count: Int, capacity: Int, alignment: Int, shared: Bool = false) {
        let a = max(alignment, 4096)
        let size = (max(capacity, 1) + a - 1) / a * a
        stride = shared ? 0 : size
        self.count = count
        let want = shared ? size : stride * count
        // Room to start on a huge page boundary.
        length = want + Self.hugePage
        guard let p = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED else {
            return nil
        }
        base = p
        let aligned = (Int(bitPattern: p) + Self.hugePage - 1) / Self.hugePage * Self.hugePage
        let start = UnsafeMutableRawPointer(bitPattern: aligned)!
        _ = madvise(start, want, MADV_HUGEPAGE)
        first = start
    }

    deinit { munmap(base, length) }

    func slice(_ index: Int, capacity: Int) -> UnsafeMutableRawBufferPointer? {
        guard index < count, stride == 0 || capacity <= stride else { return nil }
        return UnsafeMutableRawBufferPointer(start: first + index * stride, count: max(capacity, 1))
    }
}

/// One of the writer's requests (camdd(8)'s writer-side CAMDD_BUF_DATA with its list of
/// CAMDD_BUF_INDIRECT slices): an S/G list of slices of reader blocks, plus zero padding
/// for a device's partial last block. Allocated before the copy, reused.
final class WriteRequest: @unchecked Sendable {
    // Owned by the writer thread, and by CAM between queue and get.
    let index: Int
    let sg: SGList
    let ccb: CCB?
    /// The block of each slice, in order.
    let sources: UnsafeMutablePointer<Int>
    var sourceCount = 0
    /// Stream position of the first byte.
    var position: UInt64 = 0
    /// Data bytes (without padding).
    var length = 0
    /// Zero bytes appended to reach a whole sector.
    var padding = 0
    var startedAt: UInt64 = 0

    init(index: Int, segments: Int, pass: Bool) {
        self.index = index
        sg = SGList(capacity: segments)
        sources = .allocate(capacity: segments)
        ccb = pass ? CCB() : nil
        ccb?.cookie = UInt64(index)
    }

    deinit { sources.deallocate() }

    func reset(position: UInt64) {
        sg.removeAll()
        sourceCount = 0
        self.position = position
        length = 0
        padding = 0
    }

    /// Adds a slice of `block`; false when the S/G list is full.
    func append(_ block: Block, from: Int, count: Int) -> Bool {
        guard sg.append(block.storage.baseAddress! + from, length: count) else { return false }
        sources[sourceCount] = block.index
        sourceCount += 1
        length += count
        block.outstandingSlices += 1
        return true
    }
}
