#if canImport(Glibc)
import Glibc
#endif
import CAM
import CAMEmulator
import SCSI
import Testing

/// The README's library example, kept compiling and working.
@Suite("README library example")
struct ReadmeExampleTests {
    @Test("queue, poll the descriptor, get; then the async form")
    func example() async throws {
        let xpt = XPT()
        defer { xpt.shutdown() }
        let sim = EmulatorSIM()
        try sim.addDisk(target: 0, lun: 0, EmulatedDiskConfiguration(capacityBytes: 64 << 20))
        try xpt.scan(xpt.register(sim))
        let pass = try xpt.open(unit: 0)

        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 4096)
        defer { buffer.deallocate() }
        let ccb = CCB(cdb: CDB.read(lba: 0, blocks: 8), data: .buffer(buffer), direction: .in,
                      timeout: .seconds(10), cookie: 7)   // 60 s unless given; CCB.infiniteTimeout: none
        try pass.queue(ccb)

        var p = pollfd(fd: pass.descriptor, events: Int16(POLLIN), revents: 0)
        #expect(poll(&p, 1, 5000) == 1)
        var cookies: [UInt64] = []
        while let done = pass.get() {
            #expect(done.status == .requestComplete)
            #expect(done.scsiStatus == .good)
            cookies.append(done.cookie)
        }
        #expect(cookies == [7])

        try pass.queue(ccb)
        var statuses: [CAMStatus] = []
        for await done in pass.completions {
            statuses.append(done.status)
            break
        }
        #expect(statuses == [.requestComplete])
        pass.close()
    }

    @Test("the README's polling and device-buffer example")
    func pollingExample() throws {
        let xpt = XPT()
        defer { xpt.shutdown() }
        let sim = EmulatorSIM()
        try sim.addDisk(target: 0, lun: 0, EmulatedDiskConfiguration(capacityBytes: 64 << 20, latency: .fixed(.milliseconds(1))))
        try xpt.scan(xpt.register(sim))
        let pass = try xpt.open(unit: 0)
        defer { pass.close() }

        let buffers = pass.deviceBuffers(count: 4, size: 65536)
        #expect(buffers.isEmpty, "the emulator has no device buffers")
        var seen: [UInt64] = []
        let fds = try #require(pass.startPolling())
        try pass.queue(CCB(cdb: CDB.testUnitReady(), cookie: 8))
        while pass.outstandingCount > 0 {
            _ = pass.wait(timeout: .seconds(1))
            while let done = pass.get() {
                #expect(done.status == .requestComplete)
                seen.append(done.cookie)
            }
        }
        #expect(!fds.isEmpty)
        #expect(seen == [8])
        pass.stopPolling()
    }
}
