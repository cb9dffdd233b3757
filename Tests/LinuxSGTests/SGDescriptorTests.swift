#if canImport(Glibc)
import Glibc
#endif
import CAM
@testable import CAMLinuxSG
import CCAMSystem
import SCSI
import Testing

/// What needs no device: the time-out mapping and the error messages.
@Suite struct SGMappingTests {
    @Test func camTimeoutMapsToMilliseconds() {
        // A CCB has no "device default": zero and CAM_TIME_INFINITY are both no time-out, UINT_MAX.
        let ccb = CCB()
        ccb.timeout = .zero
        #expect(SGTimeout(camNanoseconds: ccb.timeoutNanoseconds) == SGTimeout.none)
        ccb.timeout = CCB.infiniteTimeout
        #expect(SGTimeout(camNanoseconds: ccb.timeoutNanoseconds) == SGTimeout.none)
        #expect(SGTimeout(camNanoseconds: ccb.timeoutNanoseconds).rawValue == UInt32.max)
        ccb.timeout = .seconds(5)
        #expect(SGTimeout(camNanoseconds: ccb.timeoutNanoseconds).rawValue == 5000)
        ccb.timeout = .microseconds(1500)
        #expect(SGTimeout(camNanoseconds: ccb.timeoutNanoseconds).rawValue == 2)
        #expect(SGTimeout.deviceDefault.rawValue == 0)
    }

    @Test func explicitMillisecondsNeverBecomeSpecialValues() {
        #expect(SGTimeout.milliseconds(0).rawValue == 1)
        #expect(SGTimeout.milliseconds(.max).rawValue == UInt32.max - 1)
    }

    @Test func permissionErrorNamesDeviceAndPrivilege() {
        let e = LinuxSGError.system("open", EACCES, on: "/dev/sg7")
        #expect(e.code == .permissionDenied)
        #expect(e.errno == EACCES)
        #expect(e.message.contains("/dev/sg7"))
        #expect(e.message.contains("open"))
        #expect(e.message.contains("CAP_SYS_RAWIO"))
    }

    @Test func edomIsQueueFull() {
        #expect(LinuxSGError.system("write", EDOM, on: "/dev/sg0").code == .queueFull)
        #expect(LinuxSGError.system("read", ENODEV, on: "/dev/sg0").code == .deviceGone)
    }

    @Test func statusNames() {
        #expect(SGHostStatus.name(SGHostStatus.timeOut) == "DID_TIME_OUT")
        #expect(SGHostStatus.name(SGHostStatus.noConnect) == "DID_NO_CONNECT")
        #expect(SGHostStatus.name(0x42) == "DID_0x42")
        #expect(SGDriverStatus.name(SGDriverStatus.sense) == "DRIVER_SENSE")
    }

    @Test func glibcStructuresHaveTheKernelsSizes() {
        #expect(MemoryLayout<sg_io_hdr>.size == Int(CCAMSystem_sizeof_sg_io_hdr))
        #expect(MemoryLayout<sg_req_info>.size == Int(CCAMSystem_sizeof_sg_req_info))
        #expect(MemoryLayout<sg_scsi_id>.size == Int(CCAMSystem_sizeof_sg_scsi_id))
        #expect(MemoryLayout<iovec>.size == MemoryLayout<sg_iovec>.size)
    }
}

/// Everything that uses the scsi_debug device, one test at a time: the device is shared, and
/// some tests remove it and scan it back.
@Suite(.serialized, .enabled(if: SGTestDevice.available, "needs a scsi_debug sg device (scripts/vm/run-in-vm)"))
enum OnSCSIDebug {}

extension OnSCSIDebug {
/// The raw v3 interface against a scsi_debug disk under a real kernel.
@Suite struct SGDescriptorTests {
    let info: SGDeviceInfo
    let blockCount: UInt64

    init() throws {
        info = try #require(SGTestDevice.current)
        // READ CAPACITY(10), retried through the power-on UNIT ATTENTION.
        let sg = try SGDescriptor(path: info.devicePath)
        var last: UInt64 = 0
        for _ in 0..<3 {
            let c = TestCommand(cdb: TestCDB.readCapacity10(), dataLength: 8)
            var r = c.request(direction: .fromDevice, packID: 1)
            try sg.start(&r)
            waitReadable(sg.fd)
            let done = try #require(try sg.collect())
            if done.scsiStatus == 0 {
                let b = c.data!.bytes
                last = UInt64(b[0]) << 24 | UInt64(b[1]) << 16 | UInt64(b[2]) << 8 | UInt64(b[3])
                break
            }
        }
        blockCount = last + 1
    }

    @Test func sysfsAndTheDriverAgreeOnTheAddress() throws {
        let sg = try SGDescriptor(path: info.devicePath)
        #expect(sg.driverVersion >= 30000)
        let id = try sg.scsiID()
        #expect(id.host == info.host && id.channel == info.channel && id.target == info.target)
        #expect(UInt64(id.lun) == info.lun)
        #expect(id.type == info.type)
        #expect(info.type == .directAccess)
        #expect(info.vendor == "Linux")
        #expect(SGDiscovery.device(named: info.devicePath) == info)
    }

    @Test func notAnSGDeviceIsSaidSo() {
        #expect(throws: LinuxSGError.self) { _ = try SGDescriptor(path: "/dev/null") }
        do {
            _ = try SGDescriptor(path: "/dev/null")
        } catch {
            #expect(error.code == .notSGDevice)
            #expect(error.message.contains("/dev/null"))
        }
    }

    @Test func missingDeviceIsGone() {
        do {
            _ = try SGDescriptor(path: "/dev/sg999")
            Issue.record("opened /dev/sg999")
        } catch {
            #expect(error.code == .deviceGone)
            #expect(error.message.contains("/dev/sg999"))
        }
    }

    @Test func withoutPrivilegeTheErrorNamesTheDeviceAndWhatIsNeeded() {
        // The file-system uid is per thread: drop it on a thread of our own, so the kernel's
        // permission check (crw------- root) refuses us as it would an unprivileged user.
        let path = info.devicePath
        let e: LinuxSGError? = onOwnThread { () -> LinuxSGError? in
            let old = setfsuid(65534)
            defer { _ = setfsuid(UInt32(old)) }
            do {
                _ = try SGDescriptor(path: path)
                return nil
            } catch let error as LinuxSGError {
                return error
            } catch {
                return nil
            }
        }
        #expect(e != nil)
        #expect(e?.code == .permissionDenied)
        #expect(e?.message.contains(path) == true)
        #expect(e?.message.contains("read and write access") == true)
    }

    @Test func firstCommandMaySeeUnitAttentionThenTheDeviceIsReady() throws {
        let sg = try SGDescriptor(path: info.devicePath)
        var statuses: [UInt8] = []
        for id in 0..<3 {
            let c = TestCommand(cdb: TestCDB.testUnitReady())
            var r = c.request(direction: .none, packID: Int32(id))
            try sg.start(&r)
            waitReadable(sg.fd)
            let done = try #require(try sg.collect())
            statuses.append(done.scsiStatus)
            if done.scsiStatus == SCSIStatus.checkCondition.rawValue {
                let sense = SenseData(UnsafeRawBufferPointer(rebasing: c.sense.bytes[0..<done.senseLength]))
                #expect(sense.senseKey == .unitAttention, "\(done)")
                #expect(done.driverStatus & 0x0F == SGDriverStatus.sense)
            } else {
                break
            }
        }
        #expect(statuses.last == 0)
    }

    @Test func sixteenOutstandingThenEDOM() throws {
        let sg = try SGDescriptor(path: info.devicePath)
        let commands = (0..<SGDescriptor.maxOutstanding).map { _ in TestCommand(cdb: TestCDB.testUnitReady()) }
        for (i, c) in commands.enumerated() {
            var r = c.request(direction: .none, packID: Int32(i))
            try sg.start(&r)
        }
        // Completed but not read still counts: the 17th is refused whatever the timing.
        let extra = TestCommand(cdb: TestCDB.testUnitReady())
        var r = extra.request(direction: .none, packID: 99)
        do {
            try sg.start(&r)
            Issue.record("a 17th command was accepted")
        } catch {
            #expect(error.code == .queueFull)
            #expect(error.errno == EDOM)
        }
        var seen = Set<Int32>()
        while seen.count < commands.count {
            guard waitReadable(sg.fd) & Int16(POLLIN) != 0 else { break }
            while let done = try sg.collect() { seen.insert(done.packID) }
        }
        #expect(seen == Set(0..<Int32(commands.count)))
    }

    @Test func scatterGatherWriteThenReadBackWithResidualAndDuration() throws {
        let sg = try SGDescriptor(path: info.devicePath)
        let blocks = 8
        let lba: UInt32 = 64
        let length = blocks * SGTestDevice.blockSize
        let w = TestCommand(cdb: TestCDB.write10(lba: lba, blocks: UInt16(blocks)), dataLength: length, segmentCount: 3)
        for b in 0..<blocks {
            fillPattern(UnsafeMutableRawBufferPointer(rebasing: w.data!.bytes[b * 512..<(b + 1) * 512]), lba: UInt64(lba) + UInt64(b), generation: 1)
        }
        var wr = w.request(direction: .toDevice, packID: 1)
        try sg.start(&wr)
        waitReadable(sg.fd)
        let wdone = try #require(try sg.collect())
        #expect(wdone.isOK, "\(wdone)")

        let rd = TestCommand(cdb: TestCDB.read10(lba: lba, blocks: UInt16(blocks)), dataLength: length, segmentCount: 4)
        var rr = rd.request(direction: .fromDevice, packID: 2)
        try sg.start(&rr)
        waitReadable(sg.fd)
        let rdone = try #require(try sg.collect())
        #expect(rdone.isOK, "\(rdone)")
        #expect(rdone.packID == 2)
        #expect(rdone.residual == 0)
        for b in 0..<blocks {
            #expect(patternMatches(UnsafeRawBufferPointer(rebasing: rd.data!.bytes[b * 512..<(b + 1) * 512]), lba: UInt64(lba) + UInt64(b), generation: 1))
        }

        // A short answer leaves a residual: INQUIRY returns fewer bytes than asked for.
        let inq = TestCommand(cdb: TestCDB.inquiry(allocation: 255), dataLength: 255)
        var ir = inq.request(direction: .fromDevice, packID: 3)
        try sg.start(&ir)
        waitReadable(sg.fd)
        let idone = try #require(try sg.collect())
        #expect(idone.isOK)
        let returned = 255 - Int(idone.residual)
        #expect(idone.residual > 0)
        #expect(returned == Int(inq.data!.bytes[4]) + 5)
    }

    @Test func illegalRequestComesBackWithSense() throws {
        let sg = try SGDescriptor(path: info.devicePath)
        let c = TestCommand(cdb: TestCDB.read10(lba: UInt32(blockCount), blocks: 1), dataLength: 512)
        var r = c.request(direction: .fromDevice, packID: 7)
        try sg.start(&r)
        waitReadable(sg.fd)
        let done = try #require(try sg.collect())
        #expect(!done.isOK)
        #expect(done.scsiStatus == SCSIStatus.checkCondition.rawValue)
        #expect(done.hostStatus == SGHostStatus.ok)
        #expect(done.driverStatus & 0x0F == SGDriverStatus.sense)
        let sense = SenseData(UnsafeRawBufferPointer(rebasing: c.sense.bytes[0..<done.senseLength]))
        #expect(sense.senseKey == .illegalRequest)
        #expect(sense.asc == 0x21)  // LOGICAL BLOCK ADDRESS OUT OF RANGE
    }

    @Test func forcedPackIDCollectsInAnyOrderWeChoose() throws {
        let sg = try SGDescriptor(path: info.devicePath)
        try sg.setForcePackID(true)
        let n = SGDescriptor.maxOutstanding
        // Stamp the blocks first so each read has its own contents to check.
        let w = TestCommand(cdb: TestCDB.write10(lba: 200, blocks: UInt16(n)), dataLength: n * 512)
        for b in 0..<n {
            fillPattern(UnsafeMutableRawBufferPointer(rebasing: w.data!.bytes[b * 512..<(b + 1) * 512]), lba: 200 + UInt64(b), generation: 2)
        }
        var wr = w.request(direction: .toDevice, packID: 1000)
        try sg.start(&wr)
        waitReadable(sg.fd)
        #expect(try sg.collect(packID: 1000)?.isOK == true)

        let reads = (0..<n).map { TestCommand(cdb: TestCDB.read10(lba: 200 + UInt32($0), blocks: 1), dataLength: 512) }
        for (i, c) in reads.enumerated() {
            var r = c.request(direction: .fromDevice, packID: Int32(i))
            try sg.start(&r)
        }
        let table = try sg.requestTable()
        #expect(table.count == n)
        #expect(Set(table.map(\.packID)) == Set(0..<Int32(n)))
        // Newest first: the driver hands over exactly the one named.
        for i in (0..<n).reversed() {
            var done: SGCompletion?
            for _ in 0..<1000 {
                done = try sg.collect(packID: Int32(i))
                if done != nil { break }
                waitReadable(sg.fd, milliseconds: 10)
            }
            let d = try #require(done)
            #expect(d.packID == Int32(i))
            #expect(d.isOK)
            #expect(patternMatches(UnsafeRawBufferPointer(reads[i].data!.bytes), lba: 200 + UInt64(i), generation: 2))
        }
        #expect(try sg.requestTable().isEmpty)
        #expect(try sg.waitingCount() == 0)
    }

    @Test func pollerCollectsManyCommandsOverSeveralDescriptors() throws {
        let descriptorCount = 4
        let total = 400
        let blocks = 4
        let span = UInt64(min(blockCount, 8192)) - UInt64(blocks)
        let path = info.devicePath
        let descriptors = try (0..<descriptorCount).map { _ in try SharedDescriptor(path: path) }
        // Stamp the span once, so any read can be checked.
        let w = TestCommand(cdb: TestCDB.write10(lba: 0, blocks: UInt16(span + UInt64(blocks))), dataLength: Int(span + UInt64(blocks)) * 512)
        for b in 0..<Int(span) + blocks {
            fillPattern(UnsafeMutableRawBufferPointer(rebasing: w.data!.bytes[b * 512..<(b + 1) * 512]), lba: UInt64(b), generation: 3)
        }
        var wr = w.request(direction: .toDevice, packID: -2)
        try descriptors[0].sg.start(&wr)
        waitReadable(descriptors[0].sg.fd)
        #expect(try descriptors[0].sg.collect()?.isOK == true)

        struct Shared {
            var completed: [Int32] = []
            var failures: [String] = []
            var hangups = 0
        }
        let shared = CAMLockedBox(Shared())
        let finished = CAMCondition()
        let finishedLock = CAMLock()
        let commands = (0..<total).map { i -> (TestCommand, UInt64) in
            let lba = UInt64(i &* 2654435761 % Int(span))
            return (TestCommand(cdb: TestCDB.read10(lba: UInt32(lba), blocks: UInt16(blocks)), dataLength: blocks * 512, segmentCount: 2), lba)
        }
        // Keep the commands alive in a Sendable box: the poller's thread checks their data.
        final class Box: @unchecked Sendable {
            // Read-only after construction.
            let commands: [(TestCommand, UInt64)]
            init(_ c: [(TestCommand, UInt64)]) { commands = c }
        }
        let box = Box(commands)
        let poller = try SGPoller(name: "sg-test-poll")
        defer { poller.shutdown() }
        let inFlight = CAMLockedBox([Int](repeating: 0, count: descriptorCount))
        for (k, holder) in descriptors.enumerated() {
            try poller.register(fd: holder.sg.fd, device: holder.sg.path) { event in
                guard event == .readable else {
                    shared.withLock { $0.hangups += 1 }
                    return
                }
                while true {
                    let collected: SGCompletion?
                    do {
                        collected = try holder.sg.collect()
                    } catch {
                        shared.withLock { $0.failures.append("\(error)") }
                        break
                    }
                    guard let done = collected else { break }
                    let (cmd, lba) = box.commands[Int(done.packID)]
                    var ok = done.isOK
                    for b in 0..<blocks where ok {
                        ok = patternMatches(UnsafeRawBufferPointer(rebasing: cmd.data!.bytes[b * 512..<(b + 1) * 512]), lba: lba + UInt64(b), generation: 3)
                    }
                    inFlight.withLock { $0[k] -= 1 }
                    shared.withLock {
                        $0.completed.append(done.packID)
                        if !ok { $0.failures.append("\(done) lba \(lba)") }
                    }
                    finishedLock.withLock { finished.broadcast() }
                }
            }
        }
        defer { for holder in descriptors { poller.unregister(fd: holder.sg.fd) } }

        // Feed: each descriptor takes up to 16; wait for room when all are full.
        var next = 0
        var order: [Int32] = []
        while next < total {
            var started = false
            for (k, holder) in descriptors.enumerated() where next < total {
                let room = inFlight.withLock { $0[k] < SGDescriptor.maxOutstanding }
                guard room else { continue }
                var r = box.commands[next].0.request(direction: .fromDevice, packID: Int32(next))
                inFlight.withLock { $0[k] += 1 }
                try holder.sg.start(&r)
                order.append(Int32(next))
                next += 1
                started = true
            }
            if !started {
                finishedLock.withLock { _ = finished.wait(finishedLock, timeoutNanoseconds: 100_000_000) }
            }
        }
        let deadline = camMonotonicNanoseconds() + 60_000_000_000
        while shared.withLock({ $0.completed.count }) < total && camMonotonicNanoseconds() < deadline {
            finishedLock.withLock { _ = finished.wait(finishedLock, timeoutNanoseconds: 100_000_000) }
        }
        let result = shared.withLock { $0 }
        #expect(result.completed.count == total)
        #expect(Set(result.completed) == Set(0..<Int32(total)))
        #expect(result.failures.isEmpty, "\(result.failures.prefix(3))")
        #expect(result.hangups == 0)
        // A completion "overtook" when an earlier-started command was still out.
        var highest: Int32 = -1
        var overtook = 0
        for id in result.completed {
            if id < highest { overtook += 1 }
            highest = max(highest, id)
        }
        print("sg poller: \(total) commands over \(descriptorCount) descriptors, \(overtook) collected after a later one")
    }

    /// Last, as it takes the device away: removal hangs up the descriptor, reading says the
    /// device is gone, and a re-scan brings the device back.
    @Test func removalHangsUpAndRescanBringsItBack() throws {
        let holder = try SharedDescriptor(path: info.devicePath)
        let poller = try SGPoller(name: "sg-test-hup")
        defer { poller.shutdown() }
        struct Seen {
            var hangups = 0
            var readableAfterHangup = 0
            var collected: [SGCompletion] = []
        }
        let seen = CAMLockedBox(Seen())
        try poller.register(fd: holder.sg.fd, device: holder.sg.path) { e in
            seen.withLock {
                if e == .hangup { $0.hangups += 1 } else if $0.hangups > 0 { $0.readableAfterHangup += 1 }
            }
            while let done = try? holder.sg.collect() { seen.withLock { $0.collected.append(done) } }
            // Done draining: the in-flight command came back after the hang-up.
            if seen.withLock({ $0.hangups > 0 && $0.collected.contains { $0.packID == 5 } }) {
                poller.unregister(fd: holder.sg.fd)
            }
        }
        let sg = holder

        // Something in flight when the device goes (the VM runs scsi_debug with a delay).
        let c = TestCommand(cdb: TestCDB.read10(lba: 0, blocks: 8), dataLength: 4096)
        var r = c.request(direction: .fromDevice, packID: 5)
        try sg.start(&r)

        try SGDiscovery.write("1", to: SGDiscovery.deleteFile(hctl: info.hctl))
        let deadline = camMonotonicNanoseconds() + 10_000_000_000
        while !seen.withLock({ $0.hangups > 0 && $0.collected.contains { $0.packID == 5 } })
            && camMonotonicNanoseconds() < deadline {
            usleep(10_000)
        }
        let s = seen.withLock { $0 }
        #expect(s.hangups == 1)
        let inFlight = s.collected.first { $0.packID == 5 }
        #expect(inFlight != nil)
        print("sg removal: in-flight command came back as \(inFlight.map { "\($0)" } ?? "nothing"); "
              + "\(s.readableAfterHangup) drain calls after the hang-up")
        // A non-blocking read has nothing more to say; starting a command says ENODEV.
        #expect(try sg.collect() == nil)
        do {
            var again = c.request(direction: .fromDevice, packID: 6)
            try sg.start(&again)
            Issue.record("a command started on a removed device")
        } catch {
            #expect(error.code == .deviceGone)
        }
        #expect(SGDiscovery.device(named: info.name) == nil)

        try SGDiscovery.write("- - -", to: SGDiscovery.hostScanFile(host: info.host))
        // By address: with several scsi_debug LUNs another one is "first" while this one is away.
        let device = try #require(SCSIDebug.waitForDevice(hctl: info.hctl))
        #expect(device.hctl == info.hctl)
        let fresh = try SGDescriptor(path: device.devicePath)
        #expect(try fresh.scsiID().target == info.target)
    }
}
}

@Suite("LinuxSGError codes")
struct LinuxSGErrorCodeTests {
    @Test("each code keeps its spelling, and a spelling gives back its code")
    func spellings() {
        let codes: [(LinuxSGError.Code, String)] = [
            (.permissionDenied, "permission-denied"), (.deviceGone, "device-gone"), (.queueFull, "queue-full"),
            (.invalidRequest, "invalid-request"), (.notSGDevice, "not-sg-device"), (.systemCall, "system-call"),
        ]
        for (code, text) in codes {
            #expect(code.rawValue == text)
            #expect(LinuxSGError.Code(rawValue: text) == code)
        }
        #expect(Set(codes.map(\.0)).count == codes.count)
    }

    @Test("a code added later maps to a CAM system-call error and a completed-with-error status")
    func laterCode() {
        let e = LinuxSGError(LinuxSGError.Code(rawValue: "added-later"), "write on /dev/sg9: something new", errno: 5)
        #expect(CAMError(e).code == .systemCall)
        #expect(CAMError(e).errno == 5)
        #expect(SGStatusMapping.camStatus(startError: e) == .completedWithError)
    }
}
