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
        let c = CCB(cdb: cdb, data: buf.map { .buffer($0.raw) } ?? .none, direction: direction, timeoutMilliseconds: 10_000)
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
        #expect(lun1.peripheralType == 0)
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
                let c = CCB(cdb: write ? .write(lba: UInt64(k * blocks), blocks: UInt32(blocks), minimumSize: 16)!
                                       : .read(lba: UInt64(k * blocks), blocks: UInt32(blocks), minimumSize: 16)!,
                            data: .scatterGather(sg), direction: write ? .out : .in, cookie: UInt64(k))
                ccbs.append(c)
                try h.queue(c)
            }
            var got = 0
            while got < n {
                guard h.wait(timeoutMilliseconds: 10_000) else { Issue.record("no completion"); return }
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
        let c = CCB(cdb: .read(lba: 0, blocks: 8, minimumSize: 16)!, data: .buffer(buf.raw), direction: .in)
        try h.execute(c)
        #expect(c.status == .scsiStatusError)
        #expect(c.senseData?.asc == 0x25)
        #expect(xpt.devices().isEmpty)
        #expect(throws: CAMError.self) { try h.queue(CCB(cdb: .testUnitReady())) }
    }
}
