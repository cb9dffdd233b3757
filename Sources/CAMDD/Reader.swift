#if canImport(Glibc)
import Glibc
#endif
import CAM
import CAMSystem
import SCSI

/// The reader thread (camdd(8)'s camdd_worker for the input device): keeps up to `depth`
/// reads in flight, puts completions back in offset order whatever order they came in, and
/// hands the blocks to the writer in that order. Blocks come back from the writer once all
/// their slices are written.
final class Reader: @unchecked Sendable {
    // Owned by the reader thread while it runs; the engine reads the outcome after joining.
    let endpoint: Endpoint
    /// How long to spin for the peer before sleeping (both ends files: 50 µs; else 0, so a
    /// file side waiting on a device does not take the CPU the device side needs).
    let spinNanoseconds: UInt64
    let blocks: [Block]
    let mailbox: Mailbox
    unowned let peer: Mailbox
    let counters: EndpointCounters
    let settings: IOSettings
    /// `settings.timeout` as each CCB takes it, converted once.
    let timeoutNanoseconds: UInt64
    let report: @Sendable (String) -> Void
    /// A pipe or terminal and the mailbox, for `waitForStream` (made once: waits allocate nothing).
    private var streamPoll = PollSet(capacity: 2)
    /// Output to /dev/null: blocks are counted here as written and go straight back to the
    /// free list instead of to a writer.
    let discardCounters: EndpointCounters?
    /// Bytes to read at most (the -m limit and the end of the device), nil: until end of input.
    let limit: UInt64?

    // outcome
    private(set) var end: StreamEnd = .endOfInput
    private(set) var failure: String?

    private let free: IndexStack
    /// Reads of a file input with depth > 1 (nil: one synchronous pread at a time).
    private let pool: FileReadPool?
    private let pooled: IndexRing
    /// Reads the pool's threads have (the reader runs one more itself).
    private var poolInFlight = 0
    private let returned: IndexRing
    private let outgoing: IndexRing
    private var reorder: [Int]
    private var nextSequence = 0
    private var nextDelivery = 0
    private var position: UInt64 = 0
    private var inFlight = 0
    private var issuing = true
    /// Blocks from this sequence on are not handed on (after a failed or short read).
    private var cutoff = Int.max

    init(endpoint: Endpoint, blocks: [Block], mailbox: Mailbox, peer: Mailbox, counters: EndpointCounters,
         settings: IOSettings, limit: UInt64?, report: @escaping @Sendable (String) -> Void,
         spinNanoseconds: UInt64 = 0, discardCounters: EndpointCounters? = nil) {
        self.spinNanoseconds = spinNanoseconds
        self.discardCounters = discardCounters
        self.endpoint = endpoint
        self.blocks = blocks
        self.mailbox = mailbox
        self.peer = peer
        self.counters = counters
        self.settings = settings
        timeoutNanoseconds = CCB.nanoseconds(settings.timeout)
        self.limit = limit
        self.report = report
        free = IndexStack(capacity: blocks.count)
        returned = IndexRing(capacity: blocks.count)
        outgoing = IndexRing(capacity: blocks.count)
        reorder = [Int](repeating: -1, count: blocks.count)
        for b in blocks.reversed() { free.push(b.index) }
        pooled = IndexRing(capacity: blocks.count)
        // Several reads at once only where reads can run side by side: regular files and
        // block devices (a pipe's bytes come in one order).
        if endpoint.handle == nil && endpoint.seekable && endpoint.depth > 1 {
            pool = try? FileReadPool(fd: endpoint.fd, blocks: blocks, depth: endpoint.depth)
        } else {
            pool = nil
        }
    }

    func run() {
        // Completions go back to the SIM's threads once this thread no longer asks for them.
        defer {
            endpoint.handle?.stopPolling()
            pool?.shutdown()
        }
        let loop: Epoll
        do throws(SystemError) {
            loop = try Epoll(capacity: 8, for: "the camdd reader") { (loop) throws(SystemError) in
                try loop.add(mailbox.descriptor, .readable, token: 0, on: "the camdd reader's mailbox")
                if let pool { try loop.add(pool.descriptor, .readable, token: 1, on: "camdd file reads") }
                if let h = endpoint.handle {
                    try loop.add(h.descriptor, .readable, token: 1, on: h.name)
                    // Polled completion: the SIM's descriptors wake this thread, and `get` below
                    // takes the completions itself (no hand-over from a SIM thread).
                    if endpoint.options.poll, let fds = h.startPolling() {
                        for fd in fds { try loop.add(fd, .readable, token: 2, on: "\(h.name)'s SIM") }
                    }
                }
            }
        } catch {
            fail("camdd: \(CAMDDError.system(error))")
            finish()
            return
        }
        while true {
            let (_, stop) = mailbox.take(into: returned)
            while let i = returned.pop() { free.push(i) }
            if stop && issuing {
                issuing = false
                if failure == nil { end = .stopped }
            }
            var progress = false
            if issuing {
                if endpoint.handle != nil {
                    progress = issuePass()
                } else if pool != nil {
                    progress = issuePooled()
                } else {
                    progress = readFile()
                }
            }
            if let pool {
                pool.take(into: pooled)
                while let i = pooled.pop() {
                    poolInFlight -= 1
                    completePooled(blocks[i])
                    progress = true
                }
            }
            if let h = endpoint.handle {
                while let ccb = h.get() {
                    completePass(ccb)
                    progress = true
                }
            }
            deliver()
            if !issuing && inFlight == 0 {
                finish()
                return
            }
            if !progress {
                // Files have no other event than the peer's posts: spin a little first when
                // the peer is a file too (its next post is microseconds away).
                // (Not with a read pool: its completions come on another descriptor.)
                if spinNanoseconds > 0 && pool == nil && mailbox.spin(nanoseconds: spinNanoseconds) { continue }
                if let pool, !pool.prepareToSleep() { continue }
                if mailbox.prepareToSleep() {
                    _ = try? loop.wait { token, _ in if token == 0 { mailbox.clear() } }
                }
            }
        }
    }

    private func finish() {
        deliver()
        peer.postEnd(end)
    }

    /// Sequence of the read `failure` is about (Int.max: not about one read).
    private var failureSequence = Int.max

    /// Records a failure and stops issuing. A failed read earlier in the stream than the one
    /// already reported replaces it (and is reported too): with commands completing out of
    /// order, the earliest failed read is the one that ends the output.
    private func fail(_ message: String, sequence: Int = Int.max) {
        if failure == nil || sequence < failureSequence {
            failure = message
            failureSequence = sequence
            report(message)
        }
        end = .readError
        issuing = false
    }

    /// The next read: (position, bytes wanted), or nil at the end.
    private func nextRead() -> (UInt64, Int)? {
        var want = endpoint.blockSize
        if let limit {
            if position >= limit { return nil }
            want = Int(min(UInt64(want), limit - position))
        }
        return (position, want)
    }

    // MARK: pass

    private func issuePass() -> Bool {
        guard let handle = endpoint.handle else { return false }
        var progress = false
        let sector = endpoint.sectorSize
        while issuing && inFlight < endpoint.depth, let i = free.first {
            guard let (pos, want) = nextRead() else {
                issuing = false
                break
            }
            let block = blocks[i]
            let ccb = block.ccb!
            // A pass device reads whole sectors; the part past `want` (a -m limit that is not a
            // sector multiple) is read and not handed on.
            let readBytes = (want + sector - 1) / sector * sector
            let lba = (endpoint.offset + pos) / UInt64(sector)
            let cdb = CDB.readWrite(isWrite: false, lba: lba, blocks: UInt32(readBytes / sector),
                                    minimumSize: endpoint.options.minimumCommandSize)
            ccb.setSCSI(cdb: cdb, data: .buffer(UnsafeMutableRawBufferPointer(rebasing: block.storage[0..<readBytes])),
                        direction: .in, timeoutNanoseconds: timeoutNanoseconds)
            if settings.errorRecovery {
                ccb.flags.insert(.errorRecovery)
                ccb.retryCount = settings.retryCount
            } else {
                ccb.flags.remove(.errorRecovery)
                ccb.retryCount = 0
            }
            block.sequence = nextSequence
            block.position = pos
            block.length = want
            let now = camMonotonicNanoseconds()
            do {
                try handle.queue(ccb)
            } catch {
                fail("camdd: error queueing \(cdb.commandName) at LBA \(lba) to \(handle.name): \(error)")
                break
            }
            if endpoint.options.debug > 0 {
                report("camdd: \(handle.name): queued \(cdb.commandName) LBA \(lba) blocks \(readBytes / sector)")
            }
            counters.started(at: now)
            free.pop()
            nextSequence += 1
            position += UInt64(want)
            inFlight += 1
            progress = true
        }
        return progress
    }

    private func completePass(_ ccb: CCB) {
        let block = blocks[Int(ccb.cookie)]
        inFlight -= 1
        let ok = ccb.status == .requestComplete
        counters.finished(at: camMonotonicNanoseconds(), latency: ccb.durationNanoseconds, ok: ok)
        if ok {
            // A short transfer ends the input after this block.
            let got = min(ccb.transferred, block.length)
            if got < block.length {
                block.length = got
                issuing = false
                // Reads past this one are past the end: none of them is handed on.
                cutoff = min(cutoff, block.sequence + 1)
            }
        } else {
            block.length = 0
            if block.sequence < cutoff {
                cutoff = block.sequence
                let r = ErrorReport.lines(for: ccb, on: endpoint.handle!, verbose: settings.verbose)
                for line in r.detail { report(line) }
                fail("camdd: \(r.summary)", sequence: block.sequence)
            }
        }
        reorder[block.sequence % blocks.count] = block.index
    }

    // MARK: file

    /// One synchronous read (camdd_file_run): fills the block completely unless the input
    /// ends, so that only the last block is short (a pipe returns what it has; dd's
    /// iflag=fullblock).
    private func readFile() -> Bool {
        guard let i = free.first else { return false }
        guard let (pos, want) = nextRead() else {
            issuing = false
            return true
        }
        let block = blocks[i]
        let base = block.storage.baseAddress!
        let fd = endpoint.fd
        let fileOffset = endpoint.offset + pos
        // O_DIRECT reads whole aligned blocks: ask for `want` rounded up, keep `want`.
        let align = endpoint.directAlignment
        let ask = align > 0 ? (want + align - 1) / align * align : want
        var got = 0
        var atEnd = false
        var error: Int32 = 0
        let start = camMonotonicNanoseconds()
        counters.started(at: start)
        while got < want {
            if !endpoint.seekable {
                switch waitForStream(fd, events: Int16(POLLIN)) {
                case .ready: break
                case .stop:
                    issuing = false
                    if failure == nil { end = .stopped }
                    counters.finished(at: camMonotonicNanoseconds(), latency: camMonotonicNanoseconds() &- start, ok: true)
                    return true
                }
            }
            let n = endpoint.seekable
                ? pread(fd, base + got, ask - got, off_t(fileOffset + UInt64(got)))
                : read(fd, base + got, want - got)
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                error = errno
                break
            }
            if n == 0 { atEnd = true; break }
            got += n
            // A short pread of a regular file is its end; asking again would cost a call.
            if endpoint.fileType == .regular && got < want { atEnd = true; break }
        }
        got = min(got, want)
        let now = camMonotonicNanoseconds()
        counters.finished(at: now, latency: now &- start, ok: error == 0)
        if error != 0 {
            fail("camdd: Error reading from \(endpoint.name) at offset \(fileOffset + UInt64(got)): \(errnoText(error))")
            // What was read before the error still goes to the writer.
        }
        if atEnd || error != 0 { issuing = false }
        if got == 0 { return true }
        free.pop()
        block.sequence = nextSequence
        block.position = pos
        block.length = got
        nextSequence += 1
        position += UInt64(got)
        reorder[block.sequence % blocks.count] = block.index
        return true
    }

    /// Queues reads to the pool's depth - 1 threads, then runs one read on this thread (the
    /// depth-th), so that two CPUs at depth 2 are two readers, not three threads.
    private func issuePooled() -> Bool {
        guard let pool else { return false }
        var progress = false
        let align = endpoint.directAlignment
        while issuing, let i = free.first {
            guard let (pos, want) = nextRead() else {
                issuing = false
                break
            }
            // The pool's threads get two reads each (the next waits while one runs, so they
            // never idle while this thread is inside its own pread); then this thread reads,
            // keeping a block to spare for the pool's next.
            let mine = poolInFlight >= 2 * (endpoint.depth - 1)
            if mine && free.count < 2 { break }
            let block = blocks[i]
            block.sequence = nextSequence
            block.position = pos
            block.length = want
            block.readError = 0
            let now = camMonotonicNanoseconds()
            block.startedAt = now
            counters.started(at: now)
            free.pop()
            nextSequence += 1
            position += UInt64(want)
            inFlight += 1
            let ask = align > 0 ? (want + align - 1) / align * align : want
            progress = true
            if mine {
                FileReadPool.readWhole(endpoint.fd, into: block, offset: endpoint.offset + pos, want: want, ask: ask)
                completePooled(block)
                break
            }
            poolInFlight += 1
            pool.submit(block, offset: endpoint.offset + pos, want: want, ask: ask)
        }
        return progress
    }

    /// A pooled read is back: a short one ends the input after it, a failed one ends the copy
    /// with what came before it (as a pass device's medium error does).
    private func completePooled(_ block: Block) {
        inFlight -= 1
        let now = camMonotonicNanoseconds()
        let ok = block.readError == 0
        counters.finished(at: now, latency: now &- block.startedAt, ok: ok)
        let wanted = blockWanted(block)
        if !ok {
            if block.sequence < cutoff {
                fail("camdd: Error reading from \(endpoint.name) at offset \(endpoint.offset + block.position + UInt64(block.length)): \(errnoText(block.readError))",
                     sequence: block.sequence)
            }
            // The bytes read before the error still count, as with a single read: this block
            // is cut to them and handed on; everything after it is not.
            cutoff = min(cutoff, block.sequence + 1)
        } else if block.length < wanted {
            issuing = false
            cutoff = min(cutoff, block.sequence + 1)
        }
        reorder[block.sequence % blocks.count] = block.index
    }

    /// What a block's read asked for (the last one may be cut by the -m limit).
    private func blockWanted(_ block: Block) -> Int {
        var want = endpoint.blockSize
        if let limit { want = Int(min(UInt64(want), limit - block.position)) }
        return want
    }

    enum StreamWait { case ready, stop }

    /// Waits until a pipe or terminal can be read or written, or a stop is posted, so that a
    /// SIGINT is not stuck behind a read that never returns.
    func waitForStream(_ fd: Int32, events: Int16) -> StreamWait {
        streamPoll.removeAll()
        streamPoll.append(fd, events: events)
        streamPoll.append(mailbox.descriptor, events: Int16(POLLIN))
        while true {
            if mailbox.isStopRequested { return .stop }
            guard (try? streamPoll.wait(timeout: nil, on: endpoint.name)) != nil else { return .ready }
            if streamPoll.revents(0) != 0 { return .ready }
            if streamPoll.revents(1) != 0 { mailbox.clear() }
        }
    }

    // MARK: hand-over

    /// Hands completed blocks to the writer strictly in sequence; blocks after a failed read
    /// are not handed on.
    private func deliver() {
        let n = blocks.count
        while nextDelivery < nextSequence {
            let slot = nextDelivery % n
            let i = reorder[slot]
            if i < 0 { break }
            reorder[slot] = -1
            let block = blocks[i]
            nextDelivery += 1
            if block.sequence >= cutoff || block.length == 0 {
                free.push(i)
                continue
            }
            block.outstandingSlices = 0
            block.fullySliced = false
            counters.add(bytes: block.length)
            if let discardCounters {
                discardCounters.add(bytes: block.length)
                free.push(i)
            } else {
                outgoing.push(i)
            }
        }
        if discardCounters == nil { peer.post(outgoing) }
    }
}
