#if canImport(Glibc)
import Glibc
#endif

/// N completion threads (N = CPUs), FreeBSD's cam_doneq threads: a CCB's worker is chosen by
/// hashing its bus:target:lun, so one device's completions stay in order and devices spread
/// over CPUs. Started on first use.
public final class CompletionWorkers: @unchecked Sendable {
    // @unchecked: each queue's fields are guarded by that queue's lock; `threads` and
    // `started` by `startLock`.
    final class Queue: @unchecked Sendable {
        // Guarded by `lock`.
        let lock = CAMLock()
        let condition = CAMCondition()
        var head: CCB?
        var tail: CCB?
        var stopping = false
    }

    let queues: [Queue]
    private let startLock = CAMLock()
    private var threads: [CAMThread] = []
    private var started = false
    private let process: @Sendable (CCB) -> Void

    init(count: Int, process: @escaping @Sendable (CCB) -> Void) {
        queues = (0..<max(1, count)).map { _ in Queue() }
        self.process = process
    }

    /// Online CPUs.
    public static var cpuCount: Int {
        let n = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        return n > 0 ? n : 1
    }

    func enqueue(_ ccb: CCB, path: CAMPath) {
        startIfNeeded()
        var h = Hasher()
        h.combine(path)
        let q = queues[Int(UInt(bitPattern: h.finalize()) % UInt(queues.count))]
        q.lock.lock()
        ccb.queueNext = nil
        if let t = q.tail { t.queueNext = ccb } else { q.head = ccb }
        q.tail = ccb
        q.condition.signal()
        q.lock.unlock()
    }

    private func startIfNeeded() {
        startLock.lock()
        defer { startLock.unlock() }
        guard !started else { return }
        started = true
        for (i, q) in queues.enumerated() {
            let process = self.process
            threads.append(CAMThread(name: "cam-done\(i)") {
                CompletionWorkers.run(q, process)
            })
        }
    }

    private static func run(_ q: Queue, _ process: (CCB) -> Void) {
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

    func stop() {
        for q in queues {
            q.lock.withLock { q.stopping = true; q.condition.signal() }
        }
        let ts = startLock.withLock { threads }
        for t in ts { t.join() }
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
