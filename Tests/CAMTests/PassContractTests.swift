#if canImport(Glibc)
import Glibc
#endif
import CAM
import CAMEmulator
import SCSI
import Testing

@Suite("pass(4) contract: CAMIOQUEUE / CAMIOGET")
struct PassContractTests {
    @Test("thousands of CCBs complete out of order with their cookies intact")
    func outOfOrderCookies() throws {
        let (xpt, _, _) = try makeEmulated { c, _ in c.latency = .random(min: .microseconds(1), max: .microseconds(400)) }
        defer { xpt.shutdown() }
        let h = try xpt.open(unit: 0)
        defer { h.close() }
        let total = 4000
        let depth = 32
        let ccbs = (0..<depth).map { _ in CCB() }
        var issued = 0
        var seen = Set<UInt64>()
        var order: [UInt64] = []
        var free = ccbs
        while seen.count < total {
            while issued < total, let c = free.popLast() {
                c.setSCSI(cdb: tur())
                c.cookie = UInt64(issued) ^ 0xA5A5_5A5A_0F0F_F0F0
                c.context = ccbs[0]
                try h.queue(c)
                issued += 1
            }
            guard h.wait(timeout: .milliseconds(5000)) else { Issue.record("no completion in 5 s"); return }
            while let c = h.get() {
                #expect(c.status == .requestComplete)
                #expect(c.context === ccbs[0])
                let n = c.cookie ^ 0xA5A5_5A5A_0F0F_F0F0
                #expect(n < UInt64(total))
                #expect(seen.insert(n).inserted, "cookie \(n) came back twice")
                order.append(n)
                free.append(c)
            }
        }
        #expect(seen.count == total)
        #expect(order != order.sorted(), "with random latency some completions must come back out of order")
    }

    @Test("completions through the XPT's worker threads: every CCB back once, on several devices at once")
    func workerCompletions() throws {
        let (xpt, _, _) = try makeEmulated(disks: 3, completeOnWorkers: true) { c, _ in
            c.latency = .random(min: .microseconds(1), max: .microseconds(200))
        }
        defer { xpt.shutdown() }
        let handles = try (0..<3).map { try xpt.open(unit: $0) }
        defer { handles.forEach { $0.close() } }
        for (d, h) in handles.enumerated() {
            for i in 0..<300 { try h.queue(CCB(cdb: tur(), cookie: UInt64(d * 1000 + i))) }
        }
        for (d, h) in handles.enumerated() {
            let back = reap(h, count: 300)
            #expect(back.count == 300)
            #expect(Set(back.map(\.cookie)) == Set((0..<300).map { UInt64(d * 1000 + $0) }))
            #expect(back.allSatisfy { $0.status == .requestComplete })
        }
    }

    @Test("get on an empty queue returns nothing, and the eventfd is readable exactly while completions wait")
    func emptyGetAndEventfd() throws {
        // A latency far above any scheduling delay (the thread sanitizer slows things down a lot),
        // so "nothing has completed yet" holds when checked.
        let (xpt, _, _) = try makeEmulated { c, _ in c.latency = .fixed(.seconds(1)) }
        defer { xpt.shutdown() }
        let h = try xpt.open(unit: 0)
        defer { h.close() }
        #expect(h.get() == nil)
        #expect(!readable(h.descriptor))
        let a = CCB(cdb: tur()), b = CCB(cdb: tur())
        try h.queue(a)
        try h.queue(b)
        #expect(h.get() == nil, "nothing completes before its latency")
        var p = pollfd(fd: h.descriptor, events: Int16(POLLIN), revents: 0)
        #expect(poll(&p, 1, 5000) == 1)
        // Wait until both are done, then check the level at each step.
        let deadline = camMonotonicNanoseconds() + 5_000_000_000
        while h.completedCount < 2 && camMonotonicNanoseconds() < deadline { usleep(1000) }
        #expect(readable(h.descriptor))
        #expect(h.get() != nil)
        #expect(readable(h.descriptor), "one completion still waits")
        #expect(h.get() != nil)
        #expect(!readable(h.descriptor), "drained: not readable")
        #expect(h.get() == nil)
    }

    @Test("a CCB over maxio is refused at queue")
    func overMaxIO() throws {
        let (xpt, _, _) = try makeEmulated(maxIO: 64 << 10)
        defer { xpt.shutdown() }
        let h = try xpt.open(unit: 0)
        defer { h.close() }
        let buf = Buffer(128 << 10)
        let c = CCB(cdb: rw10(write: false, lba: 0, blocks: 256), data: .buffer(buf.raw), direction: .in)
        #expect(throws: CAMError.self) { try h.queue(c) }
        do { try h.queue(c) } catch { #expect(error.code == .dataTooLong) }
        // Exactly maxio is fine.
        let ok = CCB(cdb: rw10(write: false, lba: 0, blocks: 128), data: .buffer(UnsafeMutableRawBufferPointer(rebasing: buf.raw[0..<(64 << 10)])), direction: .in)
        try h.execute(ok)
        #expect(ok.status == .requestComplete)
    }

    @Test("XPT-only functions, empty S/G lists and inconsistent data are refused")
    func badRequests() throws {
        let (xpt, _, _) = try makeEmulated()
        defer { xpt.shutdown() }
        let h = try xpt.open(unit: 0)
        defer { h.close() }
        for f in [CCBFunction.scanBus, .scanLUN, .resetBus, .deviceMatch, .engineInquiry, .engineExecute] {
            let c = CCB()
            c.function = f
            do { try h.queue(c); Issue.record("\(f) was accepted") } catch { #expect(error.code == .xptOnlyFunction) }
        }
        let sg = SGList(capacity: 4)
        let c = CCB(cdb: rw10(write: false, lba: 0, blocks: 1), data: .scatterGather(sg), direction: .in)
        do { try h.queue(c); Issue.record("empty S/G accepted") } catch { #expect(error.code == .badDataDescriptor) }
        let buf = Buffer(512)
        let nodir = CCB(cdb: rw10(write: false, lba: 0, blocks: 1), data: .buffer(buf.raw), direction: .none)
        do { try h.queue(nodir); Issue.record("data without direction accepted") } catch { #expect(error.code == .badDataDescriptor) }
        let nocdb = CCB()
        do { try h.queue(nocdb); Issue.record("empty CDB accepted") } catch { #expect(error.code == .badCDB) }
        #expect(h.outstandingCount == 0)
    }

    @Test("immediate CCBs complete at once onto the done queue")
    func immediate() throws {
        let (xpt, _, _) = try makeEmulated(maxIO: 256 << 10, commandSlots: 7)
        defer { xpt.shutdown() }
        let h = try xpt.open(unit: 0)
        defer { h.close() }
        let pi = CCB()
        pi.function = .pathInquiry
        pi.cookie = 42
        try h.queue(pi)
        #expect(readable(h.descriptor))
        let got = h.get()
        #expect(got === pi)
        #expect(pi.cookie == 42)
        #expect(pi.pathInquiry?.maxIO == 256 << 10)
        #expect(pi.pathInquiry?.commandSlots == 7)
        let gd = CCB()
        gd.function = .getDeviceInfo
        try h.queue(gd)
        #expect(h.get() === gd)
        #expect(gd.deviceInfo?.unit == 0)
        #expect(gd.deviceInfo?.peripheralType == .directAccess)
    }

    @Test("closing with commands in flight drops their completions and frees the device record after they drain")
    func closeWithInFlight() throws {
        let (xpt, sim, _) = try makeEmulated { c, _ in c.latency = .fixed(.milliseconds(30)) }
        defer { xpt.shutdown() }
        let baseline = xpt.liveRecords.count
        // In a function of its own so that nothing of ours keeps the handle alive afterwards.
        func openQueueClose() throws {
            let h = try xpt.open(unit: 0)
            for _ in 0..<100 { try h.queue(CCB(cdb: tur())) }
            h.close()
            #expect(h.get() == nil)
            do { try h.queue(CCB(cdb: tur())); Issue.record("queue on a closed handle worked") } catch { #expect(error.code == .handleClosed) }
        }
        try openQueueClose()
        // Remove the device too: now only the abandoned commands keep its record alive.
        sim.removeDisk(target: 0, lun: 0)
        let deadline = camMonotonicNanoseconds() + 10_000_000_000
        while xpt.liveRecords.count >= baseline && camMonotonicNanoseconds() < deadline { usleep(5_000) }
        #expect(xpt.liveRecords.count == baseline - 1, "the record is freed once the abandoned commands drain")
        #expect(xpt.unitsInUse.isEmpty)
    }

    @Test("a device removed mid-I/O: queue fails, queued CCBs complete with device-not-there, the unit is not reused while open")
    func removalMidIO() throws {
        let (xpt, sim, _) = try makeEmulated(disks: 1, commandSlots: 4) { c, _ in c.latency = .fixed(.milliseconds(20)) }
        defer { xpt.shutdown() }
        let h = try xpt.open(unit: 0)
        defer { h.close() }
        let ccbs = (0..<40).map { i in CCB(cdb: tur(), cookie: UInt64(i)) }
        for c in ccbs { try h.queue(c) }
        sim.removeDisk(target: 0, lun: 0)
        do { try h.queue(CCB(cdb: tur())); Issue.record("queue after removal worked") } catch { #expect(error.code == .deviceGone) }
        let back = reap(h, count: 40)
        #expect(back.count == 40, "every queued CCB comes back")
        let notThere = back.filter { $0.status == .deviceNotThere }.count
        #expect(notThere >= 36, "the ones not started complete with device-not-there (got \(notThere))")
        #expect(Set(back.map(\.cookie)).count == 40)
        // A new disk at another target must not take unit 0 while the handle is open.
        try sim.addDisk(target: 1, lun: 0, EmulatedDiskConfiguration())
        let deadline = camMonotonicNanoseconds() + 5_000_000_000
        while xpt.devices().isEmpty && camMonotonicNanoseconds() < deadline { usleep(5_000) }
        #expect(xpt.devices().map(\.unit) == [1])
        #expect(xpt.unitsInUse == [0, 1])
        h.close()
        #expect(xpt.unitsInUse == [1])
    }

    @Test("error recovery retries a UNIT ATTENTION only when asked")
    func unitAttentionRecovery() throws {
        let (xpt, sim, _) = try makeEmulated()
        defer { xpt.shutdown() }
        let h = try xpt.open(unit: 0)
        defer { h.close() }
        sim.injectUnitAttention(target: 0, lun: 0)
        let raw = CCB(cdb: tur())
        try h.execute(raw)
        #expect(raw.status == .scsiStatusError)
        #expect(raw.scsiStatus == .checkCondition)
        #expect(raw.senseData?.senseKey == .unitAttention)
        #expect(raw.retriesDone == 0)

        sim.injectUnitAttention(target: 0, lun: 0)
        let recovered = CCB(cdb: tur())
        recovered.flags.insert(.errorRecovery)
        recovered.retryCount = 2
        try h.execute(recovered)
        #expect(recovered.status == .requestComplete)
        #expect(recovered.retriesDone == 1)

        // Asked, but with no retries left: the raw status comes back.
        sim.injectUnitAttention(target: 0, lun: 0)
        let noRetries = CCB(cdb: tur())
        noRetries.flags.insert(.errorRecovery)
        noRetries.retryCount = 0
        try h.execute(noRetries)
        #expect(noRetries.senseData?.senseKey == .unitAttention)
    }

    @Test("a reset already retried for does not spend a second retry on its UNIT ATTENTION")
    func resetThenItsUnitAttention() throws {
        let (xpt, _, _) = try makeEmulated { c, _ in c.latency = .fixed(.milliseconds(200)) }
        defer { xpt.shutdown() }
        let h = try xpt.open(unit: 0)
        defer { h.close() }
        // One retry each: the reset takes it; the UNIT ATTENTION 29/03 that the reset leaves
        // (the report of that same event) must not fail the command.
        let held = (0..<2).map { i -> CCB in
            let c = CCB(cdb: tur(), cookie: UInt64(i))
            c.flags.insert(.errorRecovery)
            c.retryCount = 1
            return c
        }
        for c in held { try h.queue(c) }
        usleep(20_000)
        let reset = CCB()
        reset.function = .resetDevice
        try h.execute(reset)
        #expect(reset.status == .requestComplete)
        let back = reap(h, count: 2)
        #expect(back.count == 2)
        for c in back {
            #expect(c.status == .requestComplete, "\(c.status) \(c.senseData?.description ?? "")")
        }
        // Both were retried for the reset; the one that met the UNIT ATTENTION once more.
        #expect(back.map(\.retriesDone).sorted() == [1, 2])

        // Without a reset before it, a UNIT ATTENTION takes a retry as always: none left, so
        // it comes back.
        let (xpt2, sim2, _) = try makeEmulated()
        defer { xpt2.shutdown() }
        let h2 = try xpt2.open(unit: 0)
        defer { h2.close() }
        sim2.injectUnitAttention(target: 0, lun: 0, asc: 0x29, ascq: 0x03)
        let plain = CCB(cdb: tur())
        plain.flags.insert(.errorRecovery)
        plain.retryCount = 0
        try h2.execute(plain)
        #expect(plain.senseData?.senseKey == .unitAttention)
        #expect(plain.retriesDone == 0)
    }

    @Test("a medium error is not retried away and comes back with its sense")
    func mediumErrorNotRetried() throws {
        let (xpt, _, _) = try makeEmulated { c, _ in c.mediumErrorLBAs = [100...107] }
        defer { xpt.shutdown() }
        let h = try xpt.open(unit: 0)
        defer { h.close() }
        let buf = Buffer(8 * 512)
        let c = CCB(cdb: rw10(write: false, lba: 96, blocks: 8), data: .buffer(buf.raw), direction: .in)
        c.flags.insert(.errorRecovery)
        c.retryCount = 5
        try h.execute(c)
        #expect(c.status == .scsiStatusError)
        #expect(c.senseData?.senseKey == .mediumError)
        #expect(c.senseData?.asc == 0x11)
        #expect(c.retriesDone == 0)
    }

    @Test("each handle has its own queues; the device's slots are shared between handles")
    func perHandleQueues() throws {
        let (xpt, _, _) = try makeEmulated(commandSlots: 2) { c, _ in c.latency = .fixed(.milliseconds(1)) }
        defer { xpt.shutdown() }
        let a = try xpt.open(unit: 0)
        let b = try xpt.open(unit: 0)
        defer { a.close(); b.close() }
        for i in 0..<50 { try a.queue(CCB(cdb: tur(), cookie: UInt64(i))) }
        for i in 0..<5 { try b.queue(CCB(cdb: tur(), cookie: 1000 + UInt64(i))) }
        let fromB = reap(b, count: 5)
        #expect(fromB.map(\.cookie).sorted() == Array(1000..<1005))
        // b's five finished long before a's fifty: round-robin, not first-come.
        #expect(a.outstandingCount == 50, "nothing of a's was taken back yet")
        #expect(a.completedCount < 25, "a still had most of its work left when b was done (\(a.completedCount) done)")
        let fromA = reap(a, count: 50)
        #expect(fromA.allSatisfy { $0.cookie < 1000 })
        #expect(fromA.count == 50)
    }

    @Test("the async sequence delivers completions")
    func asyncCompletions() async throws {
        let (xpt, _, _) = try makeEmulated { c, _ in c.latency = .random(min: .microseconds(10), max: .microseconds(200)) }
        defer { xpt.shutdown() }
        let h = try xpt.open(unit: 0)
        defer { h.close() }
        for i in 0..<64 { try h.queue(CCB(cdb: tur(), cookie: UInt64(i))) }
        var got: Set<UInt64> = []
        for await c in h.completions {
            got.insert(c.cookie)
            if got.count == 64 { break }
        }
        #expect(got == Set(0..<64))
    }

    @Test("abort takes back a queued CCB; outstanding CCBs can be listed")
    func abortAndList() throws {
        let (xpt, _, _) = try makeEmulated(commandSlots: 1) { c, _ in c.latency = .fixed(.milliseconds(50)) }
        defer { xpt.shutdown() }
        let h = try xpt.open(unit: 0)
        defer { h.close() }
        let first = CCB(cdb: tur(), cookie: 1), second = CCB(cdb: tur(), cookie: 2)
        try h.queue(first)
        try h.queue(second)
        let listed = h.outstandingCCBs()
        #expect(listed.started.map(\.cookie) == [1])
        #expect(listed.queued.map(\.cookie) == [2])
        let abort = CCB()
        abort.function = .abort
        abort.abortTarget = second
        try h.queue(abort)
        let back = reap(h, count: 3)
        #expect(back.first { $0 === abort }?.status == .requestComplete)
        #expect(back.first { $0 === second }?.status == .requestAborted)
        #expect(back.first { $0 === first }?.status == .requestComplete)
    }

    @Test("device statistics count operations, bytes and latency")
    func devstat() throws {
        let (xpt, _, _) = try makeEmulated { c, _ in c.latency = .fixed(.microseconds(100)) }
        defer { xpt.shutdown() }
        let h = try xpt.open(unit: 0)
        defer { h.close() }
        let buf = Buffer(4096)
        for _ in 0..<10 {
            try h.execute(CCB(cdb: rw10(write: true, lba: 0, blocks: 8), data: .buffer(buf.raw), direction: .out))
            try h.execute(CCB(cdb: rw10(write: false, lba: 0, blocks: 8), data: .buffer(buf.raw), direction: .in))
        }
        let s = h.statistics
        #expect(s.operations.read == 10)
        #expect(s.operations.write == 10)
        #expect(s.bytesRead == 40960)
        #expect(s.bytesWritten == 40960)
        #expect(s.latency.count == 20 + s.operations.none)
        #expect((s.latency.percentile(0.5) ?? 0) >= 100_000)
        #expect(s.busyNanoseconds >= 20 * 100_000)
    }
}
