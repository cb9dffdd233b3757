#if canImport(Glibc)
import Glibc
#endif
import CAM
import CAMLinuxSG
import Foundation
import SCSI
import TestSupport
import Testing

extension OnSCSIDebug {
/// Polled completion through the sg SIM (CAMPollingSIM, PassHandle.startPolling): the device's
/// sg descriptors leave the SIM's thread and the handle's own thread collects, on scsi_debug
/// under a real kernel.
@Suite final class SGPollingTests {
    let xpt = XPT(completionThreads: 2)
    let bus: CAMBus
    let device: CAMDeviceInfo
    let sg: SGDeviceInfo

    init() throws {
        (sg, bus, device) = try attachSCSIDebug(to: xpt)
    }

    deinit { xpt.shutdown() }


    /// Collects until `count` CCBs came back or `seconds` pass, through `wait` and `get` (which
    /// harvest on this thread while the handle polls).
    static func reap(_ h: PassHandle, count: Int, seconds: Double = 30) -> [CCB] {
        var out: [CCB] = []
        let deadline = camMonotonicNanoseconds() + UInt64(seconds * 1e9)
        while out.count < count && camMonotonicNanoseconds() < deadline {
            if let c = h.get() { out.append(c); continue }
            _ = h.wait(timeout: .milliseconds(50))
        }
        return out
    }

    /// Whether `fd` polls readable now.
    static func readable(_ fd: Int32) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, 0) == 1 && p.revents & Int16(POLLIN) != 0
    }

    @Test func theSIMsThreadLeavesAPolledDeviceAlone() throws {
        let h = try xpt.open(unit: device.unit)
        defer { h.close() }
        let fds = try #require(h.startPolling())
        #expect(fds.count == 32, "one per sg descriptor of the unit: \(fds)")
        #expect(h.isPolling)
        try SCSIDebug.withKnobs(["random": "0", "ndelay": "5000000"]) {
            for i in 0..<8 { try h.queue(CCB(cdb: CDB(count: 6), cookie: UInt64(i))) }
            // 5 ms each, all in the kernel at once: long done after 300 ms, and still not
            // taken, because nobody here has asked.
            usleep(300_000)
            #expect(h.completedCount == 0, "the SIM's thread delivered completions of a polled device")
            #expect(!Self.readable(h.descriptor))
            #expect(Self.readable(fds[0]), "the first sg descriptor has the finished commands")
            let back = Self.reap(h, count: 8)
            #expect(Set(back.map(\.cookie)) == Set(0..<8))
            #expect(back.allSatisfy { $0.status == .requestComplete })
            #expect(h.get() == nil)
            #expect(h.outstandingCount == 0)
        }
    }

    @Test func polledHandleGetsEveryCompletionExactlyOnceWithItsData() throws {
        let h = try xpt.open(unit: device.unit)
        defer { h.close() }
        try #require(h.startPolling() != nil)
        // Random delays up to 2 ms: completions overtake each other and spread over all four
        // descriptors at depth 48.
        try SCSIDebug.withKnobs(["random": "1", "ndelay": "2000000"]) {
            let depth = 48
            let blocks = 8
            let span = 2000
            let buffers = (0..<depth).map { _ in TestBuffer(blocks * 512) }
            let ccbs = (0..<depth).map { _ in CCB() }
            for generation: UInt8 in [0x5A, 0xC3] {
                let writing = generation == 0x5A
                let total = writing ? span : 3 * span
                var free = Array(0..<depth)
                var lbaOf = [UInt64](repeating: 0, count: depth)
                var issued = 0
                var seen = Set<UInt64>()
                var order: [UInt64] = []
                var bad: [String] = []
                while seen.count < total {
                    while issued < total, let slot = free.popLast() {
                        let lba = UInt64(issued % span * blocks)
                        lbaOf[slot] = lba
                        if writing {
                            for b in 0..<blocks {
                                fillPattern(UnsafeMutableRawBufferPointer(rebasing: buffers[slot].bytes[(b * 512)..<((b + 1) * 512)]),
                                            lba: lba + UInt64(b), generation: 0x5A)
                            }
                        }
                        ccbs[slot].setSCSI(cdb: rw10(write: writing, lba: lba, blocks: blocks),
                                           data: .buffer(buffers[slot].bytes), direction: writing ? .out : .in)
                        ccbs[slot].cookie = UInt64(issued) << 8 | UInt64(slot)
                        try h.queue(ccbs[slot])
                        issued += 1
                    }
                    guard h.wait(timeout: .seconds(20)) else { Issue.record("no completion in 20 s"); return }
                    while let c = h.get() {
                        let slot = Int(c.cookie & 0xFF)
                        let n = c.cookie >> 8
                        guard slot < depth, c === ccbs[slot] else { bad.append("a CCB we never queued"); continue }
                        if c.status != .requestComplete { bad.append("\(n): \(c.status)") }
                        if !seen.insert(n).inserted { bad.append("\(n) came back twice") }
                        if !writing {
                            for b in 0..<blocks where !patternMatches(UnsafeRawBufferPointer(rebasing: buffers[slot].bytes[(b * 512)..<((b + 1) * 512)]),
                                                                      lba: lbaOf[slot] + UInt64(b), generation: 0x5A) {
                                bad.append("\(n): LBA \(lbaOf[slot] + UInt64(b)) read back wrong")
                            }
                        }
                        order.append(n)
                        free.append(slot)
                    }
                }
                #expect(bad.isEmpty, "\(bad.prefix(5))")
                #expect(seen == Set(0..<UInt64(total)))
                #expect(h.get() == nil)
                #expect(h.outstandingCount == 0)
                let overtaken = zip(order, order.dropFirst()).filter { $0 > $1 }.count
                #expect(overtaken > 0, "with random delays some completions come back out of order")
                print("sg polling: \(total) \(writing ? "writes" : "reads") at depth \(depth), \(overtaken) overtook an earlier one")
            }
        }
    }

    @Test func executeOnAPolledDeviceFromThePollerAndFromAnotherHandle() throws {
        let poller = try xpt.open(unit: device.unit)
        defer { poller.close() }
        let other = try xpt.open(unit: device.unit)
        defer { other.close() }
        try #require(poller.startPolling() != nil)
        for h in [poller, other] {
            let buf = TestBuffer(8)
            var cdb = CDB(count: 10)
            cdb[0] = 0x25
            let rc = CCB(cdb: cdb, data: .buffer(buf.bytes), direction: .in)
            try h.execute(rc)
            #expect(rc.status == .requestComplete, "\(rc.status) \(rc.transportDetail?.text ?? "")")
            let size = Int(buf.bytes[4]) << 24 | Int(buf.bytes[5]) << 16 | Int(buf.bytes[6]) << 8 | Int(buf.bytes[7])
            #expect(size == 512)
            let last = UInt32(buf.bytes[0]) << 24 | UInt32(buf.bytes[1]) << 16 | UInt32(buf.bytes[2]) << 8 | UInt32(buf.bytes[3])
            #expect(Int(last) + 1 == 16 << 11, "16 MiB of 512-byte blocks (test-linux-sg's dev_size_mb=16)")
        }
        // The other handle's queued completions come through the poller's harvest too: they
        // land on its own queue and wake its descriptor.
        for i in 0..<4 { try other.queue(CCB(cdb: CDB(count: 6), cookie: UInt64(i))) }
        let deadline = camMonotonicNanoseconds() + 10_000_000_000
        while other.completedCount < 4 && camMonotonicNanoseconds() < deadline {
            _ = poller.wait(timeout: .milliseconds(20))
        }
        #expect(other.completedCount == 4)
        #expect(Self.readable(other.descriptor))
        #expect(Set(Self.reap(other, count: 4).map(\.cookie)) == Set(0..<4))
    }

    @Test func stopPollingWithCommandsInFlightLosesNothing() throws {
        let h = try xpt.open(unit: device.unit)
        defer { h.close() }
        try SCSIDebug.withKnobs(["random": "0", "ndelay": "50000000"]) {
            for round in 0..<3 {
                try #require(h.startPolling() != nil)
                // Some finish in the kernel before polling stops and are never polled; some are
                // still on the device when it stops.
                for i in 0..<24 { try h.queue(CCB(cdb: CDB(count: 6), cookie: UInt64(round * 100 + i))) }
                usleep(200_000)
                #expect(h.completedCount == 0)
                for i in 24..<48 { try h.queue(CCB(cdb: CDB(count: 6), cookie: UInt64(round * 100 + i))) }
                h.stopPolling()
                #expect(!h.isPolling)
                // The SIM's thread delivers them now, without anyone calling get.
                let deadline = camMonotonicNanoseconds() + 10_000_000_000
                while h.completedCount < 48 && camMonotonicNanoseconds() < deadline { usleep(10_000) }
                #expect(h.completedCount == 48)
                let back = Self.reap(h, count: 48, seconds: 5)
                #expect(back.count == 48)
                #expect(Set(back.map(\.cookie)) == Set((0..<48).map { UInt64(round * 100 + $0) }))
                #expect(back.allSatisfy { $0.status == .requestComplete })
                usleep(100_000)
                #expect(h.get() == nil, "nothing twice")
            }
        }
        // And the other way: a handle that starts polling while commands are out gets them.
        try SCSIDebug.withKnobs(["random": "0", "ndelay": "50000000"]) {
            for i in 0..<40 { try h.queue(CCB(cdb: CDB(count: 6), cookie: UInt64(i))) }
            try #require(h.startPolling() != nil)
            let back = Self.reap(h, count: 40, seconds: 10)
            #expect(Set(back.map(\.cookie)) == Set(0..<40))
            h.stopPolling()
        }
    }

    /// A polled handle whose device is deleted with commands out: everything comes back within
    /// seconds (as the kernel returned it, or as not there), new commands are refused, and the
    /// device comes back on a re-scan and works polled again.
    @Test func removalWhilePolledEndsTheCommandsAsDeviceNotThere() throws {
        let h = try xpt.open(unit: device.unit)
        defer { h.close() }
        let depth = 32
        let buffers = (0..<depth).map { _ in TestBuffer(64 * 1024) }
        let ccbs = (0..<depth).map { CCB(cdb: rw10(lba: UInt64($0) * 128, blocks: 128), data: .buffer(buffers[$0].bytes), direction: .in) }
        try #require(h.startPolling() != nil)
        var back: [CAMStatus] = []
        var shortReads = 0
        var refused: CAMError?
        let t0 = camMonotonicNanoseconds()
        try SCSIDebug.withKnobs(["random": "0", "ndelay": "200000000"]) {
            for c in ccbs { try h.queue(c) }
            try SCSIDebug.delete(sg)
            let deadline = camMonotonicNanoseconds() + 15_000_000_000
            while back.count < depth && camMonotonicNanoseconds() < deadline {
                if h.wait(timeout: .milliseconds(500)) {
                    while let c = h.get() {
                        back.append(c.status)
                        if c.status == .requestComplete && c.transferred != 64 * 1024 { shortReads += 1 }
                        if refused == nil {
                            do throws(CAMError) { try h.queue(c) } catch { refused = error }
                        }
                    }
                }
            }
        }
        let seconds = Double(camMonotonicNanoseconds() - t0) / 1e9
        #expect(back.count >= depth, "\(back.count) of \(depth) came back")
        #expect(seconds < 10, "took \(seconds) s")
        #expect(h.outstandingCount == 0)
        #expect(refused?.code == .deviceGone, "\(String(describing: refused))")
        let tally = Dictionary(grouping: back, by: { $0 }).mapValues(\.count)
        #expect(back.contains(.deviceNotThere), "\(tally)")
        #expect(shortReads == 0)
        print("sg polling: removal with \(depth) out: \(tally.map { "\($0.value)× \($0.key)" }.joined(separator: ", ")) in \(String(format: "%.2f", seconds)) s")
        h.close()

        let again = try #require(try SCSIDebug.rescan(bringingBack: sg), "a re-scan brings \(sg.hctl) back")
        var found: [CAMDeviceInfo] = []
        for _ in 0..<100 {
            found = try xpt.scan(bus)
            if !found.isEmpty { break }
            usleep(50_000)
        }
        let d = try #require(found.first)
        let h2 = try xpt.open(unit: d.unit)
        defer { h2.close() }
        try #require(h2.startPolling() != nil, "\(again.devicePath) polls again")
        let tur = CCB(cdb: CDB(count: 6))
        tur.flags.insert(.errorRecovery)
        tur.retryCount = 3
        try h2.execute(tur)
        #expect(tur.status == .requestComplete)
    }

    /// camdd (which polls its pass devices) writes a file to the disk and reads it back.
    /// With and without polling and device buffers (mapped sg reserved buffers: no copy).
    @Test(arguments: [(1, ""), (32, ""), (8, ",zerocopy=0"), (8, ",poll=0"), (8, ",poll=0,zerocopy=0")])
    func camddRoundTrip(depth: Int, flags: String) throws {
        let dir = try TemporaryDirectory("sgpoll")
        let count = 3 << 20
        let data = TestData.bytes(count, seed: 0x5070_11 &+ UInt64(depth))
        let src = try dir.write("src", data)
        let dev = "pass=\(sg.devicePath),bs=64k,depth=\(depth),offset=2m\(flags)"
        let w = try Tools.run("camdd", ["-i", "file=\(src),bs=1m", "-o", dev])
        #expect(w.status == 0, "\(w.stderr)")
        #expect(w.bytes("written to") == UInt64(count))
        let r = try Tools.run("camdd", ["-i", dev, "-o", "file=\(dir.file("dst")),bs=1m", "-m", "\(count)"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.bytes("read from") == UInt64(count))
        #expect(TestData.checksum(try dir.read("dst")) == TestData.checksum(data))
        let n = try Tools.run("camdd", ["-i", dev, "-o", "file=/dev/null", "-m", "\(count)", "--json"])
        #expect(n.status == 0, "\(n.stderr)")
        #expect(n.bytes("read from") == UInt64(count))
        // The reader's blocks are the device's mapped buffers unless zerocopy=0.
        let zeroCopy = !flags.contains("zerocopy=0")
        let json = String(decoding: n.stdout, as: UTF8.self)
        // The input endpoint comes first in the object.
        let field = try #require(json.range(of: "\"device_buffers\":"), "\(json)")
        let buffers = Int(json[field.upperBound...].prefix { $0.isNumber }) ?? -1
        #expect(zeroCopy ? buffers > 0 : buffers == 0, "\(json)")
    }
}
}
