#if canImport(Glibc)
import Glibc
#endif
import CAM
import CAMISCSI
import SCSI
import Testing

/// The SIM under the XPT, against a real tgtd.
@Suite(.serialized, .enabled(if: TGTHarness.available, "tgtd is not installed"))
final class ISCSISIMTests {
    let tgt: TGTHarness
    let disk = "iqn.2024-01.org.swiftcam:disk"
    let other = "iqn.2024-01.org.swiftcam:other"

    init() throws {
        tgt = try TGTHarness()
        try tgt.addDisk(disk, lun: 1, size: "32M")
        try tgt.addDisk(disk, lun: 2, size: "16M")
        try tgt.addDisk(other, lun: 1, size: "16M")
    }

    deinit { tgt.stop() }

    func ccb(_ cdb: CDB, _ buf: Buffer? = nil, _ direction: CCBDirection = .none) -> CCB {
        let c = CCB(cdb: cdb, data: buf.map { .buffer($0.raw) } ?? .none, direction: direction, timeout: .seconds(10))
        c.flags.insert(.errorRecovery)
        c.retryCount = 4
        return c
    }

    @Test func portalBusFindsTargetsAndLUNsAndNumbersThem() throws {
        let xpt = XPT(completionThreads: 1)
        defer { xpt.shutdown() }
        let sim = try ISCSISIM(specifier: "iscsi://127.0.0.1:\(tgt.port)")
        let bus = xpt.register(sim)
        let found = try xpt.scan(bus)
        // tgt shows its controller as LUN 0 of every target.
        #expect(found.map(\.path.description) == ["0:0:0", "0:0:1", "0:0:2", "0:1:0", "0:1:1"])
        let lun1 = try #require(found.first { $0.path == CAMPath(bus: bus.number, target: 0, lun: 1) })
        #expect(lun1.peripheralType == .directAccess)
        #expect(lun1.deviceName == "iscsi://127.0.0.1:\(tgt.port)/\(disk)/1")
        #expect(found.first { $0.path.target == 1 }?.deviceName.contains(other) == true)
        // The same numbers on a rescan.
        #expect(try xpt.scan(bus).map(\.path) == found.map(\.path))
    }

    @Test func aLUNBusAnswersLikeIscsiInqAndReadcapacity16() throws {
        let xpt = XPT(completionThreads: 1)
        defer { xpt.shutdown() }
        let bus = xpt.register(try ISCSISIM(specifier: tgt.url(disk, lun: 1)))
        let found = try xpt.scan(bus)
        #expect(found.count == 1)
        let h = try xpt.open(path: found[0].path)
        defer { h.close() }
        let inq = Buffer(96)
        let a = ccb(.inquiry(allocationLength: 96), inq, .in)
        try h.execute(a)
        #expect(a.status == .requestComplete)
        let rc = Buffer(32)
        let b = ccb(.readCapacity16(), rc, .in)
        try h.execute(b)
        #expect(b.status == .requestComplete)
        let lastLBA = rc.bytes[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        #expect(lastLBA == 32 * 2048 - 1)
        let peer = try runProgram("/usr/bin/iscsi-inq", [tgt.url(disk, lun: 1)])
        #expect(peer.contains("Vendor:" + String(decoding: inq.bytes[8..<16], as: UTF8.self).trimmingCharacters()))
    }

    @Test func functionCodesItDoesNotCarryAreRefusedAsNotAvailable() throws {
        let xpt = XPT(completionThreads: 1)
        defer { xpt.shutdown() }
        let bus = xpt.register(try ISCSISIM(specifier: tgt.url(disk, lun: 1)))
        let found = try xpt.scan(bus)
        let h = try xpt.open(path: try #require(found.first).path)
        defer { h.close() }
        for f in [CCBFunction.ataIO, .nvmeIO, .nvmeAdmin, .smpIO] {
            let c = CCB()
            c.function = f
            try h.execute(c)
            #expect(c.status == .functionNotAvailable, "\(f): \(c.status)")
        }
        #expect(h.pathInquiry.protocol == .scsi)
    }

    /// queue/get with S/G lists at depth 32: every byte comes back.
    @Test func roundTripThroughPassHandles() throws {
        let xpt = XPT(completionThreads: 1)
        defer { xpt.shutdown() }
        let bus = xpt.register(try ISCSISIM(specifier: tgt.url(disk, lun: 1)))
        let h = try xpt.open(path: try xpt.scan(bus)[0].path)
        defer { h.close() }
        try h.execute(ccb(.testUnitReady()))
        let n = 32, blocks = 64, size = blocks * 512
        let src = Buffer(n * size), dst = Buffer(n * size)
        for i in 0..<src.raw.count { src.raw[i] = UInt8(truncatingIfNeeded: i ^ (i >> 11)) }
        func run(_ write: Bool) throws {
            var ccbs: [CCB] = []
            for k in 0..<n {
                let sg = SGList(capacity: 4)
                let base = (write ? src : dst).raw.baseAddress! + k * size
                sg.append(base, length: 4096)
                sg.append(base + 4096, length: 12288)
                sg.append(base + 16384, length: size - 16384)
                let c = CCB(cdb: write ? .write(lba: UInt64(k * blocks), blocks: UInt32(blocks), minimumSize: 16)
                                       : .read(lba: UInt64(k * blocks), blocks: UInt32(blocks), minimumSize: 16),
                            data: .scatterGather(sg), direction: write ? .out : .in, cookie: UInt64(k))
                ccbs.append(c)
                try h.queue(c)
            }
            var got = 0
            while got < n {
                guard h.wait(timeout: .seconds(10)) else { Issue.record("no completion"); return }
                while let c = h.get() {
                    #expect(c.status == .requestComplete, "\(c.status) \(c.transportDetail?.text ?? "")")
                    #expect(c.transferred == size)
                    got += 1
                }
            }
        }
        try run(true)
        try run(false)
        #expect(memcmp(src.raw.baseAddress!, dst.raw.baseAddress!, n * size) == 0)
    }

    /// Error recovery is safe for writes on a tape: a WRITE to a tape drive LUN whose
    /// connection is lost may have run, and running it again would write the block twice, so CAM
    /// hands the failure back instead of retrying; a TEST UNIT READY to the same tape and a WRITE
    /// to a disk LUN, lost the same way, are retried and succeed once tgtd is back.
    @Test func aTapeWriteThatMayHaveRunIsNotRetried() throws {
        let tape = "iqn.2024-01.org.swiftcam:tape"
        try tgt.addTape(tape, lun: 1)
        var o = ISCSISession.Options()
        o.retryInterval = .milliseconds(200)
        let xpt = XPT(completionThreads: 1)
        defer { xpt.shutdown() }
        let tapeBus = xpt.register(try ISCSISIM(specifier: tgt.url(tape, lun: 1), options: o))
        let diskBus = xpt.register(try ISCSISIM(specifier: tgt.url(disk, lun: 2), options: o))
        let tapeInfo = try #require(try xpt.scan(tapeBus).first)
        #expect(tapeInfo.peripheralType == .sequentialAccess, "tgt's ssc LUN is a sequential-access device")
        let t = try xpt.open(path: tapeInfo.path)
        defer { t.close() }
        let d = try xpt.open(path: try #require(try xpt.scan(diskBus).first).path)
        defer { d.close() }
        // The new sessions' UNIT ATTENTIONs.
        try t.execute(ccb(.testUnitReady()))
        try d.execute(ccb(.testUnitReady()))

        let block = Buffer(512)
        // WRITE(6), variable block length, 512 bytes.
        let tapeWrite = ccb(try #require(CDB([0x0A, 0x00, 0x00, 0x02, 0x00, 0x00])), block, .out)
        let tapeTUR = ccb(.testUnitReady())
        let diskWrite = ccb(CDB.write(lba: 0, blocks: 1, minimumSize: 10), block, .out)
        try tgt.pause()
        try t.queue(tapeWrite)
        try t.queue(tapeTUR)
        try d.queue(diskWrite)
        usleep(100_000)
        try tgt.kill()
        usleep(500_000)
        try tgt.restart()
        func reap(_ h: PassHandle, _ count: Int) -> [CCB] {
            var out: [CCB] = []
            let end = camMonotonicNanoseconds() + 30_000_000_000
            while out.count < count && camMonotonicNanoseconds() < end {
                if let c = h.get() { out.append(c) } else { _ = h.wait(timeout: .milliseconds(100)) }
            }
            return out
        }
        #expect(reap(t, 2).count == 2)
        #expect(reap(d, 1).count == 1)
        #expect(tapeWrite.status == .scsiITNexusLost, "\(tapeWrite.status)")
        #expect(tapeWrite.retriesDone == 0, "a tape WRITE that may have run was retried")
        #expect(tapeTUR.status == .requestComplete, "\(tapeTUR.status) \(tapeTUR.senseData?.description ?? "")")
        #expect(tapeTUR.retriesDone >= 1)
        #expect(diskWrite.status == .requestComplete, "\(diskWrite.status) \(diskWrite.senseData?.description ?? "")")
        #expect(diskWrite.retriesDone >= 1)
    }

    @Test func wrongCHAPFailsTheScanWithoutThePassword() throws {
        try tgt.addCHAP(other, user: "alice", password: "right-one")
        let xpt = XPT(completionThreads: 1)
        defer { xpt.shutdown() }
        let bus = xpt.register(try ISCSISIM(specifier: "iscsi://alice%wrong-one@127.0.0.1:\(tgt.port)/\(other)/1"))
        do {
            _ = try xpt.scan(bus)
            Issue.record("scan with a wrong CHAP secret succeeded")
        } catch {
            #expect(error.message.contains("Authentication failure"))
            #expect(!error.message.contains("wrong-one"))
            #expect(!error.message.contains("right-one"))
        }
    }

    /// A LUN deleted on the target while it is open ends as a lost device.
    @Test func aDeletedLUNIsALostDevice() throws {
        let xpt = XPT(completionThreads: 1)
        defer { xpt.shutdown() }
        let bus = xpt.register(try ISCSISIM(specifier: tgt.url(disk, lun: 2)))
        let h = try xpt.open(path: try xpt.scan(bus)[0].path)
        defer { h.close() }
        try h.execute(ccb(.testUnitReady()))
        try tgt.deleteLUN(disk, lun: 2)
        let buf = Buffer(4096)
        let c = CCB(cdb: .read(lba: 0, blocks: 8, minimumSize: 16), data: .buffer(buf.raw), direction: .in)
        try h.execute(c)
        #expect(c.status == .scsiStatusError)
        #expect(c.senseData?.asc == 0x25)
        #expect(xpt.devices().isEmpty)
        #expect(throws: CAMError.self) { try h.queue(CCB(cdb: .testUnitReady())) }
    }

    // MARK: polled completion

    /// Queues `n` reads or writes of `size` bytes at `lba` + k * size on `h`, S/G, cookie k.
    func queueAll(_ h: PassHandle, _ buffer: Buffer, n: Int, size: Int, lba: UInt64, write: Bool) throws {
        let blocks = size / 512
        for k in 0..<n {
            let sg = SGList(capacity: 2)
            let base = buffer.raw.baseAddress! + k * size
            sg.append(base, length: 4096)
            sg.append(base + 4096, length: size - 4096)
            let at = lba + UInt64(k * blocks)
            let c = CCB(cdb: write ? .write(lba: at, blocks: UInt32(blocks), minimumSize: 16)
                                   : .read(lba: at, blocks: UInt32(blocks), minimumSize: 16),
                        data: .scatterGather(sg), direction: write ? .out : .in, timeout: .seconds(10),
                        cookie: UInt64(k))
            try h.queue(c)
        }
    }

    /// Harvests `n` completions from `h` (by `wait`/`get`: on a polling handle they poll) and
    /// checks that each cookie comes back exactly once, whole and good.
    func harvest(_ h: PassHandle, n: Int, size: Int) {
        var seen = [Int](repeating: 0, count: n)
        var got = 0
        while got < n {
            guard h.wait(timeout: .seconds(10)) else {
                Issue.record("\(got) of \(n) completions, then none for 10 s")
                return
            }
            while let c = h.get() {
                #expect(c.status == .requestComplete, "\(c.status) \(c.transportDetail?.text ?? "")")
                #expect(c.transferred == size)
                seen[Int(c.cookie)] += 1
                got += 1
            }
        }
        #expect(seen.allSatisfy { $0 == 1 }, "completions per CCB: \(seen)")
        #expect(h.get() == nil)
    }

    /// A polling handle (CAMPollingSIM): its thread sends the commands and takes the answers.
    /// Every CCB completes exactly once, the data round-trips, and meanwhile a LUN of the same
    /// target (same session) that nobody polls goes on completing through the service thread.
    @Test func polledHandlesCompleteEveryCCBOnceAndRoundTrip() throws {
        let xpt = XPT(completionThreads: 1)
        defer { xpt.shutdown() }
        let bus = xpt.register(try ISCSISIM(specifier: "iscsi://127.0.0.1:\(tgt.port)"))
        let found = try xpt.scan(bus)
        let p1 = try #require(found.first { $0.path.target == 0 && $0.path.lun == 1 }).path
        let p2 = try #require(found.first { $0.path.target == 0 && $0.path.lun == 2 }).path
        let h = try xpt.open(path: p1)
        defer { h.close() }
        let plain = try xpt.open(path: p2)
        defer { plain.close() }
        try h.execute(ccb(.testUnitReady()))
        try plain.execute(ccb(.testUnitReady()))

        let fds = try #require(h.startPolling())
        #expect(fds.count == 1)
        #expect(h.isPolling)
        let n = 64, size = 16 << 10
        let src = Buffer(n * size), dst = Buffer(n * size)
        for i in 0..<src.raw.count { src.raw[i] = UInt8(truncatingIfNeeded: i &* 7 ^ (i >> 13)) }
        let m = 16
        let side = Buffer(m * size)
        for write in [true, false] {
            try queueAll(h, write ? src : dst, n: n, size: size, lba: 0, write: write)
            try queueAll(plain, side, n: m, size: size, lba: 0, write: false)
            harvest(h, n: n, size: size)
            harvest(plain, n: m, size: size)
        }
        #expect(memcmp(src.raw.baseAddress!, dst.raw.baseAddress!, n * size) == 0)

        // `execute` on a polling handle harvests while it waits.
        let one = Buffer(size)
        try h.execute(ccb(.read(lba: 0, blocks: UInt32(size / 512), minimumSize: 16), one, .in))
        #expect(memcmp(one.raw.baseAddress!, src.raw.baseAddress!, size) == 0)

        // Polling off: the service thread completes again.
        h.stopPolling()
        #expect(!h.isPolling)
        memset(dst.raw.baseAddress!, 0, n * size)
        try queueAll(h, dst, n: n, size: size, lba: 0, write: false)
        harvest(h, n: n, size: size)
        #expect(memcmp(src.raw.baseAddress!, dst.raw.baseAddress!, n * size) == 0)
    }

    /// A polling handle whose program stops asking for a while: the service thread takes the
    /// completions after 200 ms, so the handle's descriptor still becomes readable.
    @Test func aQuietPollerDoesNotStrandItsCommands() throws {
        let xpt = XPT(completionThreads: 1)
        defer { xpt.shutdown() }
        let bus = xpt.register(try ISCSISIM(specifier: tgt.url(disk, lun: 1)))
        let h = try xpt.open(path: try xpt.scan(bus)[0].path)
        defer { h.close() }
        try h.execute(ccb(.testUnitReady()))
        _ = try #require(h.startPolling())
        let size = 64 << 10
        let b = Buffer(8 * size)
        try queueAll(h, b, n: 8, size: size, lba: 0, write: false)
        // get() and wait() would poll; watch only the handle's own eventfd.
        var p = pollfd(fd: h.descriptor, events: Int16(POLLIN), revents: 0)
        let start = camMonotonicNanoseconds()
        var rc: Int32 = 0
        repeat { rc = Glibc.poll(&p, 1, 5_000) } while rc < 0 && errno == EINTR
        #expect(rc == 1, "nothing completed within 5 s while nobody polled")
        #expect(camMonotonicNanoseconds() - start < 3_000_000_000)
        harvest(h, n: 8, size: size)
    }
}
