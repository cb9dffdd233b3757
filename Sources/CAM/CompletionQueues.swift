#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// CAM's done queues (FreeBSD's `cam_doneq` threads, seed 004): where SIMs' completions go.
///
/// A finished CCB is processed (its slot freed, error recovery decided, then handed to its
/// periph or open) either on one of N completion threads, chosen by hashing the device's
/// bus:target:lun so that one device stays in order and devices spread over CPUs, or
/// directly on the SIM's thread for a bus whose SIM opted in (`xpt_done_direct`). A polled
/// device's completions are always processed on the polling thread: that is what polling is for.
public final class CompletionQueues: @unchecked Sendable {
    // @unchecked: each queue's fields are guarded by that queue's lock; `threads` and
    // `started` by `startLock`; `stopped` is atomic.
    final class Queue: @unchecked Sendable {
        // Guarded by `lock`.
        let lock = CAMLock()
        let condition = CAMCondition()
        var head: CCB?
        var tail: CCB?
        var stopping = false
    }

    private let queues: [Queue]
    private let startLock = CAMLock()
    private var threads: [CAMThread] = []
    private var started = false
    private let stopped = Atomic<Bool>(false)
    /// Retries that must wait (BUSY, becoming ready).
    let delayed = DelayedRunner()

    init(count: Int) {
        queues = (0..<max(1, count)).map { _ in Queue() }
    }

    /// Online CPUs.
    public static var cpuCount: Int {
        let n = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        return n > 0 ? n : 1
    }

    /// The completion threads' count.
    package var threadCount: Int { queues.count }

    /// Routes a finished CCB: processed here when `direct` or its device is polled, else
    /// queued to its device's completion thread.
    func route(_ ccb: CCB, direct: Bool) {
        guard let device = ccb.device else { return }
        if direct || device.isPolled.load(ordering: .relaxed) || stopped.load(ordering: .relaxed) {
            process(ccb)
            return
        }
        startIfNeeded()
        let q = queues[queueIndex(device.path)]
        q.lock.lock()
        ccb.queueNext = nil
        if let t = q.tail { t.queueNext = ccb } else { q.head = ccb }
        q.tail = ccb
        q.condition.signal()
        q.lock.unlock()
    }

    /// Which thread serves `path`: a hash of bus:target:lun.
    func queueIndex(_ path: CAMPath) -> Int {
        var x = UInt64(truncatingIfNeeded: path.bus) &* 0x9E37_79B9_7F4A_7C15
        x ^= UInt64(truncatingIfNeeded: path.target) &* 0xC2B2_AE3D_27D4_EB4F
        x ^= path.lun &* 0x1656_67B1_9E37_79F9
        x ^= x >> 29
        return Int(x % UInt64(queues.count))
    }

    /// Completion processing: free the slot and count the command, retry when recovery asks
    /// for it, start what waits, hand the CCB to its periph or open.
    func process(_ ccb: CCB) {
        guard let record = ccb.device else { return }
        let recover = ccb.status != .requestComplete && (ccb.retriesLeft > 0 || ccb.expectsResetAttention)
        // Collected: this thread is inside the SIM for the device's loop, which settles it.
        guard record.finish(ccb, startNext: !recover) else { return }
        if recover {
            if retried(ccb, record) { return }
            record.startQueued()
        }
        CompletionQueues.deliver(ccb)
    }

    /// For a CCB the device's loop finished: decides recovery. Returns true when the CCB is
    /// finished for good (to be delivered), false when a retry took it.
    func settle(_ ccb: CCB) -> Bool {
        guard let record = ccb.device else { return false }
        guard ccb.status != .requestComplete, ccb.retriesLeft > 0 || ccb.expectsResetAttention else { return true }
        return !retried(ccb, record)
    }

    /// Hands a finished CCB to its periph or open.
    static func deliver(_ ccb: CCB) {
        ccb.leave()?.ccbDone(ccb)
    }

    /// Error recovery (CAM_PASS_ERR_RECOVER): true when the CCB was sent again (now or later).
    private func retried(_ ccb: CCB, _ record: CAMDeviceRecord) -> Bool {
        if ccb.expectsResetAttention {
            // The report of the reset already retried for: one more try, not counted (as
            // Linux's midlayer does with the UNIT ATTENTION it expects after a reset). Without
            // this, -C 1 is spent on a lost connection and its UNIT ATTENTION fails the retry.
            ccb.expectsResetAttention = false
            if ErrorRecovery.reportsReset(ccb) {
                ccb.retriesDone += 1
                requeue(ccb, on: record)
                return true
            }
        }
        guard ccb.retriesLeft > 0 else { return false }
        let action = ErrorRecovery.action(for: ccb)
        if action == .none { return false }
        ccb.retriesLeft -= 1
        ccb.retriesDone += 1
        ccb.expectsResetAttention = ErrorRecovery.isReset(ccb.status)
        if case .retryAfter(let ns) = action {
            record.startQueued()
            delayed.run(afterNanoseconds: ns) { [self] in self.requeue(ccb, on: record) }
        } else {
            requeue(ccb, on: record)
        }
        return true
    }

    private func requeue(_ ccb: CCB, on record: CAMDeviceRecord) {
        let done = ccb.retriesDone
        let left = ccb.retriesLeft
        let expects = ccb.expectsResetAttention
        ccb.resetOutcome()
        ccb.retriesDone = done
        ccb.retriesLeft = left
        ccb.expectsResetAttention = expects
        if !record.requeue(ccb) {
            // Gone, or its opener closed: it ends here (a closed open drops it).
            ccb.state = .done
            if record.isGone { ccb.status = .deviceNotThere } else { ccb.status = .requestAborted }
            CompletionQueues.deliver(ccb)
        }
    }

    private func startIfNeeded() {
        startLock.lock()
        defer { startLock.unlock() }
        guard !started else { return }
        started = true
        for (i, q) in queues.enumerated() {
            threads.append(CAMThread(name: "cam-done\(i)") { [unowned self] in
                self.run(q)
            })
        }
    }

    private func run(_ q: Queue) {
        while true {
            q.lock.lock()
            while q.head == nil && !q.stopping { q.condition.wait(q.lock) }
            if q.head == nil && q.stopping { q.lock.unlock(); return }
            var batch = q.head
            q.head = nil
            q.tail = nil
            q.lock.unlock()
            while let ccb = batch {
                batch = ccb.queueNext
                ccb.queueNext = nil
                process(ccb)
            }
        }
    }

    /// Ends the threads after they have processed what is queued; later completions are
    /// processed on the thread that completes them.
    func stop() {
        stopped.store(true, ordering: .releasing)
        for q in queues {
            q.lock.withLock { q.stopping = true; q.condition.signal() }
        }
        let ts = startLock.withLock { threads }
        for t in ts { t.join() }
        // A CCB routed while the threads were stopping: process it here.
        for q in queues {
            var rest = q.lock.withLock { () -> CCB? in
                let h = q.head
                q.head = nil
                q.tail = nil
                return h
            }
            while let ccb = rest {
                rest = ccb.queueNext
                ccb.queueNext = nil
                process(ccb)
            }
        }
        delayed.stop()
    }
}

/// Runs closures after a delay on one thread: retries that must wait (BUSY, NOT READY becoming
/// ready) are rare, so one thread with a sorted list is enough.
final class DelayedRunner: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = CAMLock()
    private let condition = CAMCondition()
    private var items: [(UInt64, @Sendable () -> Void)] = []
    private var thread: CAMThread?
    private var stopping = false

    func run(afterNanoseconds delay: UInt64, _ body: @escaping @Sendable () -> Void) {
        lock.lock()
        let due = camMonotonicNanoseconds() &+ delay
        let i = items.firstIndex { $0.0 > due } ?? items.count
        items.insert((due, body), at: i)
        if thread == nil {
            thread = CAMThread(name: "cam-delay") { [self] in loop() }
        }
        condition.signal()
        lock.unlock()
    }

    private func loop() {
        lock.lock()
        while true {
            if stopping { lock.unlock(); return }
            guard let first = items.first else { condition.wait(lock); continue }
            let now = camMonotonicNanoseconds()
            if first.0 > now {
                condition.wait(lock, timeoutNanoseconds: first.0 - now)
                continue
            }
            items.removeFirst()
            lock.unlock()
            first.1()
            lock.lock()
        }
    }

    func stop() {
        let t: CAMThread? = lock.withLock {
            stopping = true
            condition.signal()
            return thread
        }
        t?.join()
        let rest = lock.withLock { () -> [@Sendable () -> Void] in
            let r = items.map { $0.1 }
            items.removeAll()
            return r
        }
        for body in rest { body() }
    }
}
