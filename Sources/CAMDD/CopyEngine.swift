#if canImport(Glibc)
import Glibc
#endif
import CAM
import CAMSystem
import Synchronization

/// How a copy ended.
public enum CopyOutcome: String, Sendable, Equatable {
    /// The input ended, the -m limit or the end of the output was reached.
    case completed
    /// A read or write failed; the statistics count what reached the output.
    case failed
    /// SIGINT or SIGTERM stopped it.
    case interrupted
}

/// The end of a copy.
public struct CopyResult: Sendable, Equatable {
    public var outcome: CopyOutcome
    public var statistics: CopyStatistics
    /// The first failure, as printed.
    public var error: String?
    /// The output device was full before the input ended (not an error, as in camdd(8)).
    public var outputFull: Bool
}

/// The copy engine (camdd(8)'s camdd_rw): a reader thread and a writer thread, each with its
/// own epoll loop over its device's completion descriptor and a mailbox eventfd for its peer,
/// joined by in-order hand-over and zero-copy reblocking.
///
/// Beyond camdd(8): an output that is /dev/null is a sink (its to-do 2: "a sink mode, so we do
/// only reads with no writes"): the reader counts and recycles each block itself and no writer
/// thread runs. A regular file or block device input with depth > 1 reads through a
/// `FileReadPool`. Pass devices whose SIM can poll complete on the reader's and writer's own
/// threads (`PassHandle.startPolling`).
///
/// Memory is fixed before the copy starts: the reader gets `depth_in + ceil(depth_out × bs_out
/// / bs_in)` blocks of `bs_in` bytes (one more when neither size divides the other), the writer `depth_out + 1` requests with S/G lists
/// sized for `bs_out`; nothing is allocated per request.
public final class CopyEngine: @unchecked Sendable {
    // The workers own their state while running; `start`/`wait`/`run` are called by one
    // controlling thread; `requestStop` and `liveStatistics` are safe from any thread (they
    // touch only mailboxes and atomics).
    public let input: Endpoint
    public let output: Endpoint
    public let settings: IOSettings
    public let maxBytes: UInt64?

    let inputCounters = EndpointCounters()
    let outputCounters = EndpointCounters()
    private let blocks: [Block]
    private let requests: [WriteRequest]
    private let readerMailbox: Mailbox
    private let writerMailbox: Mailbox
    private let reader: Reader
    private let writer: Writer
    /// Counts the workers that have finished; the controlling loop watches it.
    private let done: EventFD
    /// The output is /dev/null: no writer thread runs.
    private let discards: Bool
    private var threads: [CAMThread] = []
    private let startTime = Atomic<UInt64>(0)
    private let stopRequested = Atomic<Bool>(false)
    private var endTime: UInt64 = 0
    /// Whether the final statistics carry latency percentiles (`EndpointStatistics.latency`).
    /// Summing up the histograms costs about a millisecond; a tool that prints no latency
    /// (camdd without --json) turns it off.
    public var summarizesLatency = true

    /// Writes a line to standard error.
    public static let standardError: @Sendable (String) -> Void = { line in
        var s = line
        if !s.hasSuffix("\n") { s += "\n" }
        var utf8 = Array(s.utf8)
        var off = 0
        while off < utf8.count {
            let n = utf8.withUnsafeMutableBytes { write(2, $0.baseAddress! + off, $0.count - off) }
            if n <= 0 { if n < 0 && errno == EINTR { continue }; break }
            off += n
        }
    }

    /// Sets up the buffers and workers. `report` receives error and notice lines as they
    /// happen (default: standard error).
    public init(input: Endpoint, output: Endpoint, maxBytes: UInt64? = nil, settings: IOSettings = IOSettings(),
                report: @escaping @Sendable (String) -> Void = CopyEngine.standardError) throws(CAMDDError) {
        precondition(input.role == .input && output.role == .output, "CopyEngine(input:output:) got the roles swapped")
        self.input = input
        self.output = output
        self.settings = settings
        self.maxBytes = maxBytes == 0 ? nil : maxBytes

        let rbs = input.blockSize
        let wbs = output.blockSize
        // A file read with depth: two reads queued per pool thread plus the reader's own.
        let inDepth = input.kind == .file && input.depth > 1 ? 2 * input.depth : max(1, input.depth)
        let outDepth = max(1, output.depth)
        // Enough blocks for the writer's depth of full requests; one more when the sizes do not
        // divide each other, as a request then spans one block more than its size suggests.
        let misaligned = wbs % rbs != 0 && rbs % wbs != 0
        // Plus one, so the reader has a block to fill while the writer holds a full depth.
        let forWriter = (outDepth * wbs + rbs - 1) / rbs + (misaligned ? 1 : 0) + 1
        // Two synchronous file endpoints hand over a block per system call each; a little
        // more slack lets the reader go on while the writer thread waits for a CPU.
        let blockCount = max(inDepth + forWriter, input.kind == .file && output.kind == .file ? 4 : 0)
        let segments = (wbs + rbs - 1) / rbs + 3
        let alignment = max(4096, input.directAlignment)
        // A pass input reads into the device's own buffers when its SIM has them (sg: mapped
        // reserved buffers), so the data is not copied between kernel and user memory.
        var deviceBuffers: [any CAMDeviceBuffer] = []
        if let h = input.handle, input.options.zeroCopy {
            deviceBuffers = h.deviceBuffers(count: blockCount, size: rbs)
        }
        // A pass input into /dev/null: its blocks are read and discarded, never looked at, so
        // they share one buffer (measured on iSCSI at 1 MiB × 16: 16 buffers cost 3-4% against
        // iscsi-perf, whose reads land in recycled memory). File inputs keep their own blocks
        // (a file read is the copy itself, and depth= reads them side by side).
        let sharedSink = output.isNullDevice && input.kind == .pass
        let arena = deviceBuffers.count >= blockCount ? nil
            : BlockArena(count: blockCount, capacity: rbs, alignment: alignment, shared: sharedSink)
        blocks = (0..<blockCount).map { i in
            Block(index: i, capacity: rbs, alignment: alignment, pass: input.kind == .pass,
                  deviceBuffer: i < deviceBuffers.count ? deviceBuffers[i] : nil, arena: arena)
        }
        requests = (0...outDepth).map { WriteRequest(index: $0, segments: segments, pass: output.kind == .pass) }
        readerMailbox = try Mailbox(capacity: blockCount)
        writerMailbox = try Mailbox(capacity: blockCount)
        do throws(SystemError) { done = try EventFD(for: "camdd") } catch { throw CAMDDError.system(error) }

        var readLimit = self.maxBytes
        if input.kind == .pass || input.fileType == .blockDevice, let cap = input.capacity {
            let left = cap - input.offset
            readLimit = min(readLimit ?? left, left)
        }
        var writeLimit: UInt64?
        if output.kind == .pass || output.fileType == .blockDevice, let cap = output.capacity {
            writeLimit = cap - output.offset
        }
        // Spinning for the peer pays only when both sides are files: then the next hand-over is
        // microseconds away. A file side waiting on a device sleeps, leaving the CPU to the
        // device side's completions (on 2 cores the spin cost an iSCSI read 10-25%).
        // (Not when the output is /dev/null: there is no writer to post anything.)
        let spin: UInt64 = input.handle == nil && output.handle == nil && !output.isNullDevice ? 50_000 : 0
        // Output to /dev/null: the reader discards each block as it would hand it over, and
        // there is no writer thread (no hand-over, no write calls; sg_dd and ddpt do the same).
        discards = output.isNullDevice
        reader = Reader(endpoint: input, blocks: blocks, mailbox: readerMailbox, peer: writerMailbox,
                        counters: inputCounters, settings: settings, limit: readLimit, report: report,
                        spinNanoseconds: spin, discardCounters: discards ? outputCounters : nil)
        writer = Writer(endpoint: output, blocks: blocks, requests: requests, mailbox: writerMailbox,
                        peer: readerMailbox, counters: outputCounters, settings: settings, limit: writeLimit,
                        report: report, spinNanoseconds: spin)
    }

    /// How many of the reader's blocks are device buffers (no copy in or out of the kernel).
    public var deviceBufferCount: Int { blocks.filter(\.isDeviceBuffer).count }

    /// Buffer memory the copy uses, in bytes.
    public var bufferBytes: Int { blocks.count * input.blockSize }

    /// Starts the reader and writer threads.
    public func start() {
        precondition(threads.isEmpty, "CopyEngine.start called twice")
        inputCounters.recordsLatency = summarizesLatency
        outputCounters.recordsLatency = summarizesLatency
        startTime.store(camMonotonicNanoseconds(), ordering: .relaxed)
        let r = reader
        let w = writer
        // The threads hold the engine (and so `done`) until they have signalled.
        threads.append(CAMThread(name: "camdd-reader") { [self] in
            r.run()
            done.signal()
        })
        if discards { return }
        threads.append(CAMThread(name: "camdd-writer") { [self] in
            w.run()
            done.signal()
        })
    }

    /// Stops the copy cleanly (SIGINT): no new commands; those in flight complete and count.
    public func requestStop() {
        stopRequested.store(true, ordering: .relaxed)
        readerMailbox.postStop()
        writerMailbox.postStop()
    }

    /// Statistics so far: byte counts and elapsed time (for SIGUSR1 and --progress).
    public func liveStatistics() -> CopyStatistics {
        let now = camMonotonicNanoseconds()
        return CopyStatistics(input: inputCounters.snapshot(of: input, final: false),
                              output: outputCounters.snapshot(of: output, final: false),
                              elapsedNanoseconds: now &- startTime.load(ordering: .relaxed))
    }

    /// Waits for both threads and returns the result.
    public func wait() -> CopyResult {
        for t in threads { t.join() }
        if endTime == 0 { endTime = camMonotonicNanoseconds() }
        var inputStatistics = inputCounters.snapshot(of: input, final: true)
        inputStatistics.deviceBuffers = deviceBufferCount
        let stats = CopyStatistics(input: inputStatistics,
                                   output: outputCounters.snapshot(of: output, final: true),
                                   elapsedNanoseconds: endTime &- startTime.load(ordering: .relaxed))
        let error = reader.failure ?? writer.failure
        let outcome: CopyOutcome
        if stopRequested.load(ordering: .relaxed) {
            outcome = .interrupted
        } else if error != nil {
            outcome = .failed
        } else {
            outcome = .completed
        }
        return CopyResult(outcome: outcome, statistics: stats, error: error, outputFull: writer.reachedEnd)
    }

    /// Starts the copy and runs the controlling loop until it ends: SIGINT/SIGTERM stop it,
    /// SIGUSR1 (SIGINFO where it exists) calls `onStatus`, and every `progressInterval`
    /// `onProgress` is called. `signals` must have been created before any thread was started.
    public func run(signals: CopySignals?, progressInterval: Duration? = nil,
                    onStatus: (CopyStatistics) -> Void = { _ in },
                    onProgress: (CopyStatistics) -> Void = { _ in }) throws(CAMDDError) -> CopyResult {
        let loop: Epoll
        do throws(SystemError) {
            loop = try Epoll(capacity: 8, for: "camdd") { (loop) throws(SystemError) in
                try loop.add(done.descriptor, .readable, token: 0, on: "camdd's workers")
                if let signals { try loop.add(signals.descriptor, .readable, token: 1, on: "camdd's signals") }
            }
        } catch {
            throw CAMDDError.system(error)
        }
        start()
        var finished: UInt64 = 0
        // At least 1 ms, at most a day apart (so the sums below cannot overflow).
        let interval = progressInterval.map { min(max($0.nanosecondsRoundedUp, 1_000_000), 86_400_000_000_000) }
        var nextProgress = interval.map { camMonotonicNanoseconds() + $0 }
        let workers: UInt64 = discards ? 1 : 2
        while finished < workers {
            var timeout: Duration?
            if let next = nextProgress {
                let now = camMonotonicNanoseconds()
                timeout = next > now ? .milliseconds(min((next - now) / 1_000_000 + 1, 60_000)) : .zero
            }
            _ = try? loop.wait(timeout: timeout) { token, _ in
                switch token {
                case 0:
                    finished += done.drain()
                default:
                    while let signo = signals?.next() {
                        if CopySignals.isStatusSignal(signo) {
                            onStatus(liveStatistics())
                        } else {
                            requestStop()
                        }
                    }
                }
            }
            if let next = nextProgress, let interval, camMonotonicNanoseconds() >= next, finished < workers {
                onProgress(liveStatistics())
                nextProgress = next + interval
            }
        }
        endTime = camMonotonicNanoseconds()
        return wait()
    }
}

/// The signals a copy reacts to, read through a signalfd: SIGINT and SIGTERM stop the copy,
/// SIGUSR1 and SIGINFO ask for statistics (camdd(8) catches SIGINFO and SIGINT).
///
/// Create it first thing in `main`, before any thread starts: the signals are blocked in the
/// creating thread and every thread started after, so that only the signalfd sees them.
public final class CopySignals: @unchecked Sendable {
    // `signals` is immutable; reads from it are done by the one controlling thread.
    private let signals: SignalFD
    /// The signalfd, readable while a signal is pending.
    public var descriptor: Int32 { signals.descriptor }

    public init() throws(CAMDDError) {
        // Linux has no SIGINFO; SIGUSR1 stands in for it.
        do throws(SystemError) {
            signals = try SignalFD(blocking: [SIGINT, SIGTERM, SIGUSR1], for: "camdd")
        } catch {
            throw CAMDDError.system(error)
        }
    }

    /// The next pending signal, or nil.
    public func next() -> Int32? {
        (try? signals.next()) ?? nil
    }

    /// SIGUSR1 (SIGINFO on FreeBSD; Linux has none).
    public static func isStatusSignal(_ signo: Int32) -> Bool { signo == SIGUSR1 }
}
