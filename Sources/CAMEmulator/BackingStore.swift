#if canImport(Glibc)
import Glibc
#endif
import CAM

/// A failed access to a disk's data: the system call, its errno, and the byte offset.
struct StoreError: Error {
    var call: StaticString
    var errno: Int32
    var offset: UInt64
}

/// Where an emulated disk keeps its blocks. Called with the disk's lock held; offsets and
/// counts are whole blocks inside the capacity (the command layer checked them).
protocol BackingStore: AnyObject {
    /// Device to host.
    func read(at offset: UInt64, count: Int, into cursor: inout HostCursor) throws(StoreError)
    /// Host to device.
    func write(at offset: UInt64, count: Int, from cursor: inout HostCursor) throws(StoreError)
    /// WRITE SAME: `pattern` (one block) into `blocks` blocks from `offset`.
    func fill(at offset: UInt64, blocks: UInt64, pattern: UnsafeRawBufferPointer) throws(StoreError)
    /// UNMAP: the range reads back as zeros and, where the store can, costs nothing again.
    func deallocate(at offset: UInt64, count: UInt64) throws(StoreError)
    /// VERIFY with BYTCHK: the index of the first host byte that differs, or nil.
    func compare(at offset: UInt64, count: Int, with cursor: inout HostCursor) throws(StoreError) -> Int?
    /// SYNCHRONIZE CACHE.
    func flush() throws(StoreError)
    /// Bytes of memory or disk space the data takes now.
    var allocatedBytes: UInt64 { get }
}

/// RAM, allocated in 64 KiB chunks on first write through a two-level table, so a 1 TiB disk
/// costs a 128 KiB table (left untouched by calloc) until it is written.
final class RAMStore: BackingStore {
    static let chunkShift: UInt64 = 16
    static let chunkSize = 1 << 16
    static let leafShift: UInt64 = 10
    static let leafEntries = 1 << 10

    private let top: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutableRawPointer?>?>
    private let topCount: Int
    private var chunks: UInt64 = 0

    init(capacity: UInt64) throws(CAMError) {
        // Rounded up by division, not by adding: a capacity near UInt64.max must not overflow.
        let chunkCount = capacity >> Self.chunkShift + (capacity & UInt64(Self.chunkSize - 1) == 0 ? 0 : 1)
        let leaves = chunkCount >> Self.leafShift + (chunkCount & UInt64(Self.leafEntries - 1) == 0 ? 0 : 1)
        guard leaves <= UInt64(Int.max / MemoryLayout<UnsafeMutableRawPointer?>.stride) else {
            throw CAMError.system("calloc", ENOMEM, on: "emulated disk table")
        }
        let count = Int(leaves)
        // calloc: zeroed pages the kernel maps lazily, so a huge table costs nothing until used.
        guard let raw = calloc(max(count, 1), MemoryLayout<UnsafeMutableRawPointer?>.stride) else {
            throw CAMError.system("calloc", ENOMEM, on: "emulated disk table")
        }
        top = raw.bindMemory(to: UnsafeMutablePointer<UnsafeMutableRawPointer?>?.self, capacity: max(count, 1))
        topCount = count
    }

    deinit {
        for i in 0..<topCount {
            guard let leaf = top[i] else { continue }
            for j in 0..<Self.leafEntries { free(leaf[j]) }
            free(leaf)
        }
        free(top)
    }

    var allocatedBytes: UInt64 { chunks << Self.chunkShift }

    /// The chunk holding byte `offset`; allocates it when `create`.
    private func chunk(_ offset: UInt64, create: Bool) throws(StoreError) -> UnsafeMutableRawPointer? {
        let c = offset >> Self.chunkShift
        let t = Int(c >> Self.leafShift)
        let l = Int(c & UInt64(Self.leafEntries - 1))
        var leaf = top[t]
        if leaf == nil {
            guard create else { return nil }
            guard let raw = calloc(Self.leafEntries, MemoryLayout<UnsafeMutableRawPointer?>.stride) else {
                throw StoreError(call: "calloc", errno: ENOMEM, offset: offset)
            }
            leaf = raw.bindMemory(to: UnsafeMutableRawPointer?.self, capacity: Self.leafEntries)
            top[t] = leaf
        }
        if let p = leaf![l] { return p }
        guard create else { return nil }
        guard let p = calloc(1, Self.chunkSize) else { throw StoreError(call: "calloc", errno: ENOMEM, offset: offset) }
        leaf![l] = p
        chunks += 1
        return p
    }

    private func freeChunk(_ offset: UInt64) {
        let c = offset >> Self.chunkShift
        guard let leaf = top[Int(c >> Self.leafShift)] else { return }
        let l = Int(c & UInt64(Self.leafEntries - 1))
        if let p = leaf[l] {
            free(p)
            leaf[l] = nil
            chunks -= 1
        }
    }

    /// Calls `body(offset, chunkOffset, length)` for each piece of [offset, offset+count) that
    /// stays inside one chunk.
    @inline(__always)
    private func pieces<E: Error>(_ offset: UInt64, _ count: UInt64, _ body: (UInt64, Int, Int) throws(E) -> Void) throws(E) {
        var at = offset
        let end = offset + count
        while at < end {
            let inChunk = Int(at & UInt64(Self.chunkSize - 1))
            let len = Int(min(UInt64(Self.chunkSize - inChunk), end - at))
            try body(at, inChunk, len)
            at += UInt64(len)
        }
    }

    func read(at offset: UInt64, count: Int, into cursor: inout HostCursor) throws(StoreError) {
        try pieces(offset, UInt64(count)) { (at, inChunk, len) throws(StoreError) in
            if let p = try chunk(at, create: false) {
                cursor.put(p + inChunk, len)
            } else {
                cursor.putZeros(len)
            }
        }
    }

    func write(at offset: UInt64, count: Int, from cursor: inout HostCursor) throws(StoreError) {
        try pieces(offset, UInt64(count)) { (at, inChunk, len) throws(StoreError) in
            let p = try chunk(at, create: true)!
            cursor.take(p + inChunk, len)
        }
    }

    func fill(at offset: UInt64, blocks: UInt64, pattern: UnsafeRawBufferPointer) throws(StoreError) {
        let size = UInt64(pattern.count)
        let zero = pattern.allSatisfy { $0 == 0 }
        // A block size divides the chunk size, so a block never straddles two chunks.
        try pieces(offset, blocks * size) { (at, inChunk, len) throws(StoreError) in
            if zero {
                // Zeros cost no memory where nothing was written.
                if let p = try chunk(at, create: false) { memset(p + inChunk, 0, len) }
                return
            }
            let p = try chunk(at, create: true)!
            var o = 0
            while o < len {
                (p + inChunk + o).copyMemory(from: pattern.baseAddress!, byteCount: Int(size))
                o += Int(size)
            }
        }
    }

    func deallocate(at offset: UInt64, count: UInt64) throws(StoreError) {
        try pieces(offset, count) { (at, inChunk, len) throws(StoreError) in
            if inChunk == 0 && len == Self.chunkSize {
                freeChunk(at)
            } else if let p = try chunk(at, create: false) {
                memset(p + inChunk, 0, len)
            }
        }
    }

    func compare(at offset: UInt64, count: Int, with cursor: inout HostCursor) throws(StoreError) -> Int? {
        var done = 0
        var found: Int?
        try pieces(offset, UInt64(count)) { (at, inChunk, len) throws(StoreError) in
            guard found == nil else { return }
            let p = try chunk(at, create: false)
            if let i = cursor.compare(p.map { UnsafeRawPointer($0 + inChunk) }, len) { found = done + i }
            done += len
        }
        return found
    }

    func flush() throws(StoreError) {}
}

/// A file: pread/pwrite (preadv/pwritev for S/G) on a descriptor opened O_CLOEXEC, so the data
/// outlives the process. Owns and closes the descriptor.
final class FileStore: BackingStore {
    let fd: Int32
    let path: String

    /// Opens (creating) `path` and extends it to `capacity`; an existing larger file keeps its size.
    init(path: String, capacity: UInt64) throws(CAMError) {
        var fd: Int32
        repeat { fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644) } while fd < 0 && errno == EINTR
        if fd < 0 { throw CAMError.system("open", errno, on: path) }
        var st = stat()
        if fstat(fd, &st) < 0 {
            let e = errno
            close(fd)
            throw CAMError.system("fstat", e, on: path)
        }
        if (st.st_mode & S_IFMT) != S_IFREG {
            close(fd)
            throw CAMError(.invalidRequest, "emulated disk file \(path) is not a regular file")
        }
        if UInt64(st.st_size) < capacity {
            var rc: Int32
            repeat { rc = ftruncate(fd, off_t(capacity)) } while rc < 0 && errno == EINTR
            if rc < 0 {
                let e = errno
                close(fd)
                throw CAMError.system("ftruncate", e, on: path)
            }
        }
        self.fd = fd
        self.path = path
    }

    deinit { close(fd) }

    var allocatedBytes: UInt64 {
        var st = stat()
        return fstat(fd, &st) == 0 ? UInt64(st.st_blocks) * 512 : 0
    }

    func read(at offset: UInt64, count: Int, into cursor: inout HostCursor) throws(StoreError) {
        var done = 0
        while done < count {
            let at = offset + UInt64(done)
            let fd = self.fd
            let rc = cursor.withIOVecs(count - done) { iov, n in preadv(fd, iov, n, off_t(at)) }
            if rc < 0 {
                if errno == EINTR { continue }
                throw StoreError(call: "preadv", errno: errno, offset: at)
            }
            if rc == 0 {
                // Past the end of a file someone shrank: reads as zeros, like unwritten blocks.
                cursor.putZeros(count - done)
                return
            }
            done += rc
        }
    }

    func write(at offset: UInt64, count: Int, from cursor: inout HostCursor) throws(StoreError) {
        var done = 0
        while done < count {
            let at = offset + UInt64(done)
            let fd = self.fd
            let rc = cursor.withIOVecs(count - done) { iov, n in pwritev(fd, iov, n, off_t(at)) }
            if rc < 0 {
                if errno == EINTR { continue }
                throw StoreError(call: "pwritev", errno: errno, offset: at)
            }
            if rc == 0 { throw StoreError(call: "pwritev", errno: ENOSPC, offset: at) }
            done += rc
        }
    }

    /// Writes `count` bytes from `buffer` at `offset`, retrying short writes and EINTR.
    private func writeAll(_ buffer: UnsafeRawPointer, _ count: Int, at offset: UInt64) throws(StoreError) {
        var done = 0
        while done < count {
            let rc = pwrite(fd, buffer + done, count - done, off_t(offset + UInt64(done)))
            if rc < 0 {
                if errno == EINTR { continue }
                throw StoreError(call: "pwrite", errno: errno, offset: offset + UInt64(done))
            }
            if rc == 0 { throw StoreError(call: "pwrite", errno: ENOSPC, offset: offset + UInt64(done)) }
            done += rc
        }
    }

    func fill(at offset: UInt64, blocks: UInt64, pattern: UnsafeRawBufferPointer) throws(StoreError) {
        // WRITE SAME is rare: a 256 KiB staging buffer per call is fine.
        let size = pattern.count
        let perBuffer = max(1, (256 << 10) / size)
        let staging = UnsafeMutableRawPointer.allocate(byteCount: perBuffer * size, alignment: 4096)
        defer { staging.deallocate() }
        for i in 0..<perBuffer { (staging + i * size).copyMemory(from: pattern.baseAddress!, byteCount: size) }
        var left = blocks
        var at = offset
        while left > 0 {
            let n = Int(min(left, UInt64(perBuffer)))
            try writeAll(staging, n * size, at: at)
            left -= UInt64(n)
            at += UInt64(n * size)
        }
    }

    func deallocate(at offset: UInt64, count: UInt64) throws(StoreError) {
        // fallocate(PUNCH_HOLE | KEEP_SIZE) frees the space and reads back zeros; where the file
        // system cannot punch holes, zeros are written instead.
        if let punch = Self.fallocate, punch(fd, 0x02 | 0x01, off_t(offset), off_t(count)) == 0 { return }
        let zeros = UnsafeMutableRawBufferPointer.allocate(byteCount: 512, alignment: 8)
        defer { zeros.deallocate() }
        zeros.initializeMemory(as: UInt8.self, repeating: 0)
        try fill(at: offset, blocks: count / 512, pattern: UnsafeRawBufferPointer(zeros))
    }

    func compare(at offset: UInt64, count: Int, with cursor: inout HostCursor) throws(StoreError) -> Int? {
        let piece = 256 << 10
        let staging = UnsafeMutableRawPointer.allocate(byteCount: min(piece, count), alignment: 4096)
        defer { staging.deallocate() }
        var done = 0
        while done < count {
            let n = min(piece, count - done)
            var got = 0
            while got < n {
                let rc = pread(fd, staging + got, n - got, off_t(offset + UInt64(done + got)))
                if rc < 0 {
                    if errno == EINTR { continue }
                    throw StoreError(call: "pread", errno: errno, offset: offset + UInt64(done + got))
                }
                if rc == 0 { memset(staging + got, 0, n - got); break }
                got += rc
            }
            if let i = cursor.compare(staging, n) { return done + i }
            done += n
        }
        return nil
    }

    func flush() throws(StoreError) {
        while fdatasync(fd) < 0 {
            if errno == EINTR { continue }
            throw StoreError(call: "fdatasync", errno: errno, offset: 0)
        }
    }

    private typealias FallocateFunction = @convention(c) (Int32, Int32, off_t, off_t) -> Int32

    /// glibc's fallocate(2), looked up once: Swift's Glibc module hides it behind _GNU_SOURCE,
    /// and a C shim target for one call is not worth it.
    private static let fallocate: FallocateFunction? = {
        guard let handle = dlopen(nil, RTLD_NOW), let sym = dlsym(handle, "fallocate") else { return nil }
        return unsafeBitCast(sym, to: FallocateFunction.self)
    }()
}
