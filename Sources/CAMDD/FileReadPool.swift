#if canImport(Glibc)
import Glibc
#endif
import CAM
import CAMSystem

/// Reads of a regular file or block device with several in flight (`depth=N` on a file
/// input). FreeBSD's camdd queues one command at a time to files, since read(2) waits; here
/// the reader runs one pread itself and `depth - 1` threads run one each, so up to `depth`
/// reads proceed at once: page cache copies on several CPUs, several requests at a disk behind
/// a block device. The reader puts them back in order as it does a pass device's completions.
///
/// The reader submits a block and later takes it back through `take`; `descriptor` becomes
/// readable when a block finishes while the reader sleeps (`prepareToSleep`), so a busy reader
/// takes finished blocks with no system call. Nothing is allocated per read.
final class FileReadPool: @unchecked Sendable {
    // @unchecked: everything below `lock` is guarded by it; `event`, `fd`, `blocks` and
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
    /// The reader said it is going to sleep: the next finished block writes the eventfd.
    private var readerAsleep = false
    /// The eventfd holds a count.
    private var signaled = false
    private var threads: [CAMThread] = []
    private let fd: Int32
    private let blocks: [Block]
    /// Readable while finished blocks wait to be taken.
    private let event: EventFD
    /// The eventfd, for the reader's epoll set.
    var descriptor: Int32 { event.descriptor }

    /// `count`: the reads in flight at most, the reader's own included (threads: count - 1).
    init(fd: Int32, blocks: [Block], depth count: Int) throws(CAMDDError) {
        self.fd = fd
        self.blocks = blocks
        finished = IndexRing(capacity: blocks.count)
        requests.reserveCapacity(blocks.count)
        do throws(SystemError) { event = try EventFD(for: "camdd file reads") } catch { throw CAMDDError.system(error) }
        for i in 0..<max(1, count - 1) {
            threads.append(CAMThread(name: "camdd-fread\(i)") { [unowned self] in self.serve() })
        }
    }

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
        finished.moveAll(to: into)
        readerAsleep = false
        if signaled {
            signaled = false
            event.drain()
        }
        lock.unlock()
    }

    /// The reader is about to wait on `descriptor`: false when a block has finished already
    /// (take it instead of sleeping).
    func prepareToSleep() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if !finished.isEmpty { return false }
        readerAsleep = true
        return true
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
            finished.push(r.index)
            if readerAsleep {
                readerAsleep = false
                signaled = true
                event.signal()
            }
        }
        lock.unlock()
    }

    private func run(_ r: Request) {
        Self.readWhole(fd, into: blocks[r.index], offset: r.offset, want: r.want, ask: r.ask)
    }

    /// One whole read (on a pool thread, or the reader's own): until `want` bytes, the end of
    /// the file, or an error. The block's `length` gets the bytes read, `readError` the errno.
    static func readWhole(_ fd: Int32, into block: Block, offset: UInt64, want: Int, ask: Int) {
        let r = (offset: offset, want: want, ask: ask)
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
