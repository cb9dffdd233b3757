#if canImport(Glibc)
import Glibc
#endif
import CAM
import CCAMDD

/// Reads of a regular file or block device with several in flight (`depth=N` on a file
/// input). FreeBSD's camdd queues one command at a time to files, since read(2) waits; here
/// `depth` threads each run one pread at a time, so up to `depth` reads proceed at once: page
/// cache copies on several CPUs, several requests at a disk behind a block device. The reader
/// puts them back in order as it does a pass device's completions.
///
/// The reader submits a block and later takes it back through `take`; `descriptor` is
/// readable while finished blocks wait. Nothing is allocated per read.
final class FileReadPool: @unchecked Sendable {
    // @unchecked: everything below `lock` is guarded by it; `descriptor`, `fd`, `blocks` and
    // the threads array (written before any thread runs, read by `shutdown`) are fixed.
    /// A read to do: into `blocks[index]`, `ask` bytes at `offset`, of which `want` count.
    private struct Request {
        var index: Int
        var offset: UInt64
        var want: Int
        var ask: Int
    }

    private let lock = CAMLock()
    private let work = CAMCondition()
    private var requests: [Request] = []
    private var head = 0
    private let finished: IndexRing
    private var stopping = false
    private var threads: [CAMThread] = []
    private let fd: Int32
    private let blocks: [Block]
    /// The eventfd: readable while finished blocks wait to be taken.
    let descriptor: Int32

    init(fd: Int32, blocks: [Block], threads count: Int) throws(CAMDDError) {
        self.fd = fd
        self.blocks = blocks
        finished = IndexRing(capacity: blocks.count)
        requests.reserveCapacity(blocks.count)
        let e = ccamdd_eventfd()
        if e < 0 { throw CAMDDError.system("eventfd", errno, on: "camdd file reads") }
        descriptor = e
        for i in 0..<max(1, count) {
            threads.append(CAMThread(name: "camdd-fread\(i)") { [unowned self] in self.serve() })
        }
    }

    deinit { close(descriptor) }

    /// Queues a read into `block` (its `length` gets the bytes read, `readError` the errno).
    func submit(_ block: Block, offset: UInt64, want: Int, ask: Int) {
        lock.lock()
        if head > 0 && head == requests.count {
            requests.removeAll(keepingCapacity: true)
            head = 0
        }
        requests.append(Request(index: block.index, offset: offset, want: want, ask: ask))
        work.signal()
        lock.unlock()
    }

    /// Moves the indices of finished blocks into `into`.
    func take(into: IndexRing) {
        lock.lock()
        if !finished.isEmpty {
            finished.moveAll(to: into)
            var v: UInt64 = 0
            _ = read(descriptor, &v, 8)
        }
        lock.unlock()
    }

    /// Stops the threads once the queued reads are done, and joins them.
    func shutdown() {
        lock.withLock {
            stopping = true
            work.broadcast()
        }
        for t in threads { t.join() }
    }

    private func serve() {
        lock.lock()
        while true {
            while head == requests.count && !stopping { work.wait(lock) }
            if head == requests.count { break }
            let r = requests[head]
            head += 1
            lock.unlock()
            run(r)
            lock.lock()
            if finished.isEmpty {
                var one: UInt64 = 1
                while write(descriptor, &one, 8) < 0 && errno == EINTR {}
            }
            finished.push(r.index)
        }
        lock.unlock()
    }

    /// One whole read: until `want` bytes, the end of the file, or an error.
    private func run(_ r: Request) {
        let block = blocks[r.index]
        let base = block.storage.baseAddress!
        var got = 0
        var error: Int32 = 0
        while got < r.want {
            let n = pread(fd, base + got, r.ask - got, off_t(r.offset + UInt64(got)))
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                error = errno
                break
            }
            if n == 0 { break }
            got += n
        }
        block.length = min(got, r.want)
        block.readError = error
    }
}
