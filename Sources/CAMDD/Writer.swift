#if canImport(Glibc)
import Glibc
#endif
import CAM
import CAMSystem
import SCSI

/// The writer thread (camdd(8)'s camdd_worker for the output device): builds requests of its
/// own block size from slices of the reader's blocks without copying them (S/G lists: a CCB
/// with CAM_DATA_SG for pass, pwritev/writev for files), keeps up to `depth` in flight, and
/// gives each block back to the reader once all its slices are written.
final class Writer: @unchecked Sendable {
    // Owned by the writer thread while it runs; the engine reads the outcome after joining.
    let endpoint: Endpoint
    /// How long to spin for the peer before sleeping (both ends files: 50 µs; else 0, so a
    /// file side waiting on a device does not take the CPU the device side needs).
    let spinNanoseconds: UInt64
    let blocks: [Block]
    let requests: [WriteRequest]
    let mailbox: Mailbox
    unowned let peer: Mailbox
    let counters: EndpointCounters
    /// A pipe or terminal and the mailbox, for `waitForStream` (made once: waits allocate nothing).
    private var streamPoll = PollSet(capacity: 2)
    let settings: IOSettings
    /// `settings.timeout` as each CCB takes it, converted once.
    let timeoutNanoseconds: UInt64
    let report: @Sendable (String) -> Void
    /// Bytes the output can take from its offset (end of a device), nil: no end.
    let limit: UInt64?

    // outcome
    private(set) var failure: String?
    /// The output device was full before the input ended.
    private(set) var reachedEnd = false
    private(set) var stoppedBySignal = false
    private(set) var padded = 0

    private let incoming: IndexRing
    private let toReturn: IndexRing
    private let freeRequests: IndexRing
    private let ready: IndexRing
    private var current: WriteRequest?
    /// Bytes of the first incoming block already put into requests.
    private var headUsed = 0
    /// Stream position of the next byte to put into a request.
    private var assembled: UInt64 = 0
    private var inFlight = 0
    private var streamEnd: StreamEnd?
    private var stopping = false
    private let zeros: UnsafeMutableRawBufferPointer
    private let bounce: UnsafeMutableRawBufferPointer?
    private var directOff = false

    init(endpoint: Endpoint, blocks: [Block], requests: [WriteRequest], mailbox: Mailbox, peer: Mailbox,
         counters: EndpointCounters, settings: IOSettings, limit: UInt64?,
         report: @escaping @Sendable (String) -> Void, spinNanoseconds: UInt64 = 0) {
        self.spinNanoseconds = spinNanoseconds
        self.endpoint = endpoint
        self.blocks = blocks
        self.requests = requests
        self.mailbox = mailbox
        self.peer = peer
        self.counters = counters
        self.settings = settings
        timeoutNanoseconds = CCB.nanoseconds(settings.timeout)
        self.limit = limit
        self.report = report
        incoming = IndexRing(capacity: blocks.count)
        toReturn = IndexRing(capacity: blocks.count)
        freeRequests = IndexRing(capacity: requests.count)
        ready = IndexRing(capacity: requests.count)
        for r in requests { freeRequests.push(r.index) }
        zeros = .allocate(byteCount: max(endpoint.sectorSize, 1), alignment: 4096)
        zeros.initializeMemory(as: UInt8.self, repeating: 0)
        if endpoint.directAlignment > 0 {
            let n = (endpoint.blockSize + endpoint.sectorSize + endpoint.directAlignment)
            let b = UnsafeMutableRawBufferPointer.allocate(byteCount: n, alignment: max(endpoint.directAlignment, 4096))
            b.initializeMemory(as: UInt8.self, repeating: 0)
            bounce = b
        } else {
            bounce = nil
        }
    }

    deinit {
        zeros.deallocate()
        bounce?.deallocate()
    }

    func run() {
        // Completions go back to the SIM's threads once this thread no longer asks for them.
        defer { endpoint.handle?.stopPolling() }
        let loop: Epoll
        do throws(SystemError) {
            loop = try Epoll(capacity: 8, for: "the camdd writer") { (loop) throws(SystemError) in
                try loop.add(mailbox.descriptor, .readable, token: 0, on: "the camdd writer's mailbox")
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
            peer.postStop()
            return
        }
        while true {
            let (end, stop) = mailbox.take(into: incoming)
            if let end, streamEnd == nil { streamEnd = end }
            if stop && !stopping {
                stopping = true
                stoppedBySignal = true
            }
            var progress = false
            if !stopping && failure == nil && !reachedEnd {
                progress = assemble() || progress
                progress = issue() || progress
            }
            if let h = endpoint.handle {
                while let ccb = h.get() {
                    completePass(ccb)
                    progress = true
                }
            }
            peer.post(toReturn)
            if inFlight == 0 && isFinished {
                // A reader still going (the output ended, a write failed) must stop too.
                if streamEnd == nil { peer.postStop() }
                return
            }
            if !progress {
                // Files have no other event than the peer's posts: spin a little first when
                // the peer is a file too (its next post is microseconds away).
                if spinNanoseconds > 0 && mailbox.spin(nanoseconds: spinNanoseconds) { continue }
                if mailbox.prepareToSleep() {
                    _ = try? loop.wait { token, _ in if token == 0 { mailbox.clear() } }
                }
            }
        }
    }

    /// Nothing more will be written.
    private var isFinished: Bool {
        if stopping || failure != nil { return true }
        if reachedEnd { return ready.isEmpty }
        return streamEnd != nil && incoming.isEmpty && current == nil && ready.isEmpty
    }

    private func fail(_ message: String) {
        if failure == nil {
            failure = message
            report(message)
        }
    }

    // MARK: reblocking

    /// Puts incoming bytes into requests of the output's block size: full ones go to the
    /// ready queue; at the end of input a partial one is padded (devices) and goes too.
    private func assemble() -> Bool {
        var progress = false
        let bs = endpoint.blockSize
        while let bi = incoming.first {
            if let limit, assembled >= limit {
                // The output is full: what is left is not written (camdd(8): the copy stops
                // at the end of either device).
                closeCurrent()
                reachedEnd = true
                return true
            }
            if current == nil {
                guard let ri = freeRequests.pop() else { break }
                current = requests[ri]
                current!.reset(position: assembled)
            }
            let req = current!
            let block = blocks[bi]
            var room = bs - req.length
            if let limit { room = Int(min(UInt64(room), limit - assembled)) }
            let n = min(block.length - headUsed, room)
            if n > 0 {
                guard req.append(block, from: headUsed, count: n) else {
                    // Cannot happen with the sizing in CopyEngine; send what there is.
                    closeCurrent()
                    continue
                }
                headUsed += n
                assembled += UInt64(n)
                progress = true
            }
            if headUsed == block.length {
                incoming.pop()
                headUsed = 0
                block.fullySliced = true
                if block.outstandingSlices == 0 { toReturn.push(bi) }
            }
            if req.length == bs || (limit != nil && assembled >= limit!) {
                ready.push(req.index)
                current = nil
            }
        }
        if incoming.isEmpty, streamEnd != nil, current != nil {
            closeCurrent()
            progress = true
        }
        return progress
    }

    /// Sends the request being built as it is, padded to a whole sector for a device.
    private func closeCurrent() {
        guard let req = current else { return }
        current = nil
        if req.length == 0 {
            freeRequests.push(req.index)
            return
        }
        let sector = endpoint.sectorSize
        if endpoint.padsLastBlock, req.length % sector != 0 {
            let pad = sector - req.length % sector
            req.sg.append(zeros.baseAddress!, length: pad)
            req.padding = pad
        }
        ready.push(req.index)
    }

    // MARK: issuing

    private func issue() -> Bool {
        var progress = false
        while inFlight < endpoint.depth, failure == nil, let ri = ready.first {
            let req = requests[ri]
            if endpoint.handle != nil {
                guard queuePass(req) else { break }
                ready.pop()
                inFlight += 1
            } else {
                ready.pop()
                writeFile(req)
            }
            progress = true
        }
        return progress
    }

    private func queuePass(_ req: WriteRequest) -> Bool {
        let handle = endpoint.handle!
        let ccb = req.ccb!
        let sector = endpoint.sectorSize
        let total = req.length + req.padding
        let lba = (endpoint.offset + req.position) / UInt64(sector)
        let cdb = CDB.readWrite(isWrite: true, lba: lba, blocks: UInt32(total / sector),
                                minimumSize: endpoint.options.minimumCommandSize)
        let data: CCBData = req.sg.count == 1
            ? .buffer(UnsafeMutableRawBufferPointer(start: req.sg.segments[0].iov_base, count: req.sg.segments[0].iov_len))
            : .scatterGather(req.sg)
        ccb.setSCSI(cdb: cdb, data: data, direction: .out, timeoutNanoseconds: timeoutNanoseconds)
        if settings.errorRecovery {
            ccb.flags.insert(.errorRecovery)
            ccb.retryCount = settings.retryCount
        } else {
            ccb.flags.remove(.errorRecovery)
            ccb.retryCount = 0
        }
        let now = camMonotonicNanoseconds()
        do {
            try handle.queue(ccb)
        } catch {
            fail("camdd: error queueing \(cdb.commandName) at LBA \(lba) to \(handle.name): \(error)")
            releaseSlices(req)
            return false
        }
        if endpoint.options.debug > 0 {
            report("camdd: \(handle.name): queued \(cdb.commandName) LBA \(lba) blocks \(total / sector) segments \(req.sg.count)")
        }
        counters.started(at: now)
        return true
    }

    private func completePass(_ ccb: CCB) {
        let req = requests[Int(ccb.cookie)]
        inFlight -= 1
        let ok = ccb.status == .requestComplete
        counters.finished(at: camMonotonicNanoseconds(), latency: ccb.durationNanoseconds, ok: ok)
        if ok {
            counters.add(bytes: ccb.transferred)
            if req.padding > 0 { notePadding(req.padding) }
        } else if failure == nil {
            let r = ErrorReport.lines(for: ccb, on: endpoint.handle!, verbose: settings.verbose)
            for line in r.detail { report(line) }
            fail("camdd: \(r.summary)")
        }
        releaseSlices(req)
    }

    private func notePadding(_ n: Int) {
        padded += n
        counters.paddedBytes &+= UInt64(n)
        report("camdd: padded the last block to \(endpoint.name) with \(n) zero byte\(n == 1 ? "" : "s") to a whole sector of \(endpoint.sectorSize)")
    }

    /// The request is done: each block whose last slice this was goes back to the reader.
    private func releaseSlices(_ req: WriteRequest) {
        for k in 0..<req.sourceCount {
            let block = blocks[req.sources[k]]
            block.outstandingSlices -= 1
            if block.outstandingSlices == 0 && block.fullySliced { toReturn.push(block.index) }
        }
        req.sourceCount = 0
        freeRequests.push(req.index)
    }

    // MARK: files

    /// One synchronous write (camdd_file_run): pwritev at the offset for seekable files,
    /// writev for pipes and character devices, continuing after short writes.
    private func writeFile(_ req: WriteRequest) {
        let fd = endpoint.fd
        let start = camMonotonicNanoseconds()
        counters.started(at: start)
        var iov = req.sg.segments
        var count = req.sg.count
        var total = req.length + req.padding
        let fileOffset = endpoint.offset + req.position
        var done = 0
        var error: Int32 = 0

        if endpoint.directAlignment > 0 {
            let a = endpoint.directAlignment
            if total % a != 0, !directOff {
                // The unaligned tail of a regular file: O_DIRECT cannot write it, so turn it off.
                let fl = fcntl(fd, F_GETFL)
                _ = fcntl(fd, F_SETFL, fl & ~OpenFlags.direct)
                directOff = true
            }
            var aligned = true
            for k in 0..<count where Int(bitPattern: iov[k].iov_base) % a != 0 || iov[k].iov_len % a != 0 {
                aligned = false
            }
            if !aligned && !directOff, let bounce {
                // O_DIRECT needs every segment aligned; copy this request into one buffer.
                req.sg.copyOut(to: UnsafeMutableRawBufferPointer(rebasing: bounce[0..<total]))
                iov[0] = iovec(iov_base: bounce.baseAddress, iov_len: total)
                count = 1
            }
        }

        while total > 0 {
            if !endpoint.seekable {
                if waitForStream(fd) == false {
                    stopping = true
                    stoppedBySignal = true
                    break
                }
            }
            let n = endpoint.seekable
                ? pwritev(fd, iov, Int32(min(count, 1024)), off_t(fileOffset + UInt64(done)))
                : writev(fd, iov, Int32(min(count, 1024)))
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                error = errno
                break
            }
            if n == 0 { error = EIO; break }
            done += n
            total -= n
            // Step over what was written, editing the (finished-with) iovecs in place.
            var left = n
            while left > 0 && count > 0 {
                if iov[0].iov_len <= left {
                    left -= iov[0].iov_len
                    iov += 1
                    count -= 1
                } else {
                    iov[0].iov_base = iov[0].iov_base! + left
                    iov[0].iov_len -= left
                    left = 0
                }
            }
        }
        let now = camMonotonicNanoseconds()
        counters.finished(at: now, latency: now &- start, ok: error == 0)
        counters.add(bytes: done)
        if error != 0 {
            fail("camdd: Error writing to \(endpoint.name) at offset \(fileOffset + UInt64(done)): \(errnoText(error))")
        } else if req.padding > 0 && total == 0 {
            notePadding(req.padding)
        }
        releaseSlices(req)
    }

    /// Waits until a pipe can take data, or a stop is posted. False: stop.
    private func waitForStream(_ fd: Int32) -> Bool {
        streamPoll.removeAll()
        streamPoll.append(fd, events: Int16(POLLOUT))
        streamPoll.append(mailbox.descriptor, events: Int16(POLLIN))
        while true {
            if mailbox.isStopRequested { return false }
            guard (try? streamPoll.wait(timeout: nil, on: endpoint.name)) != nil else { return true }
            if streamPoll.revents(0) != 0 { return true }
            if streamPoll.revents(1) != 0 { mailbox.clear() }
        }
    }
}
