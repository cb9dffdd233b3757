#if canImport(Glibc)
import Glibc
#endif
import CAM
import CAMLinuxSG
import CCAMSystem
import SCSI
import Testing

/// What needs no device: the host/driver byte mapping.
@Suite struct SGStatusMappingTests {
    @Test func hostBytesMapAsTheIssueSays() {
        func map(_ host: UInt16, _ driver: UInt16 = 0, _ status: UInt8 = 0, removed: Bool = false) -> CAMStatus {
            SGStatusMapping.camStatus(hostStatus: host, driverStatus: driver, scsiStatus: status, deviceRemoved: removed)
        }
        #expect(map(SGHostStatus.ok) == .requestComplete)
        #expect(map(SGHostStatus.ok, SGDriverStatus.sense, 0x02) == .scsiStatusError)
        #expect(map(SGHostStatus.ok, 0, 0x08) == .scsiStatusError)
        #expect(map(SGHostStatus.ok, SGDriverStatus.timeout) == .commandTimeout)
        #expect(map(SGHostStatus.noConnect) == .selectionTimeout)
        #expect(map(SGHostStatus.noConnect, removed: true) == .deviceNotThere)
        #expect(map(SGHostStatus.badTarget) == .deviceNotThere)
        #expect(map(SGHostStatus.timeOut) == .commandTimeout)
        #expect(map(SGHostStatus.abort) == .requestAborted)
        #expect(map(SGHostStatus.reset) == .requestAborted)
        #expect(map(SGHostStatus.error) == .completedWithError)
        #expect(map(SGHostStatus.transportDisrupted) == .completedWithError)
        // Once the device is going, a transport failure is the removal.
        #expect(map(SGHostStatus.error, removed: true) == .deviceNotThere)
        #expect(map(SGHostStatus.abort, removed: true) == .deviceNotThere)
        #expect(map(SGHostStatus.timeOut, removed: true) == .commandTimeout)
        #expect(map(SGHostStatus.ok, removed: true) == .requestComplete)
    }

    @Test func rawBytesAreKeptOnlyWhenTheySaySomething() {
        #expect(!SGStatusMapping.hasTransportNoise(hostStatus: 0, driverStatus: SGDriverStatus.sense))
        #expect(SGStatusMapping.hasTransportNoise(hostStatus: SGHostStatus.timeOut, driverStatus: 0))
        let d = SGStatusMapping.transportDetail(hostStatus: SGHostStatus.timeOut, driverStatus: 0)
        #expect(d.text == "sg: host DID_TIME_OUT, driver DRIVER_OK")
        #expect(d.hostStatus == 3)
    }
}

extension OnSCSIDebug {
/// The SIM through CAM: scan, pass handles, depth beyond 16, errors, removal and return.
@Suite final class LinuxSGSIMTests {
    let xpt = XPT(completionThreads: 2)
    let bus: CAMBus
    let device: CAMDeviceInfo
    let sgInfo: SGDeviceInfo

    init() throws {
        sgInfo = try #require(SGTestDevice.current)
        let buses = try LinuxSGSIM.register(on: xpt, devices: [sgInfo.devicePath])
        #expect(buses.count == 1)
        bus = buses[0]
        let found = try xpt.scan(bus)
        device = try #require(found.first)
    }

    deinit { xpt.shutdown() }

    private func readCapacity(_ h: PassHandle) throws -> (blocks: UInt64, blockSize: Int) {
        let buf = TestBuffer(8)
        var cdb = CDB(count: 10)
        cdb[0] = 0x25
        let ccb = CCB(cdb: cdb, data: .buffer(buf.bytes), direction: .in)
        ccb.flags.insert(.errorRecovery)
        ccb.retryCount = 4
        try h.execute(ccb)
        #expect(ccb.status == .requestComplete, "\(ccb.status) \(ccb.transportDetail?.text ?? "")")
        let b = buf.bytes
        let last = UInt64(b[0]) << 24 | UInt64(b[1]) << 16 | UInt64(b[2]) << 8 | UInt64(b[3])
        let size = Int(b[4]) << 24 | Int(b[5]) << 16 | Int(b[6]) << 8 | Int(b[7])
        return (last + 1, size)
    }

    private static func rw10(_ op: UInt8, lba: UInt64, blocks: Int) -> CDB {
        var cdb = CDB(count: 10)
        cdb[0] = op
        cdb.setBigEndian(lba, at: 2, width: 4)
        cdb.setBigEndian(UInt64(blocks), at: 7, width: 2)
        return cdb
    }

    @Test func scanFindsTheDeviceWithItsSysfsAddressAndName() throws {
        #expect(device.vendor == "Linux")
        #expect(device.product == "scsi_debug")
        #expect(device.deviceName == sgInfo.devicePath)
        #expect(device.path.target == sgInfo.target && device.path.lun == sgInfo.lun)
        #expect(device.pathInquiry.simName == "sg")
        #expect(device.pathInquiry.simUnit == sgInfo.host)
        #expect(device.pathInquiry.commandSlots == 64)
        #expect(device.pathInquiry.hbaVendor == "scsi_debug")
    }

    @Test func functionCodesItDoesNotCarryAreRefusedAsNotAvailable() throws {
        let h = try xpt.open(unit: device.unit)
        defer { h.close() }
        for f in [CCBFunction.ataIO, .nvmeIO, .nvmeAdmin, .smpIO] {
            let ccb = CCB()
            ccb.function = f
            try h.execute(ccb)
            #expect(ccb.status == .functionNotAvailable, "\(f): \(ccb.status)")
        }
        #expect(device.protocol == .scsi)
    }

    @Test func testUnitReadyWithRecoveryGetsPastUnitAttention() throws {
        let h = try xpt.open(unit: device.unit)
        defer { h.close() }
        let ccb = CCB(cdb: CDB([0, 0, 0, 0, 0, 0])!)
        ccb.flags.insert(.errorRecovery)
        ccb.retryCount = 3
        try h.execute(ccb)
        #expect(ccb.status == .requestComplete)
    }

    @Test func depthSixtyFourWithScatterGatherAndCookies() throws {
        let h = try xpt.open(unit: device.unit)
        defer { h.close() }
        let (blocks, blockSize) = try readCapacity(h)
        #expect(blockSize == 512)
        let perCommand = 8
        let count = 256
        let span = min(blocks, 4096) - UInt64(perCommand)

        // Stamp the span through one big S/G write.
        let stamp = TestBuffer(Int(span + UInt64(perCommand)) * 512)
        for b in 0..<Int(span) + perCommand {
            fillPattern(UnsafeMutableRawBufferPointer(rebasing: stamp.bytes[b * 512..<(b + 1) * 512]), lba: UInt64(b), generation: 9)
        }
        let chunk = h.maxIO / 512
        var lba = 0
        while lba < Int(span) + perCommand {
            let n = min(chunk, Int(span) + perCommand - lba)
            let base = stamp.bytes.baseAddress! + lba * 512
            let list = SGList(capacity: 3)
            list.append(base, length: n * 512 / 3)
            list.append(base + n * 512 / 3, length: n * 512 / 3)
            list.append(base + 2 * (n * 512 / 3), length: n * 512 - 2 * (n * 512 / 3))
            let w = CCB(cdb: Self.rw10(0x2A, lba: UInt64(lba), blocks: n), data: .scatterGather(list), direction: .out)
            w.flags.insert(.errorRecovery)
            w.retryCount = 3
            try h.execute(w)
            #expect(w.status == .requestComplete, "\(w.status)")
            lba += n
        }

        // 64 in flight: the bus has 64 slots (4 descriptors of 16); keep the queue full. Each
        // read takes up to 50 ms in scsi_debug, so the slots fill up even under an emulated CPU,
        // where starting one command costs a good part of a millisecond.
        let oldDelay = SCSIDebugKnob.read("ndelay")
        try SCSIDebugKnob.write("ndelay", "50000000")
        defer { if let oldDelay { try? SCSIDebugKnob.write("ndelay", oldDelay) } }
        let depth = 64
        let buffers = (0..<depth).map { _ in TestBuffer(perCommand * 512) }
        let lists = (0..<depth).map { i -> SGList in
            let l = SGList(capacity: 2)
            l.append(buffers[i].bytes.baseAddress!, length: 1536)
            l.append(buffers[i].bytes.baseAddress! + 1536, length: perCommand * 512 - 1536)
            return l
        }
        let ccbs = (0..<depth).map { _ in CCB() }
        var lbaOf = [UInt64](repeating: 0, count: depth)
        var issued = 0
        var done = 0
        var bad: [String] = []
        func issue(_ slot: Int) throws {
            let lba = UInt64(issued &* 40503 % Int(span))
            lbaOf[slot] = lba
            ccbs[slot].setSCSI(cdb: Self.rw10(0x28, lba: lba, blocks: perCommand), data: .scatterGather(lists[slot]), direction: .in)
            ccbs[slot].cookie = UInt64(slot) << 32 | UInt64(issued)
            try h.queue(ccbs[slot])
            issued += 1
        }
        for s in 0..<depth { try issue(s) }
        while done < count {
            guard h.wait(timeout: .seconds(20)) else { Issue.record("no completion in 20 s"); break }
            while let c = h.get() {
                let slot = Int(c.cookie >> 32)
                #expect(c === ccbs[slot])
                if c.status != .requestComplete || c.residual != 0 {
                    bad.append("\(c.status) resid \(c.residual)")
                } else {
                    for b in 0..<perCommand where !patternMatches(
                        UnsafeRawBufferPointer(rebasing: buffers[slot].bytes[b * 512..<(b + 1) * 512]),
                        lba: lbaOf[slot] + UInt64(b), generation: 9) {
                        bad.append("data of LBA \(lbaOf[slot] + UInt64(b))")
                    }
                }
                done += 1
                if issued < count { try issue(slot) }
            }
        }
        #expect(done == count)
        #expect(bad.isEmpty, "\(bad.prefix(3))")
        let stats = h.statistics
        #expect(stats.maxInFlight > SGDescriptor.maxOutstanding, "max in flight \(stats.maxInFlight)")
        print("sg SIM: \(count) reads at depth \(depth), max in flight \(stats.maxInFlight)")
    }

    @Test func injectedMediumErrorComesBackWithSenseAndLBA() throws {
        let h = try xpt.open(unit: device.unit)
        defer { h.close() }
        guard let start = SCSIDebugKnob.read("medium_error_start").flatMap({ UInt64($0) }),
              let oldOpts = SCSIDebugKnob.read("opts")
        else {
            Issue.record("scsi_debug's knobs are not in sysfs")
            return
        }
        let (blocks, _) = try readCapacity(h)
        guard start < blocks else { return }  // the error range lies beyond a small disk
        try SCSIDebugKnob.write("opts", "2")
        defer { try? SCSIDebugKnob.write("opts", oldOpts) }
        let buf = TestBuffer(512)
        let ccb = CCB(cdb: Self.rw10(0x28, lba: start, blocks: 1), data: .buffer(buf.bytes), direction: .in)
        try h.execute(ccb)
        #expect(ccb.status == .scsiStatusError)
        #expect(ccb.scsiStatus == .checkCondition)
        let sense = try #require(ccb.senseData)
        #expect(sense.senseKey == .mediumError)
        #expect(sense.asc == 0x11)
        // The failing LBA is in the sense's information field (fixed format bytes 3-6).
        let s = sense.bytes
        if !sense.isDescriptorFormat, s.count >= 7 {
            let info = UInt64(s[3]) << 24 | UInt64(s[4]) << 16 | UInt64(s[5]) << 8 | UInt64(s[6])
            #expect(info == start)
        }
    }

    @Test func commandTimeOutIsCAMCommandTimeout() throws {
        let h = try xpt.open(unit: device.unit)
        defer { h.close() }
        guard let oldDelay = SCSIDebugKnob.read("delay"), let oldNDelay = SCSIDebugKnob.read("ndelay") else {
            Issue.record("scsi_debug's knobs are not in sysfs")
            return
        }
        // Commands now take far longer than their time-out (delay is in jiffies), every time:
        // with random=1 scsi_debug would pick a delay below it, often under the time-out.
        let oldRandom = SCSIDebugKnob.read("random") ?? "0"
        try SCSIDebugKnob.write("random", "0")
        defer { try? SCSIDebugKnob.write("random", oldRandom) }
        try SCSIDebugKnob.write("delay", "2500")
        #expect(SCSIDebugKnob.read("delay") == "2500")
        defer {
            try? SCSIDebugKnob.write("delay", oldDelay)
            if oldNDelay != "0" { try? SCSIDebugKnob.write("ndelay", oldNDelay) }
        }
        let ccb = CCB(cdb: CDB([0, 0, 0, 0, 0, 0])!, timeout: .milliseconds(1000))
        let t0 = camMonotonicNanoseconds()
        try h.execute(ccb)
        let ms = (camMonotonicNanoseconds() - t0) / 1_000_000
        #expect(ccb.status == .commandTimeout, "\(ccb.status) \(ccb.transportDetail?.text ?? "") after \(ms) ms")
        #expect(ccb.transportDetail?.hostStatus == SGHostStatus.timeOut)
        print("sg SIM: a 1000 ms time-out came back after \(ms) ms as \(ccb.status); \(ccb.transportDetail?.text ?? "")")
    }

    @Test func scanWithoutPrivilegeSaysWhichDeviceAndWhatIsNeeded() {
        let path = sgInfo.devicePath
        // The file-system uid is per thread: the scan runs as an unprivileged user would.
        let message: String? = onOwnThread { () -> String? in
            let old = setfsuid(65534)
            defer { _ = setfsuid(UInt32(old)) }
            let x = XPT(completionThreads: 1)
            defer { x.shutdown() }
            do throws(CAMError) {
                let buses = try LinuxSGSIM.register(on: x, devices: [path])
                _ = try x.scan(buses[0])
                return nil
            } catch {
                return "\(error.code.rawValue): \(error.message)"
            }
        }
        let m = message ?? ""
        #expect(m.hasPrefix("sim-failure"), "\(m)")
        #expect(m.contains(path))
        #expect(m.contains("read and write access"))
    }

    @Test func abortIsALogicalUnitResetAndTheCommandComesBack() throws {
        let h = try xpt.open(unit: device.unit)
        defer { h.close() }
        let oldDelay = SCSIDebugKnob.read("ndelay")
        try SCSIDebugKnob.write("ndelay", "200000000")
        defer { if let oldDelay { try? SCSIDebugKnob.write("ndelay", oldDelay) } }
        let buf = TestBuffer(4096)
        let target = CCB(cdb: Self.rw10(0x28, lba: 0, blocks: 8), data: .buffer(buf.bytes), direction: .in)
        try h.queue(target)
        let abort = CCB()
        abort.function = .abort
        abort.abortTarget = target
        try h.execute(abort)
        // Accepted (the LU reset is on its way), or too late: scsi_debug's delay is random
        // and the read may have finished already.
        #expect(abort.status == .requestComplete || abort.status == .unableToAbort, "abort: \(abort.status)")
        #expect(h.wait(timeout: .seconds(30)))
        let back = try #require(h.get())
        #expect(back === target)
        print("sg SIM: abort \(abort.status); the READ(10) came back as \(back.status) \(back.transportDetail?.text ?? "")")
    }

    /// Last: the device goes while 32 commands are out, everything comes back, new commands
    /// are refused, and a re-scan brings it back as an arrival that works.
    @Test func removalWithCommandsInFlightThenRescan() throws {
        let events = CAMLockedBox<[String]>([])
        xpt.onEvent { e in
            switch e {
            case .found(let d): events.withLock { $0.append("found \(d.deviceName)") }
            case .lost(let d): events.withLock { $0.append("lost \(d.deviceName)") }
            }
        }
        let h = try xpt.open(unit: device.unit)
        defer { h.close() }
        let depth = 32
        let buffers = (0..<depth).map { _ in TestBuffer(64 * 1024) }
        let ccbs = (0..<depth).map { CCB(cdb: Self.rw10(0x28, lba: UInt64($0) * 128, blocks: 128), data: .buffer(buffers[$0].bytes), direction: .in) }
        for c in ccbs { try h.queue(c) }
        try SGDiscovery.write("1", to: SGDiscovery.deleteFile(hctl: sgInfo.hctl))

        var back: [CAMStatus] = []
        let deadline = camMonotonicNanoseconds() + 15_000_000_000
        var refused: CAMError?
        // Until every command is back, those queued again before the refusal included.
        while (back.count < depth || h.outstandingCount > 0) && camMonotonicNanoseconds() < deadline {
            if h.wait(timeout: .milliseconds(1000)) {
                while let c = h.get() {
                    back.append(c.status)
                    // Keep queueing, as camdd would, until the handle says the device is gone.
                    if refused == nil {
                        do { try h.queue(c) } catch { refused = error }
                    }
                }
            }
        }
        while let c = h.get() { back.append(c.status) }
        #expect(back.count >= depth)
        #expect(refused?.code == .deviceGone, "\(String(describing: refused))")
        // The event comes from the thread that saw the removal, just after the device is
        // marked gone (which is what refused the queue above): give it a moment.
        let lostBy = camMonotonicNanoseconds() + 5_000_000_000
        while !events.withLock({ $0 }).contains("lost \(sgInfo.devicePath)") && camMonotonicNanoseconds() < lostBy {
            usleep(10_000)
        }
        #expect(events.withLock { $0 }.contains("lost \(sgInfo.devicePath)"))
        #expect(h.outstandingCount == 0)
        let tally = Dictionary(grouping: back, by: { $0 }).mapValues(\.count)
        print("sg SIM: removal with \(depth) out: \(tally.map { "\($0.value)× \($0.key)" }.joined(separator: ", "))")

        // Back again: the kernel re-scans the host, CAM re-scans the bus.
        try SGDiscovery.write("- - -", to: SGDiscovery.hostScanFile(host: sgInfo.host))
        var found: [CAMDeviceInfo] = []
        for _ in 0..<100 {
            if SGDiscovery.device(host: sgInfo.host, channel: sgInfo.channel, target: sgInfo.target, lun: sgInfo.lun) != nil {
                found = try xpt.scan(bus)
                if !found.isEmpty { break }
            }
            usleep(50_000)
        }
        let again = try #require(found.first)
        #expect(again.path == device.path)
        #expect(events.withLock { $0 }.last?.hasPrefix("found") == true)
        let h2 = try xpt.open(unit: again.unit)
        defer { h2.close() }
        let tur = CCB(cdb: CDB([0, 0, 0, 0, 0, 0])!)
        tur.flags.insert(.errorRecovery)
        tur.retryCount = 3
        try h2.execute(tur)
        #expect(tur.status == .requestComplete)
    }
}
}
