#if canImport(Glibc)
import Glibc
#endif
import Testing
import CAM
import CAMEmulator
import SCSI

/// A periph driver for tests: attaches to every disk, keeps its periphs (a reference, as a
/// real driver's softc would) until told to let go, and records what comes back.
final class RecordingDriver: CAMPeriphDriver, @unchecked Sendable {
    // Guarded by `lock`.
    let name: String
    private let lock = CAMLock()
    private let changed = CAMCondition()
    private var held: [CAMPeriph] = []
    private var invalidatedNames: [String] = []
    private var finished: [(periph: String, cookie: UInt64, status: CAMStatus, thread: pthread_t)] = []

    init(name: String = "test") { self.name = name }

    func matches(_ device: CAMDeviceInfo) -> Bool { device.peripheralType == .directAccess }
    func attached(_ periph: CAMPeriph) { lock.withLock { held.append(periph) } }
    func invalidated(_ periph: CAMPeriph) {
        lock.withLock { invalidatedNames.append(periph.name); changed.broadcast() }
    }
    func done(_ ccb: CCB, periph: CAMPeriph) {
        lock.withLock {
            finished.append((periph.name, ccb.cookie, ccb.status, pthread_self()))
            changed.broadcast()
        }
    }

    var periphs: [CAMPeriph] { lock.withLock { held } }
    var invalidated: [String] { lock.withLock { invalidatedNames } }
    var completions: [(periph: String, cookie: UInt64, status: CAMStatus, thread: pthread_t)] { lock.withLock { finished } }

    /// Lets go of every periph (a driver's periph_dtor).
    func releaseAll() { lock.withLock { held.removeAll() } }

    /// Waits (up to 20 s) until `count` CCBs came back.
    func waitForCompletions(_ count: Int) -> Bool {
        let deadline = camMonotonicNanoseconds() + 20_000_000_000
        return lock.withLock {
            while finished.count < count {
                let now = camMonotonicNanoseconds()
                if now >= deadline { return false }
                _ = changed.wait(lock, timeoutNanoseconds: deadline - now)
            }
            return true
        }
    }
}

/// Waits up to 20 s for `condition`, checking every 2 ms (an event with no callback of its
/// own: a reference count reaching zero).
func eventually(_ condition: () -> Bool) -> Bool {
    let deadline = camMonotonicNanoseconds() + 20_000_000_000
    while !condition() {
        if camMonotonicNanoseconds() >= deadline { return false }
        usleep(2_000)
    }
    return true
}

@Suite("periphs (cam_periph): attach, references, invalidation, unit numbers")
struct PeriphTests {
    @Test("drivers attach to the devices they match, with unit numbers per driver")
    func attachPerDriver() throws {
        let (xpt, _, _) = try makeEmulated(disks: 2)
        defer { xpt.shutdown() }
        let test = RecordingDriver()
        xpt.register(driver: test)
        #expect(test.periphs.map(\.name) == ["test0", "test1"])
        let d0 = CAMPath(bus: 0, target: 0, lun: 0)
        #expect(xpt.periphs(at: d0)?.names == ["pass0", "test0"])
        #expect(xpt.devices().map(\.periphs) == [["pass0", "test0"], ["pass1", "test1"]])
        #expect(xpt.unitsInUse(driver: "test") == [0, 1])
        #expect(xpt.unitsInUse == [0, 1])
        // The generation counts changes to the device's periph list (XPT_GDEVLIST).
        #expect((xpt.periphs(at: d0)?.generation ?? 0) >= 2)
    }

    @Test("a device lost while a pass handle and a test periph hold it: both see it go, the record lives until both let go")
    func lostWhileHeld() throws {
        let (xpt, sim, _) = try makeEmulated { c, _ in c.latency = .fixed(.milliseconds(20)) }
        defer { xpt.shutdown() }
        let test = RecordingDriver()
        xpt.register(driver: test)
        // Optional so that the test lets go of it too before counting references.
        var periph: CAMPeriph? = try #require(test.periphs.first)
        let baseline = xpt.liveRecords.count
        var h: PassHandle? = try xpt.open(unit: 0)
        let ccbs = (0..<8).map { CCB(cdb: tur(), cookie: UInt64($0)) }
        for c in ccbs { try periph?.queue(c) }
        sim.removeDisk(target: 0, lun: 0)
        #expect(test.invalidated == ["test0"])
        #expect(periph?.isInvalidated == true)
        do { try periph?.queue(CCB(cdb: tur())); Issue.record("a periph queued on a lost device") } catch {
            #expect(error.code == .deviceGone)
        }
        do { try h?.queue(CCB(cdb: tur())); Issue.record("a pass handle queued on a lost device") } catch {
            #expect(error.code == .deviceGone)
        }
        // Every CCB the periph had out comes back through its done routine.
        #expect(test.waitForCompletions(8))
        #expect(Set(test.completions.map(\.cookie)) == Set(0..<8))
        // Held twice: neither unit is free, the record is alive.
        #expect(xpt.unitsInUse == [0])
        #expect(xpt.unitsInUse(driver: "test") == [0])
        #expect(xpt.liveRecords.count == baseline)
        h?.close()
        h = nil
        #expect(xpt.unitsInUse.isEmpty)
        #expect(xpt.liveRecords.count == baseline, "the test periph still holds the record")
        periph = nil
        #expect(xpt.unitsInUse(driver: "test") == [0], "the driver still holds it")
        test.releaseAll()
        #expect(eventually { xpt.unitsInUse(driver: "test").isEmpty })
        #expect(eventually { xpt.liveRecords.count == baseline - 1 })
    }

    @Test("opens and closes are counted one for one while opens race closes and a removal")
    func openRacesClose() throws {
        let (xpt, sim, _) = try makeEmulated { c, _ in c.latency = .fixed(.microseconds(200)) }
        defer { xpt.shutdown() }
        var pass: CAMPeriph? = try #require(xpt.attachedPeriphs(at: CAMPath(bus: 0, target: 0, lun: 0)).first)
        #expect(pass?.name == "pass0")
        let opened = CAMLockedBox(0)
        let refused = CAMLockedBox(0)
        let unexpected = CAMLockedBox<[String]>([])
        let threads = (0..<4).map { i in
            CAMThread(name: "open\(i)") {
                for n in 0..<200 {
                    do throws(CAMError) {
                        let h = try xpt.open(path: CAMPath(bus: 0, target: 0, lun: 0))
                        opened.withLock { $0 += 1 }
                        if n % 3 == 0 { try? h.queue(CCB(cdb: tur())) }
                        h.close()
                    } catch {
                        // After the removal: gone (the periph is invalid) or no such device.
                        if error.code != .deviceGone && error.code != .noSuchDevice {
                            unexpected.withLock { $0.append(error.message) }
                        }
                        refused.withLock { $0 += 1 }
                    }
                }
            }
        }
        // Remove the disk once the openers are under way.
        #expect(eventually { opened.withLock { $0 } >= 40 })
        sim.removeDisk(target: 0, lun: 0)
        for t in threads { t.join() }
        #expect(unexpected.withLock { $0 }.isEmpty)
        let counts = try #require(pass?.openCount)
        pass = nil
        #expect(counts.opens == opened.withLock { $0 }, "an open that failed is not counted")
        #expect(counts.closes == counts.opens)
        #expect(refused.withLock { $0 } > 0, "some opens came after the removal")
        #expect(eventually { xpt.unitsInUse.isEmpty })
    }

    @Test("a lost device's unit is not reused while abandoned commands still hold its periph")
    func unitHeldByAbandonedCommands() throws {
        let (xpt, sim, _) = try makeEmulated { c, _ in c.latency = .fixed(.milliseconds(300)) }
        defer { xpt.shutdown() }
        let h = try xpt.open(unit: 0)
        for _ in 0..<4 { try h.queue(CCB(cdb: tur())) }
        h.close()
        // Lost on the XPT's side: the emulated disk still holds the commands for their 300 ms
        // (removing it from the emulator would end them at once).
        xpt.removeDevice(at: CAMPath(bus: 0, target: 0, lun: 0))
        try sim.addDisk(target: 1, lun: 0, EmulatedDiskConfiguration())
        #expect(eventually { !xpt.devices().isEmpty })
        #expect(xpt.devices().map(\.unit) == [1], "unit 0 is still answered to by the old periph")
        #expect(eventually { xpt.unitsInUse == [1] }, "the commands drained: unit 0 is free")
    }

    @Test("1,000 arrivals and departures with I/O in flight: every record is freed at the end")
    func arrivalDepartureCycles() throws {
        let (xpt, sim, _) = try makeEmulated(disks: 0)
        defer { xpt.shutdown() }
        let found = CAMLockedBox(0)
        xpt.onEvent { event in if case .found = event { found.withLock { $0 += 1 } } }
        var config = EmulatedDiskConfiguration()
        config.capacityBytes = 1 << 20
        config.latency = .random(min: .microseconds(10), max: .microseconds(200))
        let buffers = (0..<4).map { _ in Buffer(4096) }
        for cycle in 1...1_000 {
            try sim.addDisk(target: 0, lun: 0, config)
            #expect(eventually { found.withLock { $0 } == cycle })
            let h = try xpt.open(path: CAMPath(bus: 0, target: 0, lun: 0))
            for (i, b) in buffers.enumerated() {
                try h.queue(CCB(cdb: rw10(write: false, lba: UInt32(i * 8), blocks: 8), data: .buffer(b.raw), direction: .in))
            }
            sim.removeDisk(target: 0, lun: 0)
            if cycle % 2 == 0 { _ = reap(h, count: 4) }
            h.close()
        }
        #expect(eventually { xpt.liveRecords.count == 0 }, "live records: \(xpt.liveRecords.count)")
        #expect(eventually { xpt.unitsInUse.isEmpty })
    }

    @Test("a handle dropped without close: closed by its deinit, then the transport and the SIM go")
    func droppedHandle() throws {
        weak var weakXPT: XPT?
        weak var weakSIM: EmulatorSIM?
        var counter: CAMRecordCounter?
        func useAndDrop() throws {
            let (xpt, sim, _) = try makeEmulated { c, _ in c.latency = .fixed(.milliseconds(1)) }
            weakXPT = xpt
            weakSIM = sim
            counter = xpt.liveRecords
            let h = try xpt.open(unit: 0)
            for _ in 0..<4 { try h.queue(CCB(cdb: tur())) }
            #expect(reap(h, count: 3).count == 3)
            // One completion left on the done queue, and one command still out maybe: the
            // handle is dropped here with no close.
            try h.queue(CCB(cdb: tur()))
        }
        try useAndDrop()
        #expect(eventually { weakXPT == nil }, "the XPT is freed once the handle goes")
        #expect(eventually { weakSIM == nil }, "the SIM (and with it its threads) is freed")
        #expect(eventually { counter?.count == 0 })
    }

    @Test("a cancelled for await over completions returns")
    func cancelledCompletions() async throws {
        let (xpt, _, _) = try makeEmulated()
        defer { xpt.shutdown() }
        let h = try xpt.open(unit: 0)
        defer { h.close() }
        let task = Task { () -> Int in
            var n = 0
            for await _ in h.completions { n += 1 }
            return n
        }
        task.cancel()
        #expect(await task.value == 0)
        // Cancelled while waiting, too.
        let waiting = Task { () -> Int in
            var n = 0
            for await _ in h.completions { n += 1 }
            return n
        }
        try await Task.sleep(for: .milliseconds(20))
        waiting.cancel()
        #expect(await waiting.value == 0)
    }

    @Test("function codes the emulator does not carry come back as CAM_FUNC_NOTAVAIL")
    func functionNotAvailable() throws {
        let (xpt, _, _) = try makeEmulated()
        defer { xpt.shutdown() }
        let h = try xpt.open(unit: 0)
        defer { h.close() }
        for f in [CCBFunction.ataIO, .nvmeIO, .nvmeAdmin, .smpIO] {
            let ccb = CCB()
            ccb.function = f
            try h.execute(ccb)
            #expect(ccb.status == .functionNotAvailable, "\(f)")
        }
        #expect(h.deviceInfo?.protocol == .scsi)
        #expect(h.pathInquiry.protocol == .scsi)
    }

    @Test("completion threads: different devices complete on different threads, each device in order")
    func completionThreads() throws {
        let xpt = XPT(completionThreads: 4)
        defer { xpt.shutdown() }
        let sim = EmulatorSIM(commandSlots: 1, completeOnWorkers: true)
        for t in 0..<8 {
            var c = EmulatedDiskConfiguration()
            c.capacityBytes = 1 << 20
            c.latency = .fixed(.microseconds(100))
            try sim.addDisk(target: t, lun: 0, c)
        }
        try xpt.scan(xpt.register(sim))
        let test = RecordingDriver()
        xpt.register(driver: test)
        let periphs = test.periphs
        #expect(periphs.count == 8)
        let perDevice = 50
        for p in periphs {
            for i in 0..<perDevice { try p.queue(CCB(cdb: tur(), cookie: UInt64(i))) }
        }
        #expect(test.waitForCompletions(8 * perDevice))
        let all = test.completions
        var threads: [String: Set<UInt>] = [:]
        for p in periphs {
            let mine = all.filter { $0.periph == p.name }
            #expect(mine.map(\.cookie) == (0..<UInt64(perDevice)).map { $0 }, "\(p.name) completes in order")
            threads[p.name] = Set(mine.map { UInt($0.thread) })
        }
        #expect(threads.values.allSatisfy { $0.count == 1 }, "one thread per device")
        #expect(Set(threads.values.flatMap { $0 }).count > 1, "devices spread over threads")
    }
}
