#if canImport(Glibc)
import Glibc
#endif
import CAM
import CAMLinuxSG
import Foundation
import SCSI
import Testing

extension OnSCSIDebug {
/// The pass(4) contract tests of the foundation (Tests/CAMTests/PassContractTests.swift) that
/// mean something on a real device, run through the sg SIM against scsi_debug under a real
/// kernel: what the emulator does by configuration, the kernel and scsi_debug do here.
@Suite final class SGPassContractTests {
    let xpt = XPT(completionThreads: 2)
    let bus: CAMBus
    let device: CAMDeviceInfo
    let sg: SGDeviceInfo

    init() throws {
        (sg, bus, device) = try attachSCSIDebug(to: xpt)
    }

    deinit { xpt.shutdown() }


    static func tur() -> CDB { CDB(count: 6) }

    /// Is the descriptor readable right now?
    static func readable(_ fd: Int32) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, 0) == 1 && (p.revents & Int16(POLLIN)) != 0
    }

    /// Reaps until `count` CCBs came back or `seconds` pass; in completion order.
    static func reap(_ h: PassHandle, count: Int, seconds: Int = 30) -> [CCB] {
        var out: [CCB] = []
        let deadline = camMonotonicNanoseconds() + UInt64(seconds) * 1_000_000_000
        while out.count < count && camMonotonicNanoseconds() < deadline {
            if let c = h.get() { out.append(c); continue }
            _ = h.wait(timeout: .milliseconds(50))
        }
        return out
    }

    /// A LOGICAL UNIT RESET through the pass handle (XPT_RESET_DEV, SG_SCSI_RESET_DEVICE):
    /// scsi_debug answers the next command with UNIT ATTENTION, 29/00, as a real disk does.
    func resetUnit(_ h: PassHandle) throws {
        let reset = CCB()
        reset.function = .resetDevice
        try h.execute(reset)
        #expect(reset.status == .requestComplete, "reset: \(reset.status) \(reset.transportDetail?.text ?? "")")
    }

    @Test func manyCCBsCompleteOutOfOrderWithCookiesIntact() throws {
        // Each command delayed by a random time up to 2 ms, far above the jitter of submitting
        // under TCG, so completions really do overtake each other whatever other tests left.
        try SCSIDebug.withKnobs(["random": "1", "ndelay": "2000000"]) { try outOfOrderRun() }
    }

    private func outOfOrderRun() throws {
        let h = try xpt.open(unit: device.unit)
        defer { h.close() }
        let total = 1500
        let depth = 48
        let buffers = (0..<depth).map { _ in TestBuffer(4096) }
        let ccbs = (0..<depth).map { i -> CCB in
            let c = CCB()
            c.context = buffers[i]
            return c
        }
        var free = Array(0..<depth)
        var cookieOf = [UInt64](repeating: 0, count: depth)
        var issued = 0
        var seen = Set<UInt64>()
        var order: [UInt64] = []
        var bad: [String] = []
        while seen.count < total {
            while issued < total, let slot = free.popLast() {
                let c = ccbs[slot]
                c.setSCSI(cdb: rw10(lba: UInt64(issued % 4000) * 8, blocks: 8), data: .buffer(buffers[slot].bytes), direction: .in)
                cookieOf[slot] = UInt64(issued) ^ 0xA5A5_5A5A_0F0F_F0F0
                c.cookie = cookieOf[slot]
                try h.queue(c)
                issued += 1
            }
            guard h.wait(timeout: .seconds(20)) else { Issue.record("no completion in 20 s"); return }
            while let c = h.get() {
                guard let slot = ccbs.firstIndex(where: { $0 === c }) else { bad.append("a CCB we never queued"); continue }
                let n = c.cookie ^ 0xA5A5_5A5A_0F0F_F0F0
                if c.status != .requestComplete { bad.append("\(n): \(c.status)") }
                if c.cookie != cookieOf[slot] || c.context !== buffers[slot] { bad.append("\(n): cookie or context changed") }
                if n >= UInt64(total) || !seen.insert(n).inserted { bad.append("cookie \(n) is wrong or came back twice") }
                order.append(n)
                free.append(slot)
            }
        }
        #expect(bad.isEmpty, "\(bad.prefix(5))")
        #expect(seen.count == total)
        let overtaken = zip(order, order.dropFirst()).filter { $0 > $1 }.count
        #expect(overtaken > 0, "with random delays some completions come back out of order")
        print("sg pass contract: \(total) reads at depth \(depth), \(overtaken) came back before an earlier one")
    }

    @Test func getOnEmptyIsNothingAndTheEventfdIsReadableExactlyWhileCompletionsWait() throws {
        let h = try xpt.open(unit: device.unit)
        defer { h.close() }
        #expect(h.get() == nil)
        #expect(!Self.readable(h.descriptor))
        try SCSIDebug.withKnobs(["random": "0", "ndelay": "100000000"]) {
            let a = CCB(cdb: Self.tur()), b = CCB(cdb: Self.tur())
            try h.queue(a)
            try h.queue(b)
            #expect(h.get() == nil, "nothing completes before scsi_debug's 100 ms")
            #expect(!Self.readable(h.descriptor))
            var p = pollfd(fd: h.descriptor, events: Int16(POLLIN), revents: 0)
            #expect(poll(&p, 1, 10_000) == 1)
            let deadline = camMonotonicNanoseconds() + 10_000_000_000
            while h.completedCount < 2 && camMonotonicNanoseconds() < deadline { usleep(1000) }
            #expect(Self.readable(h.descriptor))
            #expect(h.get() != nil)
            #expect(Self.readable(h.descriptor), "one completion still waits")
            #expect(h.get() != nil)
            #expect(!Self.readable(h.descriptor), "drained: not readable")
            #expect(h.get() == nil)
        }
    }

    @Test func overMaxIOIsRefusedAtQueueAndExactlyMaxIOWorks() throws {
        let h = try xpt.open(unit: device.unit)
        defer { h.close() }
        let maxIO = h.maxIO
        #expect(maxIO == 512 << 10)
        let buf = TestBuffer(2 * maxIO)
        let over = CCB(cdb: rw10(lba: 0, blocks: 2 * maxIO / 512), data: .buffer(buf.bytes), direction: .in)
        do { try h.queue(over); Issue.record("a CCB over maxio was queued") } catch { #expect(error.code == .dataTooLong) }
        let list = SGList(capacity: 3)
        _ = list.append(buf.bytes.baseAddress!, length: maxIO / 2)
        _ = list.append(buf.bytes.baseAddress! + maxIO / 2, length: maxIO / 2)
        _ = list.append(buf.bytes.baseAddress! + maxIO, length: 512)
        let overSG = CCB(cdb: rw10(lba: 0, blocks: maxIO / 512 + 1), data: .scatterGather(list), direction: .in)
        do { try h.queue(overSG); Issue.record("an S/G list over maxio was queued") } catch { #expect(error.code == .dataTooLong) }
        #expect(h.outstandingCount == 0)
        let exact = CCB(cdb: rw10(lba: 0, blocks: maxIO / 512),
                        data: .buffer(UnsafeMutableRawBufferPointer(rebasing: buf.bytes[0..<maxIO])), direction: .in)
        try h.execute(exact)
        #expect(exact.status == .requestComplete, "\(exact.status) \(exact.transportDetail?.text ?? "")")
        #expect(exact.residual == 0)
    }

    @Test func xptOnlyFunctionsAndBadDataAreRefused() throws {
        let h = try xpt.open(unit: device.unit)
        defer { h.close() }
        for f in [CCBFunction.scanBus, .scanLUN, .resetBus, .deviceMatch, .engineInquiry, .engineExecute] {
            let c = CCB()
            c.function = f
            do { try h.queue(c); Issue.record("\(f) was accepted") } catch { #expect(error.code == .xptOnlyFunction) }
        }
        let empty = CCB(cdb: rw10(lba: 0, blocks: 1), data: .scatterGather(SGList(capacity: 4)), direction: .in)
        do { try h.queue(empty); Issue.record("empty S/G accepted") } catch { #expect(error.code == .badDataDescriptor) }
        let buf = TestBuffer(512)
        let noDirection = CCB(cdb: rw10(lba: 0, blocks: 1), data: .buffer(buf.bytes), direction: .none)
        do { try h.queue(noDirection); Issue.record("data without direction accepted") } catch { #expect(error.code == .badDataDescriptor) }
        do { try h.queue(CCB()); Issue.record("empty CDB accepted") } catch { #expect(error.code == .badCDB) }
        #expect(h.outstandingCount == 0)
        #expect(h.get() == nil)
    }

    @Test func immediateCCBsCompleteAtOnceWithTheSIMsAnswers() throws {
        let h = try xpt.open(unit: device.unit)
        defer { h.close() }
        let pi = CCB()
        pi.function = .pathInquiry
        pi.cookie = 42
        try h.queue(pi)
        #expect(Self.readable(h.descriptor))
        #expect(h.get() === pi)
        #expect(pi.cookie == 42)
        #expect(pi.pathInquiry?.simName == "sg")
        #expect(pi.pathInquiry?.simUnit == sg.host)
        #expect(pi.pathInquiry?.maxIO == 512 << 10)
        #expect(pi.pathInquiry?.commandSlots == 64)
        let gd = CCB()
        gd.function = .getDeviceInfo
        try h.queue(gd)
        #expect(h.get() === gd)
        #expect(gd.deviceInfo?.unit == device.unit)
        #expect(gd.deviceInfo?.peripheralType == .directAccess)
        #expect(gd.deviceInfo?.deviceName == sg.devicePath)
    }

    @Test func closingWithCommandsInFlightDropsThemAndTheSlotsComeBack() throws {
        // The abandoned commands' buffers must outlive them: the kernel fills them when the
        // SIM collects, after the close.
        let buffers = (0..<100).map { _ in TestBuffer(4096) }
        try SCSIDebug.withKnobs(["random": "0", "ndelay": "300000000"]) {
            let h = try xpt.open(unit: device.unit)
            // 100 reads of 300 ms: 64 reach the kernel (the SIM's slots), 36 wait in CAM. (None
            // may finish before all are queued, which under TSan and an emulated CPU takes
            // longer than 30 ms.)
            for i in 0..<100 {
                try h.queue(CCB(cdb: rw10(lba: UInt64(i) * 8, blocks: 8), data: .buffer(buffers[i].bytes),
                                direction: .in, cookie: UInt64(i)))
            }
            #expect(h.outstandingCCBs().started.count == 64)
            h.close()
            #expect(h.get() == nil)
            do throws(CAMError) { try h.queue(CCB(cdb: Self.tur())); Issue.record("queue on a closed handle worked") } catch { #expect(error.code == .handleClosed) }

            // Another opener gets every slot back once the abandoned commands drain, and sees
            // none of their completions.
            let h2 = try xpt.open(unit: device.unit)
            defer { h2.close() }
            for i in 0..<64 { try h2.queue(CCB(cdb: Self.tur(), cookie: 1000 + UInt64(i))) }
            let back = Self.reap(h2, count: 64)
            #expect(back.count == 64)
            #expect(Set(back.map(\.cookie)) == Set(1000..<1064))
            #expect(back.allSatisfy { $0.status == .requestComplete })
            #expect(h2.get() == nil)
            #expect(h2.statistics.maxInFlight == 64)
        }
        _ = buffers
    }

    @Test func asyncSequenceDeliversCompletions() async throws {
        let h = try xpt.open(unit: device.unit)
        defer { h.close() }
        for i in 0..<64 { try h.queue(CCB(cdb: Self.tur(), cookie: UInt64(i))) }
        var got: Set<UInt64> = []
        for await c in h.completions {
            #expect(c.status == .requestComplete)
            got.insert(c.cookie)
            if got.count == 64 { break }
        }
        #expect(got == Set(0..<64))
    }

    @Test func unitAttentionIsRetriedOnlyWhenAsked() throws {
        let h = try xpt.open(unit: device.unit)
        defer { h.close() }
        try resetUnit(h)
        let raw = CCB(cdb: Self.tur())
        try h.execute(raw)
        #expect(raw.status == .scsiStatusError)
        #expect(raw.scsiStatus == .checkCondition)
        #expect(raw.senseData?.senseKey == .unitAttention)
        #expect(raw.senseData?.asc == 0x29)
        #expect(raw.retriesDone == 0)

        try resetUnit(h)
        let recovered = CCB(cdb: Self.tur())
        recovered.flags.insert(.errorRecovery)
        recovered.retryCount = 2
        try h.execute(recovered)
        #expect(recovered.status == .requestComplete)
        #expect(recovered.retriesDone == 1)

        // Asked, but with no retries left: the raw status comes back.
        try resetUnit(h)
        let noRetries = CCB(cdb: Self.tur())
        noRetries.flags.insert(.errorRecovery)
        noRetries.retryCount = 0
        try h.execute(noRetries)
        #expect(noRetries.senseData?.senseKey == .unitAttention)
        let after = CCB(cdb: Self.tur())
        try h.execute(after)
        #expect(after.status == .requestComplete, "one UNIT ATTENTION per reset")
    }

    @Test func mediumErrorIsNotRetriedAwayAndComesBackWithItsSense() throws {
        let h = try xpt.open(unit: device.unit)
        defer { h.close() }
        try SCSIDebug.withKnobs(["medium_error_start": "4660", "medium_error_count": "10", "opts": "2"]) {
            let buf = TestBuffer(8 * 512)
            let c = CCB(cdb: rw10(lba: 4656, blocks: 8), data: .buffer(buf.bytes), direction: .in)
            c.flags.insert(.errorRecovery)
            c.retryCount = 5
            try h.execute(c)
            #expect(c.status == .scsiStatusError)
            #expect(c.senseData?.senseKey == .mediumError)
            #expect(c.senseData?.asc == 0x11)
            #expect(c.retriesDone == 0)
            #expect(c.residual == 8 * 512, "nothing transferred")
        }
    }

    @Test func abortTakesBackAQueuedCCBAndOutstandingCCBsAreListed() throws {
        let buffers = (0..<66).map { _ in TestBuffer(512) }
        try SCSIDebug.withKnobs(["random": "0", "ndelay": "50000000"]) {
            let h = try xpt.open(unit: device.unit)
            defer { h.close() }
            let ccbs = (0..<66).map { i in
                CCB(cdb: rw10(lba: UInt64(i), blocks: 1), data: .buffer(buffers[i].bytes), direction: .in, cookie: UInt64(i))
            }
            for c in ccbs { try h.queue(c) }
            let listed = h.outstandingCCBs()
            #expect(listed.started.count == 64, "the SIM's 64 slots")
            #expect(listed.queued.map(\.cookie) == [64, 65])
            let abort = CCB()
            abort.function = .abort
            abort.abortTarget = ccbs[65]
            try h.queue(abort)
            let back = Self.reap(h, count: 67)
            #expect(back.count == 67)
            #expect(back.first { $0 === abort }?.status == .requestComplete)
            #expect(back.first { $0 === ccbs[65] }?.status == .requestAborted)
            #expect(back.filter { $0 !== abort && $0 !== ccbs[65] }.allSatisfy { $0.status == .requestComplete })
        }
    }

    @Test func deviceStatisticsCountOperationsBytesAndLatency() throws {
        let h = try xpt.open(unit: device.unit)
        defer { h.close() }
        let before = h.statistics
        let buf = TestBuffer(4096)
        for _ in 0..<10 {
            try h.execute(CCB(cdb: rw10(write: true, lba: 100, blocks: 8), data: .buffer(buf.bytes), direction: .out))
            try h.execute(CCB(cdb: rw10(lba: 100, blocks: 8), data: .buffer(buf.bytes), direction: .in))
        }
        let s = h.statistics
        #expect(s.operations.read - before.operations.read == 10)
        #expect(s.operations.write - before.operations.write == 10)
        #expect(s.bytesRead - before.bytesRead == 40960)
        #expect(s.bytesWritten - before.bytesWritten == 40960)
        #expect(s.latency.count - before.latency.count == 20)
        #expect(s.busyNanoseconds > before.busyNanoseconds)
    }

    /// Last: takes the device away. Queue fails at once, every CCB comes back (those still in
    /// CAM's queue as not there), and the unit number stays taken while the handle is open:
    /// the device that a re-scan brings back gets another.
    @Test func removalMidIOThenTheUnitIsNotReusedWhileOpen() throws {
        let buffers = (0..<100).map { _ in TestBuffer(4096) }
        let h = try xpt.open(unit: device.unit)
        var back: [CCB] = []
        // 300 ms each: none of the 64 started can finish before the device goes, even under an
        // emulated CPU, so the 36 CAM holds are still there to be flushed.
        try SCSIDebug.withKnobs(["random": "0", "ndelay": "300000000"]) {
            for i in 0..<100 {
                try h.queue(CCB(cdb: rw10(lba: UInt64(i) * 8, blocks: 8), data: .buffer(buffers[i].bytes),
                                direction: .in, cookie: UInt64(i)))
            }
            try SCSIDebug.delete(sg)
            let deadline = camMonotonicNanoseconds() + 10_000_000_000
            var refused: CAMError?
            while refused == nil && camMonotonicNanoseconds() < deadline {
                do throws(CAMError) { try h.queue(CCB(cdb: Self.tur(), cookie: 10_000)); usleep(1000) } catch { refused = error }
            }
            #expect(refused?.code == .deviceGone, "\(String(describing: refused))")
            back = Self.reap(h, count: 100).filter { $0.cookie < 100 }
            back += Self.reap(h, count: 1_000, seconds: 1).filter { $0.cookie < 100 }
        }
        #expect(back.count == 100, "every queued CCB comes back")
        #expect(Set(back.map(\.cookie)).count == 100)
        let notThere = back.filter { $0.status == .deviceNotThere }.count
        #expect(notThere >= 36, "the ones CAM still held complete as not there (got \(notThere))")
        let tally = Dictionary(grouping: back, by: \.status).mapValues(\.count)
        print("sg pass contract: removal with 100 queued: \(tally.map { "\($0.value)× \($0.key)" }.joined(separator: ", "))")

        let returned = try #require(try SCSIDebug.rescan(bringingBack: sg))
        var found: [CAMDeviceInfo] = []
        for _ in 0..<100 where found.isEmpty {
            found = try xpt.scan(bus)
            if found.isEmpty { usleep(50_000) }
        }
        let again = try #require(found.first, "\(returned.devicePath) is back on the bus")
        #expect(again.path == device.path)
        #expect(again.unit != device.unit, "unit \(device.unit) stays taken while its handle is open")
        #expect(xpt.unitsInUse == [device.unit, again.unit].sorted())
        h.close()
        #expect(xpt.unitsInUse == [again.unit])
        let h2 = try xpt.open(unit: again.unit)
        defer { h2.close() }
        let tur = CCB(cdb: Self.tur())
        tur.flags.insert(.errorRecovery)
        tur.retryCount = 3
        try h2.execute(tur)
        #expect(tur.status == .requestComplete)
    }
}
}
