#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// One opener's pending queue at a device: a pass open's, or a periph's own. The fields are
/// the device record's: guarded by its lock and touched only by `CAMDeviceRecord`.
final class DeviceQueue: @unchecked Sendable {
    // @unchecked: see above; nothing outside this file reads or writes the fields.
    fileprivate var head: CCB?
    fileprivate var tail: CCB?
    fileprivate var attached = false
    init() {}
}

/// One device (CAM's `cam_ed`): its command slots, the pending queue of each opener, what is
/// in flight, its statistics, its periphs. It keeps all of these private; periphs, opens and
/// the XPT ask it to queue, take back, finish and invalidate.
///
/// Starting commands is a loop that one thread at a time runs for a device (`runLoopLocked`).
/// A SIM may complete a CCB on the very thread that is starting it (a RAM disk answers
/// inline); such a completion is collected, and the loop finishes it after `start` returns,
/// so nothing re-enters itself through the SIM. A polled harvest (`harvest`) runs the same
/// loop around the SIM's `poll`, and hands back what finished for good instead of delivering it.
///
/// Lock order (see XPT.swift): topology lock, then this record's `lock`, then an open's done
/// lock. `pollLock` is taken before an open's done lock and never while `lock` is held.
final class CAMDeviceRecord: @unchecked Sendable {
    // @unchecked: the fields under "device lock" are guarded by `lock`; `inquiry` and
    // `passUnit` by the XPT's topology lock; the polling fields by `pollLock`.
    let path: CAMPath
    let bus: CAMBus
    let slots: Int
    let maxIO: Int
    private let counter: CAMRecordCounter

    // topology lock
    var inquiry: [UInt8] = []
    var passUnit = -1

    // device lock
    private let lock = CAMLock()
    private var gone = false
    private var queues: [DeviceQueue] = []
    private var roundRobin = 0
    private var slotsInUse = 0
    private var flightHead: CCB?
    private var stats = DeviceStatisticsStorage()
    /// The thread running the start loop, if one is.
    private var loopThread: pthread_t?
    /// Completions that arrived on the loop thread while it was inside the SIM.
    private var collectedHead: CCB?
    private var collectedTail: CCB?
    private var periphList: [CAMPeriph] = []
    private var periphGeneration = 0

    // poll lock: taken before an open's done lock and the SIM's own locks, never while `lock`
    // is held
    let pollLock = CAMLock()
    /// Opens that poll this device.
    var pollers = 0
    /// What the SIM gave for `startPolling`, while `pollers > 0`.
    var pollDescriptors: [Int32] = []
    /// Read without the lock on the I/O path (a stale answer costs one poll or one wait).
    let isPolled = Atomic<Bool>(false)

    init(path: CAMPath, bus: CAMBus, counter: CAMRecordCounter) {
        self.path = path
        self.bus = bus
        self.slots = max(1, bus.pathInquiry.commandSlots)
        self.maxIO = bus.pathInquiry.maxIO
        self.counter = counter
        counter.add(1)
    }

    deinit {
        stats.free()
        counter.add(-1)
    }

    // MARK: openers' queues

    /// Adds an opener's queue; fails once the device is gone.
    func attach(_ queue: DeviceQueue, name: String) throws(CAMError) {
        lock.lock()
        defer { lock.unlock() }
        if gone { throw CAMError(.deviceGone, "\(name): the device is gone") }
        queue.attached = true
        queues.append(queue)
    }

    /// Removes an opener's queue; returns the CCBs it had queued and not started (they are
    /// the opener's again).
    func detach(_ queue: DeviceQueue) -> [CCB] {
        lock.lock()
        defer { lock.unlock() }
        guard queue.attached else { return [] }
        queue.attached = false
        queues.removeAll { $0 === queue }
        return drainLocked(queue)
    }

    /// Queues a CCB for `target` and starts what the slots allow. Fails when the device is
    /// gone or the queue detached; then the CCB is untouched.
    func enqueue(_ ccb: CCB, on queue: DeviceQueue, target: any CAMDoneTarget, name: String) throws(CAMError) {
        lock.lock()
        if gone || !queue.attached {
            let gone = self.gone
            lock.unlock()
            throw gone ? CAMError(.deviceGone, "CAMIOQUEUE on \(name): the device is gone")
                       : CAMError(.handleClosed, "CAMIOQUEUE on \(name): the handle is closed")
        }
        ccb.enterQueue(device: self, queue: queue, target: target)
        pushLocked(ccb, on: queue, atHead: ccb.flags.contains(.queueAtHead))
        runLoopLocked()
    }

    /// Puts a CCB that is being retried back at the head of its queue. False when the device
    /// is gone or the queue detached (the retry cannot happen).
    func requeue(_ ccb: CCB) -> Bool {
        lock.lock()
        guard !gone, let queue = ccb.queue, queue.attached else { lock.unlock(); return false }
        pushLocked(ccb, on: queue, atHead: true)
        runLoopLocked()
        return true
    }

    /// Where a CCB to abort stands (XPT_ABORT).
    enum AbortLookup { case takenBack, started, finished, notHere }

    /// Looks up a CCB to abort among `queue`'s: a queued one is taken back at once (it is
    /// the caller's to complete as aborted), a started one is for the SIM to abort.
    func lookUpForAbort(_ ccb: CCB, in queue: DeviceQueue) -> AbortLookup {
        lock.lock()
        defer { lock.unlock() }
        guard ccb.queue === queue else { return .notHere }
        switch ccb.state {
        case .inFlight: return .started
        case .pending: break
        default: return .finished
        }
        var prev: CCB?
        var c = queue.head
        while let cur = c {
            if cur === ccb {
                if let prev { prev.queueNext = cur.queueNext } else { queue.head = cur.queueNext }
                if queue.tail === cur { queue.tail = prev }
                cur.queueNext = nil
                return .takenBack
            }
            prev = cur
            c = cur.queueNext
        }
        return .finished
    }

    /// What `queue` has outstanding: queued and started (pass(4)'s to-do 2).
    func outstanding(of queue: DeviceQueue) -> (queued: [CCB], started: [CCB]) {
        lock.lock()
        defer { lock.unlock() }
        var queued: [CCB] = []
        var c = queue.head
        while let ccb = c { queued.append(ccb); c = ccb.queueNext }
        var started: [CCB] = []
        c = flightHead
        while let ccb = c { if ccb.queue === queue { started.append(ccb) }; c = ccb.flightNext }
        return (queued, started)
    }

    private func pushLocked(_ ccb: CCB, on queue: DeviceQueue, atHead: Bool) {
        ccb.state = .pending
        if atHead {
            ccb.queueNext = queue.head
            queue.head = ccb
            if queue.tail == nil { queue.tail = ccb }
        } else {
            ccb.queueNext = nil
            if let t = queue.tail { t.queueNext = ccb } else { queue.head = ccb }
            queue.tail = ccb
        }
    }

    private func popLocked(_ queue: DeviceQueue) -> CCB? {
        guard let ccb = queue.head else { return nil }
        queue.head = ccb.queueNext
        if queue.head == nil { queue.tail = nil }
        ccb.queueNext = nil
        return ccb
    }

    private func drainLocked(_ queue: DeviceQueue) -> [CCB] {
        var out: [CCB] = []
        while let c = popLocked(queue) { out.append(c) }
        return out
    }

    /// Round robin across queues: each queue with work gets the next slot in turn.
    private func nextPendingLocked() -> CCB? {
        let n = queues.count
        guard n > 0 else { return nil }
        for i in 0..<n {
            if let ccb = popLocked(queues[(roundRobin + i) % n]) {
                roundRobin = (roundRobin + i + 1) % n
                return ccb
            }
        }
        return nil
    }

    // MARK: the start loop

    /// Starts queued CCBs while slots are free (unless another thread's loop is running; it
    /// sees the work before it stops).
    func startQueued() {
        lock.lock()
        runLoopLocked()
    }

    /// Called with the lock held; returns with it released.
    private func runLoopLocked() {
        if loopThread != nil { lock.unlock(); return }
        loopThread = pthread_self()
        var none: CCB?
        loopLocked(harvest: false, finished: &none)
    }

    /// The loop's body; `loopThread` is this thread. Starts what the slots allow and settles
    /// what was collected, until neither has anything left. With `harvest`, CCBs that end for
    /// good are linked into `finished` (through `queueNext`) instead of being delivered.
    private func loopLocked(harvest: Bool, finished: inout CCB?) {
        var finishedTail: CCB?
        while true {
            if !gone, slotsInUse < slots, let ccb = nextPendingLocked() {
                beginLocked(ccb)
                lock.unlock()
                bus.driver.start(ccb, at: path)
                lock.lock()
                continue
            }
            guard var c = collectedHead else { break }
            collectedHead = nil
            collectedTail = nil
            let now = camMonotonicNanoseconds()
            var chain: CCB? = c
            while true {
                finishLocked(c, now: now)
                guard let next = c.queueNext else { break }
                c = next
            }
            lock.unlock()
            while let ccb = chain {
                chain = ccb.queueNext
                ccb.queueNext = nil
                guard bus.completions.settle(ccb) else { continue }
                if harvest {
                    if let t = finishedTail { t.queueNext = ccb } else { finished = ccb }
                    finishedTail = ccb
                } else {
                    CompletionQueues.deliver(ccb)
                }
            }
            lock.lock()
        }
        loopThread = nil
        lock.unlock()
    }

    /// Runs `poll` (the SIM's `poll(at:)`) as this device's loop thread and returns the CCBs
    /// that finished for good meanwhile, linked through `queueNext`, for the caller to hand
    /// out. When another thread runs the loop, polls anyway; what completes is then delivered
    /// as usual and nothing is returned.
    func harvest(_ poll: () -> Void) -> CCB? {
        lock.lock()
        if loopThread != nil {
            lock.unlock()
            poll()
            return nil
        }
        loopThread = pthread_self()
        lock.unlock()
        poll()
        lock.lock()
        var finished: CCB?
        loopLocked(harvest: true, finished: &finished)
        return finished
    }

    private func beginLocked(_ ccb: CCB) {
        slotsInUse += 1
        let now = camMonotonicNanoseconds()
        if flightHead == nil { stats.busySince = now }
        ccb.flightNext = flightHead
        ccb.flightPrev = nil
        flightHead?.flightPrev = ccb
        flightHead = ccb
        ccb.state = .inFlight
        ccb.startNanoseconds = now
        if slotsInUse > stats.maxInFlight { stats.maxInFlight = slotsInUse }
    }

    // MARK: completion

    /// A started CCB came back from the SIM: frees its slot and counts it. When this thread is
    /// the device's loop thread (the SIM answered inside `start` or `poll`), the CCB is only
    /// collected, and the loop finishes it: returns false then. With `startNext`, starts what
    /// waits before returning.
    func finish(_ ccb: CCB, startNext: Bool) -> Bool {
        lock.lock()
        if let t = loopThread, pthread_equal(t, pthread_self()) != 0 {
            ccb.queueNext = nil
            if let tail = collectedTail { tail.queueNext = ccb } else { collectedHead = ccb }
            collectedTail = ccb
            lock.unlock()
            return false
        }
        finishLocked(ccb, now: camMonotonicNanoseconds())
        if startNext { runLoopLocked() } else { lock.unlock() }
        return true
    }

    private func finishLocked(_ ccb: CCB, now: UInt64) {
        guard ccb.state == .inFlight else { return }
        slotsInUse -= 1
        if let p = ccb.flightPrev { p.flightNext = ccb.flightNext } else if flightHead === ccb { flightHead = ccb.flightNext }
        ccb.flightNext?.flightPrev = ccb.flightPrev
        ccb.flightNext = nil
        ccb.flightPrev = nil
        if flightHead == nil { stats.busyNanoseconds &+= now &- stats.busySince }
        let latency = now &- ccb.startNanoseconds
        ccb.durationNanoseconds = latency
        ccb.state = .done
        let bytes = ccb.function.movesData ? ccb.transferred : 0
        stats.record(direction: ccb.direction, bytes: bytes, latency: latency, ok: ccb.status == .requestComplete)
    }

    // MARK: departure

    /// The device is gone: nothing new is queued or started; returns every CCB that was
    /// queued and not started, and the periphs, which the caller invalidates.
    func invalidate() -> (queued: [CCB], periphs: [CAMPeriph]) {
        lock.lock()
        defer { lock.unlock() }
        if gone { return ([], []) }
        gone = true
        var flushed: [CCB] = []
        for q in queues { flushed += drainLocked(q) }
        let ps = periphList
        periphList.removeAll()
        periphGeneration += 1
        return (flushed, ps)
    }

    /// Whether `invalidate` ran.
    var isGone: Bool { lock.withLock { gone } }

    // MARK: periphs

    /// Attaches a periph: it joins the list and its own queue is attached.
    func add(_ periph: CAMPeriph) throws(CAMError) {
        try attach(periph.ownQueue, name: periph.name)
        lock.withLock {
            periphList.append(periph)
            periphGeneration += 1
        }
    }

    /// The periphs attached, and the list's generation (XPT_GDEVLIST).
    var periphs: (list: [CAMPeriph], generation: Int) { lock.withLock { (periphList, periphGeneration) } }

    // MARK: statistics

    /// devstat for the device.
    var statistics: DeviceStatistics { lock.withLock { DeviceStatistics(storage: stats) } }

    /// Starts the statistics again from zero (after the probe's commands).
    func resetStatistics() {
        lock.withLock {
            stats.free()
            stats = DeviceStatisticsStorage()
        }
    }
}
