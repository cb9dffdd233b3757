#if canImport(Glibc)
import Glibc
#endif
import CAM
import CAMISCSI
import SCSI
import Testing

/// The session against a real tgtd: each test gets its own, stopped at the end.
@Suite(.serialized, .enabled(if: TGTHarness.available, "tgtd is not installed"))
final class ISCSISessionTests {
    let tgt: TGTHarness
    let iqn = "iqn.2024-01.org.swiftcam:disk"
    let chapIQN = "iqn.2024-01.org.swiftcam:chap"

    init() throws {
        tgt = try TGTHarness()
        try tgt.addDisk(iqn, lun: 1, size: "64M")
        try tgt.addDisk(iqn, lun: 2, size: "16M")
    }

    deinit { tgt.stop() }

    func open(_ text: String, _ collector: Collector, options: ISCSISession.Options = .init()) throws(ISCSIError) -> ISCSISession {
        try ISCSISession(url: try ISCSIURL.parse(text, environment: [:]), options: options, handler: collector.handler)
    }

    /// A new login makes the target report a UNIT ATTENTION (29/00, power on or reset) to the
    /// first command of each LUN: the session passes it on rather than eating it. Take it.
    func takeUnitAttention(_ s: ISCSISession, _ c: Collector, lun: UInt64) throws {
        for k in 0..<5 {
            let d = try #require(try execute(s, c, tag: 90_000 + UInt64(k), lun: lun, cdb: .testUnitReady()))
            if d.outcome == .status && d.status == .good { return }
            #expect(d.status == .checkCondition && SenseData(d.sense).senseKey == .unitAttention)
        }
    }

    @Test func inquiryAgreesWithIscsiInq() throws {
        let c = Collector()
        let s = try open(tgt.url(iqn, lun: 1), c)
        defer { s.close() }
        let buf = Buffer(96)
        let d = try #require(try execute(s, c, tag: 1, lun: 1, cdb: .inquiry(allocationLength: 96), direction: .in, buffers: [buf.raw]))
        #expect(d.outcome == .status)
        #expect(d.status == .good)
        let data = buf.bytes
        #expect(data[0] & 0x1F == 0)  // direct access
        let vendor = String(decoding: data[8..<16], as: UTF8.self).trimmingCharacters()
        let product = String(decoding: data[16..<32], as: UTF8.self).trimmingCharacters()
        #expect(d.residual == 96 - (Int(data[4]) + 5))
        let inq = try runProgram("/usr/bin/iscsi-inq", [tgt.url(iqn, lun: 1)])
        #expect(inq.contains("Vendor:\(vendor)"))
        #expect(inq.contains("Product:\(product)"))
    }

    @Test func readCapacity16AgreesWithIscsiReadcapacity16() throws {
        let c = Collector()
        let s = try open(tgt.url(iqn, lun: 1), c)
        defer { s.close() }
        try takeUnitAttention(s, c, lun: 1)
        let buf = Buffer(32)
        let d = try #require(try execute(s, c, tag: 1, lun: 1, cdb: .readCapacity16(), direction: .in, buffers: [buf.raw]))
        #expect(d.status == .good)
        let b = buf.bytes
        let lastLBA = b[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let blockLength = b[8..<12].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        #expect(blockLength == 512)
        #expect(lastLBA == 64 * 1024 * 1024 / 512 - 1)
        let rc = try runProgram("/usr/bin/iscsi-readcapacity16", [tgt.url(iqn, lun: 1)])
        #expect(rc.contains("LOGICAL BLOCK LENGTH IN BYTES:\(blockLength)"))
        #expect(rc.contains("RETURNED LOGICAL BLOCK ADDRESS:\(lastLBA)"))
    }

    /// 64 writes in flight, each spread over three segments of odd sizes, then 64 reads into
    /// segments cut differently; the data must come back byte for byte.
    @Test func roundTripWithManyCommandsInFlightAndScatterGather() throws {
        let c = Collector()
        let s = try open(tgt.url(iqn, lun: 1), c)
        defer { s.close() }
        try takeUnitAttention(s, c, lun: 1)
        let count = 64
        let blocks = 16  // 8 KiB per command
        let size = blocks * 512
        let src = Buffer(count * size)
        for i in 0..<src.raw.count { src.raw[i] = UInt8(truncatingIfNeeded: i &* 7 &+ i >> 9) }
        let dst = Buffer(count * size)
        // Writes: segments of 1000, 3000 and the rest.
        var lists: [[iovec]] = []
        for k in 0..<count {
            let base = src.raw.baseAddress! + k * size
            lists.append([iovec(iov_base: base, iov_len: 1000), iovec(iov_base: base + 1000, iov_len: 3000),
                          iovec(iov_base: base + 4000, iov_len: size - 4000)])
        }
        for k in 0..<count {
            try lists[k].withUnsafeBufferPointer {
                try s.submit(ISCSIRequest(lun: 1, cdb: .write(lba: UInt64(k * blocks), blocks: UInt32(blocks), minimumSize: 16),
                                          direction: .out, segments: $0, tag: UInt64(k)))
            }
        }
        for k in 0..<count {
            let d = try #require(c.wait(UInt64(k)))
            #expect(d.outcome == .status && d.status == .good && d.residual == 0)
        }
        // Reads: segments of 512, 7 x 1024 and 512, in reverse order of LBA.
        lists.removeAll()
        for k in 0..<count {
            let base = dst.raw.baseAddress! + k * size
            var l = [iovec(iov_base: base, iov_len: 512)]
            for j in 0..<7 { l.append(iovec(iov_base: base + 512 + j * 1024, iov_len: 1024)) }
            l.append(iovec(iov_base: base + 512 + 7 * 1024, iov_len: 512))
            lists.append(l)
        }
        for k in (0..<count).reversed() {
            try lists[k].withUnsafeBufferPointer {
                try s.submit(ISCSIRequest(lun: 1, cdb: .read(lba: UInt64(k * blocks), blocks: UInt32(blocks), minimumSize: 16),
                                          direction: .in, segments: $0, tag: UInt64(1000 + k)))
            }
        }
        for k in 0..<count {
            let d = try #require(c.wait(UInt64(1000 + k)))
            #expect(d.outcome == .status && d.status == .good && d.residual == 0)
        }
        #expect(memcmp(src.raw.baseAddress!, dst.raw.baseAddress!, count * size) == 0)
    }

    @Test func checkConditionCarriesTheSense() throws {
        let c = Collector()
        let s = try open(tgt.url(iqn, lun: 2), c)
        defer { s.close() }
        try takeUnitAttention(s, c, lun: 2)
        let buf = Buffer(512)
        // LUN 2 has 16 MiB = 32768 blocks: LBA 40000 is out of range.
        let d = try #require(try execute(s, c, tag: 1, lun: 2, cdb: .read(lba: 40_000, blocks: 1, minimumSize: 16), direction: .in, buffers: [buf.raw]))
        #expect(d.outcome == .status)
        #expect(d.status == .checkCondition)
        let sense = SenseData(d.sense)
        #expect(sense.senseKey == .illegalRequest)
        #expect(sense.asc == 0x21)  // LOGICAL BLOCK ADDRESS OUT OF RANGE
        #expect(d.residual == 512)
    }

    @Test func badRequestsAreRefusedAtSubmit() throws {
        let c = Collector()
        let s = try open(tgt.url(iqn, lun: 1), c)
        defer { s.close() }
        #expect(throws: ISCSIError.self) {
            try s.submit(ISCSIRequest(lun: 1, cdb: CDB(count: 32)))
        }
        s.close()
        #expect(throws: ISCSIError.self) {
            try s.submit(ISCSIRequest(lun: 1, cdb: .testUnitReady()))
        }
    }

    @Test func chapRightWrongAndMissing() throws {
        try tgt.addDisk(chapIQN, lun: 1, size: "16M")
        try tgt.addCHAP(chapIQN, user: "alice", password: "correct-horse")
        let c = Collector()
        let s = try open(tgt.url(chapIQN, lun: 1, user: "alice", password: "correct-horse"), c)
        let d = try execute(s, c, tag: 1, lun: 1, cdb: .testUnitReady())
        #expect(d?.outcome == .status)
        s.close()

        for (user, password) in [("alice", "battery-staple"), ("mallory", "correct-horse")] {
            do {
                _ = try open(tgt.url(chapIQN, lun: 1, user: user, password: password), c)
                Issue.record("login with a wrong secret succeeded")
            } catch {
                #expect(error.code == .authenticationFailed)
                #expect(error.message.contains("Authentication failure"))
                #expect(error.message.contains(user))
                #expect(!error.message.contains(password))
                #expect(!error.message.contains("correct-horse"))
            }
        }
        do {
            _ = try open(tgt.url(chapIQN, lun: 1), c)
            Issue.record("login without CHAP succeeded")
        } catch {
            #expect(error.code == .authenticationFailed)
            #expect(error.message.contains("without CHAP"))
        }
    }

    @Test func mutualCHAP() throws {
        try tgt.addDisk(chapIQN, lun: 1, size: "16M")
        try tgt.addCHAP(chapIQN, user: "alice", password: "correct-horse")
        try tgt.addCHAP(chapIQN, user: "target1", password: "target-secret", outgoing: true)
        let c = Collector()
        let good = tgt.url(chapIQN, lun: 1, user: "alice", password: "correct-horse")
            + "?target_user=target1&target_password=target-secret"
        let s = try open(good, c)
        #expect(try execute(s, c, tag: 1, lun: 1, cdb: .testUnitReady())?.outcome == .status)
        s.close()
        let bad = tgt.url(chapIQN, lun: 1, user: "alice", password: "correct-horse")
            + "?target_user=target1&target_password=an-impostor"
        do {
            _ = try open(bad, c)
            Issue.record("a target with the wrong secret was accepted")
        } catch {
            #expect(error.code == .authenticationFailed)
            #expect(!error.message.contains("an-impostor"))
            #expect(!error.message.contains("correct-horse"))
        }
    }

    @Test func discoveryListsTargetsAndPortals() throws {
        try tgt.addDisk(chapIQN, lun: 1, size: "16M")
        let found = try ISCSIDiscovery.sendTargets(try ISCSIURL.parsePortal("iscsi://127.0.0.1:\(tgt.port)", environment: [:]))
        #expect(found.map(\.name) == [chapIQN, iqn])
        for t in found {
            #expect(t.portals.contains { $0.hasPrefix("127.0.0.1:\(tgt.port)") })
        }
        let ls = try runProgram("/usr/bin/iscsi-ls", ["iscsi://127.0.0.1:\(tgt.port)"])
        for t in found { #expect(ls.contains("Target:\(t.name)")) }
    }

    @Test func aTargetThatStopsAnsweringTimesOut() throws {
        let c = Collector()
        let s = try open(tgt.url(iqn, lun: 1), c)
        defer { s.close() }
        try tgt.pause()
        defer { try? tgt.resume() }
        let start = camMonotonicNanoseconds()
        let d = try #require(try execute(s, c, tag: 1, lun: 1, cdb: .testUnitReady(), timeout: .milliseconds(1500), wait: 10))
        let spent = Double(camMonotonicNanoseconds() - start) / 1e9
        #expect(d.outcome == .timedOut)
        #expect(spent >= 1.4 && spent < 3.5)
        try tgt.resume()
        // The session goes on after the time-out.
        let e = try #require(try execute(s, c, tag: 2, lun: 1, cdb: .testUnitReady()))
        #expect(e.outcome == .status)
    }

    @Test func lunReset() throws {
        let c = Collector()
        let s = try open(tgt.url(iqn, lun: 1), c)
        defer { s.close() }
        try s.submit(.lunReset(1, tag: 9))
        let d = try #require(c.wait(9))
        #expect(d.outcome == .status)
        // The target reports the reset to the next command as a UNIT ATTENTION (or not at all).
        let e = try #require(try execute(s, c, tag: 10, lun: 1, cdb: .testUnitReady()))
        #expect(e.outcome == .status)
        if e.status == .checkCondition { #expect(SenseData(e.sense).senseKey == .unitAttention) }
    }

    @Test func abortEndsTheCommandEitherWay() throws {
        let c = Collector()
        let s = try open(tgt.url(iqn, lun: 1), c)
        defer { s.close() }
        final class Token {}
        let token = Token()
        try takeUnitAttention(s, c, lun: 1)
        let buf = Buffer(1 << 20)
        var iov = [iovec(iov_base: buf.raw.baseAddress, iov_len: buf.raw.count)]
        try tgt.pause()
        try iov.withUnsafeBufferPointer {
            try s.submit(ISCSIRequest(lun: 1, cdb: .read(lba: 0, blocks: 2048, minimumSize: 16), direction: .in, segments: $0,
                                      tag: 1, context: token))
        }
        usleep(100_000)
        #expect(s.abort(context: token))
        try tgt.resume()
        let d = try #require(c.wait(1))
        #expect(d.outcome == .aborted || (d.outcome == .status && d.status == .good), "\(d)")
        iov.removeAll()
        #expect(s.abort(context: token) == false)
    }

    /// tgtd killed with commands out: they end with connection-lost; tgtd back on the same
    /// port: the session logs in again by itself and new commands work.
    @Test func connectionLossAndReconnect() throws {
        let c = Collector()
        var o = ISCSISession.Options()
        o.retryInterval = .milliseconds(200)
        let s = try open(tgt.url(iqn, lun: 1), c, options: o)
        defer { s.close() }
        try tgt.pause()
        try s.submit(ISCSIRequest(lun: 1, cdb: .testUnitReady(), tag: 1))
        usleep(100_000)
        try tgt.kill()
        let d = try #require(c.wait(1, seconds: 10))
        #expect(d.outcome == .connectionLost)
        try tgt.restart()
        var ok = false
        for k in 0..<20 where !ok {
            if let e = try execute(s, c, tag: UInt64(100 + k), lun: 1, cdb: .testUnitReady(), timeout: .milliseconds(5000)) {
                ok = e.outcome == .status
            }
            if !ok { usleep(200_000) }
        }
        #expect(ok)
        #expect(s.isLoggedIn)
    }

    /// A command submitted again from the completion of one the lost connection ended (what
    /// CAM's error recovery does, on the session's thread) waits for the next login: it must not
    /// go out on the dead connection, which libiscsi still calls logged in, and end the same
    /// way at once (with camdd's single retry that failed copies across a tgtd restart).
    @Test func aCommandResubmittedFromALostOneWaitsForTheNextLogin() throws {
        let c = Collector()
        let box = SessionBox()
        var o = ISCSISession.Options()
        o.retryInterval = .milliseconds(200)
        let s = try ISCSISession(url: try ISCSIURL.parse(tgt.url(iqn, lun: 1), environment: [:]), options: o) { done in
            if done.outcome == .connectionLost && done.tag < 1000, let s = box.session {
                try? s.submit(ISCSIRequest(lun: 1, cdb: .testUnitReady(), timeout: .seconds(30), tag: done.tag + 1000))
            }
            c.handler(done)
        }
        box.session = s
        defer {
            s.close()
            box.session = nil
        }
        try takeUnitAttention(s, c, lun: 1)
        try tgt.pause()
        for k in 0..<8 { try s.submit(ISCSIRequest(lun: 1, cdb: .testUnitReady(), tag: UInt64(k))) }
        usleep(100_000)
        try tgt.kill()
        for k in 0..<8 {
            let d = try #require(c.wait(UInt64(k), seconds: 10), "command \(k) hung")
            #expect(d.outcome == .connectionLost)
        }
        // tgtd is down: the resubmitted commands wait (each has 30 s).
        usleep(1_500_000)
        for k in 0..<8 {
            if let d = c.wait(UInt64(1000 + k), seconds: 0) {
                Issue.record("resubmitted command \(k) ended while the target was down: \(d)")
            }
        }
        try tgt.restart()
        for k in 0..<8 {
            let d = try #require(c.wait(UInt64(1000 + k), seconds: 20), "resubmitted command \(k) hung")
            // GOOD, or the UNIT ATTENTION of the new session for the first of them.
            #expect(d.outcome == .status, "\(d)")
        }
    }

    /// tgtd gone for good: commands end within their time-out, and after the reconnect window
    /// at once, never hang.
    @Test func aTargetThatDoesNotComeBackEndsInAClearError() throws {
        let c = Collector()
        var o = ISCSISession.Options()
        o.reconnectWindow = .milliseconds(1500)
        o.retryInterval = .milliseconds(200)
        let s = try open(tgt.url(iqn, lun: 1), c, options: o)
        defer { s.close() }
        try tgt.kill()
        let start = camMonotonicNanoseconds()
        let d = try #require(try execute(s, c, tag: 1, lun: 1, cdb: .testUnitReady(), timeout: .milliseconds(4000), wait: 10))
        let spent = Double(camMonotonicNanoseconds() - start) / 1e9
        #expect([.connectionLost, .unreachable, .timedOut].contains(d.outcome))
        #expect(spent < 4.5)
        usleep(1_700_000)
        let e = try #require(try execute(s, c, tag: 2, lun: 1, cdb: .testUnitReady(), timeout: .seconds(10), wait: 5))
        #expect(e.outcome == .unreachable)
        #expect(e.detail?.contains("reconnect window") == true)
    }

    // MARK: polled completion

    /// Drives a polled session the way a polling program does (poll, then sleep on the
    /// descriptor) until `tag` completes or `seconds` pass.
    func pollFor(_ tag: UInt64, _ s: ISCSISession, _ c: Collector, fd: Int32, seconds: Double = 20) -> Done? {
        let end = camMonotonicNanoseconds() + UInt64(seconds * 1e9)
        while camMonotonicNanoseconds() < end {
            s.poll()
            if let d = c.wait(tag, seconds: 0) { return d }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            _ = Glibc.poll(&p, 1, 20)
        }
        return nil
    }

    /// Polled: commands submitted on this thread go out at the next `poll` and complete in
    /// it, on this thread, each exactly once, with the data where it belongs.
    @Test func polledRoundTripCompletesOnThePollingThread() throws {
        let thread = pthread_self()
        let c = Collector()
        let onPoller = CAMLockedBox<(yes: Int, no: Int)>((0, 0))
        let handler = c.handler
        let s = try ISCSISession(url: try ISCSIURL.parse(tgt.url(iqn, lun: 1), environment: [:])) { d in
            onPoller.withLock { pthread_equal(pthread_self(), thread) != 0 ? ($0.yes += 1) : ($0.no += 1) }
            handler(d)
        }
        defer { s.close() }
        try takeUnitAttention(s, c, lun: 1)
        let fd = try #require(s.startPolling(lun: 1))
        let n = 48, size = 32 << 10
        let src = Buffer(n * size), dst = Buffer(n * size)
        for i in 0..<src.raw.count { src.raw[i] = UInt8(truncatingIfNeeded: (i >> 3) &* 131 ^ i) }
        onPoller.withLock { $0 = (0, 0) }
        for write in [true, false] {
            let buffer = write ? src : dst
            for k in 0..<n {
                var iov = iovec(iov_base: buffer.raw.baseAddress! + k * size, iov_len: size)
                let blocks = UInt32(size / 512)
                let cdb: CDB = write ? .write(lba: UInt64(k) * UInt64(blocks), blocks: blocks, minimumSize: 16)
                                     : .read(lba: UInt64(k) * UInt64(blocks), blocks: blocks, minimumSize: 16)
                try withUnsafePointer(to: &iov) { p in
                    try s.submit(ISCSIRequest(lun: 1, cdb: cdb, direction: write ? .out : .in,
                                              segments: UnsafeBufferPointer(start: p, count: 1), tag: UInt64(k)))
                }
            }
            for k in 0..<n {
                let d = try #require(pollFor(UInt64(k), s, c, fd: fd), "command \(k) never completed")
                #expect(d.outcome == .status && d.status == .good, "\(d)")
            }
        }
        #expect(memcmp(src.raw.baseAddress!, dst.raw.baseAddress!, n * size) == 0)
        let counts = onPoller.withLock { $0 }
        #expect(counts.yes == 2 * n && counts.no == 0, "on the poller: \(counts.yes), elsewhere: \(counts.no)")
        // Nothing more: each completed exactly once.
        s.poll()
        for k in 0..<n { #expect(c.wait(UInt64(k), seconds: 0) == nil) }
        s.stopPolling(lun: 1)
        let e = try #require(try execute(s, c, tag: 500, lun: 1, cdb: .testUnitReady()))
        #expect(e.outcome == .status)
    }

    /// tgtd killed under polled commands: they end (connection lost) on the polling thread,
    /// once each; tgtd back: the service thread logs in again, and polled commands work
    /// again through the same descriptor.
    @Test func polledConnectionLossAndReconnect() throws {
        let c = Collector()
        var o = ISCSISession.Options()
        o.retryInterval = .milliseconds(200)
        let s = try open(tgt.url(iqn, lun: 1), c, options: o)
        defer { s.close() }
        try takeUnitAttention(s, c, lun: 1)
        let fd = try #require(s.startPolling(lun: 1))
        try tgt.pause()
        for k in 0..<8 { try s.submit(ISCSIRequest(lun: 1, cdb: .testUnitReady(), tag: UInt64(k))) }
        s.poll()
        usleep(100_000)
        try tgt.kill()
        for k in 0..<8 {
            let d = try #require(pollFor(UInt64(k), s, c, fd: fd, seconds: 10), "command \(k) hung")
            #expect(d.outcome == .connectionLost, "\(d)")
        }
        s.poll()
        for k in 0..<8 { #expect(c.wait(UInt64(k), seconds: 0) == nil) }
        try tgt.restart()
        var ok = false
        for k in 0..<40 where !ok {
            let tag = UInt64(100 + k)
            try s.submit(ISCSIRequest(lun: 1, cdb: .testUnitReady(), timeout: .milliseconds(5000), tag: tag))
            if let e = pollFor(tag, s, c, fd: fd, seconds: 10) { ok = e.outcome == .status && e.status == .good }
            if !ok { usleep(200_000) }
        }
        #expect(ok)
        #expect(s.isLoggedIn)
        // Polled again: answers come through the descriptor.
        try s.submit(ISCSIRequest(lun: 1, cdb: .testUnitReady(), tag: 900))
        s.poll()
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        #expect(Glibc.poll(&p, 1, 5_000) == 1)
        #expect(pollFor(900, s, c, fd: fd)?.outcome == .status)
    }

    /// A polled target that stops answering: the commands time out (the service thread keeps
    /// the time-outs while pollers run).
    @Test func polledCommandsTimeOut() throws {
        let c = Collector()
        let s = try open(tgt.url(iqn, lun: 1), c)
        defer { s.close() }
        try takeUnitAttention(s, c, lun: 1)
        let fd = try #require(s.startPolling(lun: 1))
        try tgt.pause()
        defer { try? tgt.resume() }
        let start = camMonotonicNanoseconds()
        try s.submit(ISCSIRequest(lun: 1, cdb: .testUnitReady(), timeout: .milliseconds(700), tag: 1))
        let d = try #require(pollFor(1, s, c, fd: fd, seconds: 10))
        #expect(d.outcome == .timedOut)
        let spent = Double(camMonotonicNanoseconds() - start) / 1e9
        #expect(spent >= 0.6 && spent < 3, "\(spent) s")
    }
}
