#if canImport(Glibc)
import Glibc
#endif
import CAM

/// A command waiting for a file-backed disk's I/O thread.
struct QueuedCommand {
    let ccb: CCB
    let disk: EmulatedDisk
    let slot: TargetSlot
    let bus: CAMBus
    /// With latency: when it completes (it holds a task slot until then). 0: when it has run.
    let due: UInt64
    /// The timer that completes it when `due` is set.
    let timer: CompletionTimer

    /// Runs the command on the I/O thread and completes it, or hands it to its timer.
    func run() {
        disk.lock.lock()
        if disk.removed {
            disk.lock.unlock()
            finish(.deviceNotThere)
            return
        }
        disk.runLocked(ccb, slot: slot)
        disk.lock.unlock()
        guard due != 0 else {
            // As the disk's timer would: on this thread, or through the XPT's workers.
            disk.polled.offer(ccb, bus: bus)
            return
        }
        let entry = TimedCompletion(due: due, sequence: 0, ccb: ccb, disk: disk, bus: bus, timedOut: false)
        if !timer.schedule(entry) { CompletionTimer.fire(entry, overrideStatus: .deviceNotThere) }
    }

    /// Completes the command without running it (removal, reset, abort, shutdown).
    func finish(_ status: CAMStatus) {
        if due != 0 { disk.lock.withLock { disk.tasks -= 1 } }
        ccb.complete(status: status, scsiStatus: .good, residual: ccb.data.length)
        ccb.senseLength = 0
        disk.polled.offer(ccb, bus: bus)
    }
}

/// The I/O thread of a file-backed emulated disk. pread, pwrite and fdatasync wait for the
/// file system, and the pass contract says `queue()` never waits for I/O: so `start` only
/// queues the command here, and this thread runs the disk's commands one at a time, in the
/// order they were started (a later command sees an earlier one's data, as with the inline
/// RAM disk), and completes each one itself (`CAMBus.complete`), or through the
/// XPT's workers when the emulator was made with `completeOnWorkers`.
///
/// Started on the first command. Its lock is a leaf: never taken with a target's lock held.
final class DiskIOThread: @unchecked Sendable {
    // @unchecked: `pending`, `head`, `thread`, `worker` and `stopping` are guarded by `lock`.
    private let lock = CAMLock()
    private let condition = CAMCondition()
    /// A queue: taken from `head`, appended at the end; taken slots are nil.
    private var pending: [QueuedCommand?] = []
    private var head = 0
    private var thread: CAMThread?
    private var worker: pthread_t?
    private var stopping = false
    private let name: String

    init(name: String) { self.name = name }

    /// Queues `command`. Returns false when the thread is stopped (the caller completes it).
    func submit(_ command: QueuedCommand) -> Bool {
        lock.lock()
        if stopping { lock.unlock(); return false }
        if thread == nil {
            pending.reserveCapacity(256)
            thread = CAMThread(name: name) { [self] in self.loop() }
        }
        let wasEmpty = head == pending.count
        pending.append(command)
        if wasEmpty { condition.signal() }
        lock.unlock()
        return true
    }

    private func loop() {
        lock.lock()
        worker = pthread_self()
        while true {
            if stopping { lock.unlock(); return }
            guard head < pending.count else { condition.wait(lock); continue }
            var next = pending[head]
            pending[head] = nil
            head += 1
            compactLocked()
            guard next != nil else { continue }
            lock.unlock()
            next!.run()
            // Let go of the command (perhaps the disk's last reference, whose deinit stops
            // this thread and takes `lock`) before taking the lock again.
            next = nil
            lock.lock()
        }
    }

    /// Keeps the array from growing while commands keep coming: empty it when drained, and
    /// move the rest down when most of it is taken (in place: no allocation).
    private func compactLocked() {
        if head == pending.count {
            pending.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 64 && head * 2 >= pending.count {
            pending.removeFirst(head)
            head = 0
        }
    }

    /// Takes out the queued commands `match` selects (reset, abort); the caller completes them.
    func remove(where match: (QueuedCommand) -> Bool) -> [QueuedCommand] {
        lock.withLock {
            var taken: [QueuedCommand] = []
            for i in head..<pending.count {
                if let c = pending[i], match(c) {
                    taken.append(c)
                    pending[i] = nil
                }
            }
            if !taken.isEmpty {
                pending = Array(pending[head...].filter { $0 != nil })
                head = 0
            }
            return taken
        }
    }

    /// Stops the thread (after the command it is running) and returns the commands still
    /// queued; the caller completes them. From the thread itself, it does not wait for itself.
    func stop() -> [QueuedCommand] {
        let (t, onWorker): (CAMThread?, Bool) = lock.withLock {
            stopping = true
            condition.signal()
            return (thread, worker.map { pthread_equal($0, pthread_self()) != 0 } ?? false)
        }
        if !onWorker { t?.join() }
        return lock.withLock {
            let rest = pending[head...].compactMap { $0 }
            pending.removeAll()
            head = 0
            return rest
        }
    }
}
