#if canImport(Glibc)
import Glibc
#endif
import CAM
import CAMEmulator
import SCSI
import Testing

@Suite("polled completion: PassHandle.startPolling (CAM's sim_poll)")
struct PolledCompletionTests {
    @Test("while polled, completions wait for the polling thread, and every CCB comes back once, out of order")
    func harvestedByCaller() throws {
        let (xpt, _, _) = try makeEmulated { c, _ in c.latency = .random(min: .microseconds(1), max: .microseconds(300)) }
        defer { xpt.shutdown() }
        let h = try xpt.open(unit: 0)
        defer { h.close() }
        let fds = try #require(h.startPolling())
        #expect(fds.count == 1)
        #expect(h.isPolling)

        // Nothing harvests but us: after their latency the CCBs are done but not delivered.
        for i in 0..<10 { try h.queue(CCB(cdb: tur(), cookie: UInt64(i))) }
        usleep(50_000)
        #expect(h.completedCount == 0, "the SIM's thread must leave a polled device's completions alone")
        #expect(readable(fds[0]), "the poll descriptor is readable while completions wait")
        #expect(!readable(h.descriptor))
        let first = reap(h, count: 10)
        #expect(Set(first.map(\.cookie)) == Set(0..<10))
        #expect(!readable(fds[0]))

        let total = 3000
        var seen = Set<UInt64>()
        var order: [UInt64] = []
        var free = (0..<32).map { _ in CCB() }
        var issued = 0
        let deadline = camMonotonicNanoseconds() + 30_000_000_000
        while seen.count < total && camMonotonicNanoseconds() < deadline {
            while issued < total, let c = free.popLast() {
                c.setSCSI(cdb: tur())
                c.cookie = UInt64(issued)
                try h.queue(c)
                issued += 1
            }
            _ = h.wait(timeout: .milliseconds(1000))
            while let c = h.get() {
                #expect(c.status == .requestComplete)
                #expect(seen.insert(c.cookie).inserted, "cookie \(c.cookie) came back twice")
                order.append(c.cookie)
                free.append(c)
            }
        }
        #expect(seen.count == total)
        #expect(order != order.sorted(), "random latency must reorder some completions")
    }

    @Test("stopping polling with commands in flight hands them back to the SIM's threads; none is lost")
    func stopWithInFlight() throws {
        let (xpt, _, _) = try makeEmulated { c, _ in c.latency = .fixed(.milliseconds(20)) }
        defer { xpt.shutdown() }
        let h = try xpt.open(unit: 0)
        defer { h.close() }
        #expect(h.startPolling() != nil)
        for i in 0..<50 { try h.queue(CCB(cdb: tur(), cookie: UInt64(i))) }
        usleep(30_000) // some are parked for the poller by now
        h.stopPolling()
        #expect(!h.isPolling)
        // Delivered by the SIM's thread now: readable without anyone polling.
        let back = reap(h, count: 50, seconds: 10)
        #expect(back.count == 50)
        #expect(Set(back.map(\.cookie)) == Set(0..<50))
        #expect(back.allSatisfy { $0.status == .requestComplete })
    }

    @Test("execute on a polled device harvests while it waits")
    func executeWhilePolled() throws {
        let (xpt, _, _) = try makeEmulated { c, _ in c.latency = .fixed(.milliseconds(5)) }
        defer { xpt.shutdown() }
        let h = try xpt.open(unit: 0)
        defer { h.close() }
        #expect(h.startPolling() != nil)
        let buf = Buffer(512)
        let c = CCB()
        c.setSCSI(cdb: rw10(write: false, lba: 3, blocks: 1), data: .buffer(buf.raw), direction: .in)
        try h.execute(c)
        #expect(c.status == .requestComplete)
        #expect(c.transferred == 512)
    }

    @Test("a handle that does not poll still gets its completions when another handle polls the device")
    func otherHandleOnPolledDevice() throws {
        let (xpt, _, _) = try makeEmulated { c, _ in c.latency = .random(min: .microseconds(1), max: .milliseconds(2)) }
        defer { xpt.shutdown() }
        let poller = try xpt.open(unit: 0)
        let other = try xpt.open(unit: 0)
        defer { poller.close(); other.close() }
        #expect(poller.startPolling() != nil)
        #expect(!other.isPolling)
        for i in 0..<100 { try other.queue(CCB(cdb: tur(), cookie: UInt64(i))) }
        let back = reap(other, count: 100, seconds: 10)
        #expect(Set(back.map(\.cookie)) == Set(0..<100))
        #expect(poller.get() == nil, "another handle's completions never land on the poller's queue")
    }

    @Test("a polled device removed mid-I/O: every CCB comes back, the unstarted ones as device-not-there")
    func removalWhilePolled() throws {
        let (xpt, sim, _) = try makeEmulated(disks: 1, commandSlots: 4) { c, _ in c.latency = .fixed(.milliseconds(20)) }
        defer { xpt.shutdown() }
        let h = try xpt.open(unit: 0)
        defer { h.close() }
        #expect(h.startPolling() != nil)
        for i in 0..<40 { try h.queue(CCB(cdb: tur(), cookie: UInt64(i))) }
        sim.removeDisk(target: 0, lun: 0)
        let back = reap(h, count: 40, seconds: 10)
        #expect(back.count == 40, "every queued CCB comes back")
        #expect(Set(back.map(\.cookie)).count == 40)
        let notThere = back.filter { $0.status == .deviceNotThere }.count
        #expect(notThere >= 36, "the ones not started complete with device-not-there (got \(notThere))")
    }

    @Test("closing a polling handle ends polling for the device; a second poller keeps it on")
    func closeEndsPolling() throws {
        let (xpt, _, _) = try makeEmulated { c, _ in c.latency = .fixed(.milliseconds(2)) }
        defer { xpt.shutdown() }
        let a = try xpt.open(unit: 0)
        let b = try xpt.open(unit: 0)
        defer { b.close() }
        #expect(a.startPolling() != nil)
        #expect(b.startPolling() != nil)
        a.close()
        // b still polls: its completions wait for it.
        try b.queue(CCB(cdb: tur(), cookie: 7))
        usleep(20_000)
        #expect(b.completedCount == 0)
        #expect(reap(b, count: 1).map(\.cookie) == [7])
        b.stopPolling()
        // Nobody polls: the SIM's thread delivers.
        try b.queue(CCB(cdb: tur(), cookie: 8))
        #expect(b.wait(timeout: .milliseconds(5000)))
        #expect(b.completedCount == 1)
        #expect(b.get()?.cookie == 8)
    }
}

extension PolledCompletionTests {
    @Test("a device removed and re-added at the same path while both records poll: each handle gets its own CCBs back")
    func readdedAtSamePath() throws {
        let (xpt, sim, _) = try makeEmulated { c, _ in c.latency = .fixed(.milliseconds(30)) }
        defer { xpt.shutdown() }
        let old = try xpt.open(unit: 0)
        defer { old.close() }
        #expect(old.startPolling() != nil)
        for i in 0..<8 { try old.queue(CCB(cdb: tur(), cookie: UInt64(i))) }
        sim.removeDisk(target: 0, lun: 0)
        try sim.addDisk(target: 0, lun: 0, EmulatedDiskConfiguration(capacityBytes: 16 << 20, latency: .fixed(.milliseconds(30))))
        let deadline = camMonotonicNanoseconds() + 5_000_000_000
        while xpt.devices().isEmpty && camMonotonicNanoseconds() < deadline { usleep(5_000) }
        let unit = try #require(xpt.devices().first?.unit)
        let new = try xpt.open(unit: unit)
        defer { new.close() }
        #expect(new.startPolling() != nil)
        for i in 100..<108 { try new.queue(CCB(cdb: tur(), cookie: UInt64(i))) }
        // The new record stops polling first; the old one's completions must still come.
        let fresh = reap(new, count: 8, seconds: 10)
        #expect(Set(fresh.map(\.cookie)) == Set(100..<108))
        #expect(fresh.allSatisfy { $0.status == .requestComplete })
        new.stopPolling()
        let gone = reap(old, count: 8, seconds: 10)
        #expect(Set(gone.map(\.cookie)) == Set(0..<8), "the removed disk's commands all come back")
    }
}
