#if canImport(Glibc)
import Glibc
#endif
import CAM

/// A command the device holds until its latency has passed.
struct TimedCompletion {
    var due: UInt64
    var sequence: UInt64
    let ccb: CCB
    let disk: EmulatedDisk
    let bus: CAMBus
    /// The latency was longer than the CCB's time-out: complete as command time-out, at the
    /// time-out. The command was not run.
    let timedOut: Bool

    @inline(__always)
    static func < (a: TimedCompletion, b: TimedCompletion) -> Bool {
        a.due != b.due ? a.due < b.due : a.sequence < b.sequence
    }
}

/// One timer thread with a min-heap of delayed completions, completing each one through its
/// bus when due. Equal due times complete in the order they were started.
///
/// Its lock is a leaf: nothing else is locked while it is held, and it is never taken while a
/// target's lock is held.
final class CompletionTimer: @unchecked Sendable {
    // @unchecked: `heap`, `sequence`, `thread` and `stopping` are guarded by `lock`.
    private let lock = CAMLock()
    private let condition = CAMCondition()
    private var heap: [TimedCompletion] = []
    private var sequence: UInt64 = 0
    private var thread: CAMThread?
    private var stopping = false
    private let name: String

    /// How close to the due time the thread stops sleeping and yields instead.
    static let spinNanoseconds: UInt64 = 60_000

    init(name: String) {
        self.name = name
        heap.reserveCapacity(1024)
    }

    /// Holds `entry` until due. Returns false when the timer is stopped (the caller completes it).
    func schedule(_ entry: TimedCompletion) -> Bool {
        lock.lock()
        if stopping { lock.unlock(); return false }
        var e = entry
        e.sequence = sequence
        sequence &+= 1
        heap.append(e)
        siftUp(heap.count - 1)
        if thread == nil {
            thread = CAMThread(name: name) { [self] in self.loop() }
        }
        // Wake the thread only when this entry is now the earliest: it sleeps until the first.
        if heap[0].sequence == e.sequence { condition.signal() }
        lock.unlock()
        return true
    }

    private func loop() {
        var batch: [TimedCompletion] = []
        batch.reserveCapacity(256)
        lock.lock()
        while true {
            if stopping { lock.unlock(); return }
            guard let first = heap.first else { condition.wait(lock); continue }
            let now = camMonotonicNanoseconds()
            if first.due > now {
                let left = first.due - now
                if left > CompletionTimer.spinNanoseconds {
                    // Timed waits overshoot by the kernel's timer slack (50 µs by default), so
                    // sleep until shortly before the due time and yield the rest.
                    condition.wait(lock, timeoutNanoseconds: left - CompletionTimer.spinNanoseconds + 5_000)
                } else {
                    lock.unlock()
                    sched_yield()
                    lock.lock()
                }
                continue
            }
            while let top = heap.first, top.due <= now { batch.append(popLocked()) }
            lock.unlock()
            for e in batch { CompletionTimer.fire(e) }
            batch.removeAll(keepingCapacity: true)
            lock.lock()
        }
    }

    /// Completes a delayed command: frees its task slot and hands it to CAM.
    static func fire(_ e: TimedCompletion, overrideStatus: CAMStatus? = nil) {
        e.disk.lock.lock()
        e.disk.tasks -= 1
        let removed = e.disk.removed
        if e.timedOut && overrideStatus == nil && !removed { e.disk.stats.timeouts += 1 }
        e.disk.lock.unlock()
        if let status = overrideStatus ?? (removed ? .deviceNotThere : (e.timedOut ? .commandTimeout : nil)) {
            e.ccb.complete(status: status, scsiStatus: .good, residual: e.ccb.data.length)
            e.ccb.senseLength = 0
        }
        e.disk.polled.offer(e.ccb, bus: e.bus)
    }

    /// Takes out the entries `match` selects (removal, reset, abort); the caller completes them.
    func remove(where match: (TimedCompletion) -> Bool) -> [TimedCompletion] {
        lock.lock()
        defer { lock.unlock() }
        guard heap.contains(where: match) else { return [] }
        var taken: [TimedCompletion] = []
        var kept: [TimedCompletion] = []
        kept.reserveCapacity(heap.capacity)
        for e in heap { if match(e) { taken.append(e) } else { kept.append(e) } }
        heap = kept
        // Heapify bottom-up.
        var i = heap.count / 2
        while i > 0 { i -= 1; siftDown(i) }
        if !heap.isEmpty { condition.signal() }
        return taken
    }

    /// Stops the thread and returns what it still held.
    func stop() -> [TimedCompletion] {
        let t: CAMThread? = lock.withLock {
            stopping = true
            condition.signal()
            return thread
        }
        t?.join()
        return lock.withLock {
            let rest = heap
            heap.removeAll()
            return rest
        }
    }

    // MARK: heap

    private func popLocked() -> TimedCompletion {
        let top = heap[0]
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            siftDown(0)
        }
        return top
    }

    private func siftUp(_ index: Int) {
        var i = index
        while i > 0 {
            let parent = (i - 1) / 2
            guard heap[i] < heap[parent] else { return }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    private func siftDown(_ index: Int) {
        var i = index
        let n = heap.count
        while true {
            let l = 2 * i + 1
            guard l < n else { return }
            var m = l
            if l + 1 < n && heap[l + 1] < heap[l] { m = l + 1 }
            guard heap[m] < heap[i] else { return }
            heap.swapAt(i, m)
            i = m
        }
    }
}
