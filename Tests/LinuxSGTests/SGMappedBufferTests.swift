#if canImport(Glibc)
import Glibc
#endif
import CAM
import CAMLinuxSG
import SCSI
import Testing

extension OnSCSIDebug {
/// Mapped buffers (`LinuxSGSIM.mappedBuffers`, SG_FLAG_MMAP_IO): data moves between the
/// device and the buffer with no copy, polled or not, and anything else still works.
@Suite final class SGMappedBufferTests {
    let xpt = XPT(completionThreads: 2)
    let bus: CAMBus
    let device: CAMDeviceInfo
    let sim: LinuxSGSIM

    init() throws {
        (_, bus, device) = try attachSCSIDebug(to: xpt)
        sim = try #require(bus.sim as? LinuxSGSIM)
    }

    deinit { xpt.shutdown() }


    static func fill(_ b: UnsafeMutableRawBufferPointer, lba: UInt64, generation: UInt8) {
        for i in 0..<(b.count / 512) {
            fillPattern(UnsafeMutableRawBufferPointer(rebasing: b[(i * 512)..<((i + 1) * 512)]), lba: lba + UInt64(i), generation: generation)
        }
    }

    static func matches(_ b: UnsafeMutableRawBufferPointer, lba: UInt64, generation: UInt8) -> Bool {
        (0..<(b.count / 512)).allSatisfy {
            patternMatches(UnsafeRawBufferPointer(rebasing: b[($0 * 512)..<(($0 + 1) * 512)]), lba: lba + UInt64($0), generation: generation)
        }
    }

    /// Writes then reads back 64 KiB blocks in mapped buffers, `depth` at a time, and checks
    /// every byte; polled or not.
    @Test(arguments: [false, true]) func dataGoesStraightToAndFromMappedBuffers(polled: Bool) throws {
        let size = 64 * 1024
        let depth = 6
        let maps = try sim.mappedBuffers(at: device.path, count: depth, size: size)
        #expect(maps.count == depth)
        #expect(maps.allSatisfy { $0.bytes.count == size })
        let h = try xpt.open(unit: device.unit)
        defer { h.close() }
        if polled {
            let fds = try #require(h.startPolling())
            #expect(fds.count == 32 + depth, "the mapped buffers' descriptors are polled too")
        }
        let generation: UInt8 = polled ? 0x77 : 0x33
        let base: UInt64 = polled ? 4096 : 8192
        for writing in [true, false] {
            let ccbs = (0..<depth).map { i -> CCB in
                let lba = base + UInt64(i) * 128
                if writing { Self.fill(maps[i].bytes, lba: lba, generation: generation) } else { memset(maps[i].bytes.baseAddress!, 0, size) }
                return CCB(cdb: rw10(write: writing, lba: lba, blocks: 128), data: .buffer(maps[i].bytes),
                           direction: writing ? .out : .in, cookie: UInt64(i))
            }
            for c in ccbs { try h.queue(c) }
            var back: [CCB] = []
            let deadline = camMonotonicNanoseconds() + 20_000_000_000
            while back.count < depth && camMonotonicNanoseconds() < deadline {
                if let c = h.get() { back.append(c) } else { _ = h.wait(timeout: .milliseconds(50)) }
            }
            #expect(back.count == depth)
            #expect(back.allSatisfy { $0.status == .requestComplete && $0.residual == 0 }, "\(back.map(\.status))")
        }
        for i in 0..<depth {
            #expect(Self.matches(maps[i].bytes, lba: base + UInt64(i) * 128, generation: generation), "buffer \(i) read back wrong")
        }
        // What went through the mapped buffers is on the disk: read it into ordinary memory.
        let plain = TestBuffer(size)
        let check = CCB(cdb: rw10(write: false, lba: base + 128, blocks: 128), data: .buffer(plain.bytes), direction: .in)
        try h.execute(check)
        #expect(check.status == .requestComplete)
        #expect(Self.matches(plain.bytes, lba: base + 128, generation: generation))
    }

    /// A second command in the same mapped buffer while the first is out, a part of one, and
    /// memory that was a mapped buffer once it is gone: all go the ordinary way and work.
    @Test func otherCommandsInMappedMemoryGoTheOrdinaryWay() throws {
        let size = 64 * 1024
        var maps = try sim.mappedBuffers(at: device.path, count: 1, size: size)
        let h = try xpt.open(unit: device.unit)
        defer { h.close() }
        let m = maps[0].bytes
        Self.fill(m, lba: 16384, generation: 0x11)
        try h.execute(CCB(cdb: rw10(write: true, lba: 16384, blocks: 128), data: .buffer(m), direction: .out))
        try SCSIDebug.withKnobs(["random": "0", "ndelay": "20000000"]) {
            memset(m.baseAddress!, 0, size)
            // Two reads of the same 64 KiB into the same mapped buffer at once, then the second
            // half alone: every byte ends up right whichever descriptor each took.
            let a = CCB(cdb: rw10(write: false, lba: 16384, blocks: 128), data: .buffer(m), direction: .in, cookie: 1)
            let b = CCB(cdb: rw10(write: false, lba: 16384, blocks: 128), data: .buffer(m), direction: .in, cookie: 2)
            try h.queue(a)
            try h.queue(b)
            let half = UnsafeMutableRawBufferPointer(rebasing: m[(size / 2)...])
            let c = CCB(cdb: rw10(write: false, lba: 16384 + 64, blocks: 64), data: .buffer(half), direction: .in, cookie: 3)
            try h.queue(c)
            var back: [CCB] = []
            while back.count < 3, h.wait(timeout: .seconds(10)) { while let x = h.get() { back.append(x) } }
            #expect(Set(back.map(\.cookie)) == [1, 2, 3])
            #expect(back.allSatisfy { $0.status == .requestComplete })
            #expect(Self.matches(m, lba: 16384, generation: 0x11))
        }
        // Unmapped: new memory (possibly at the same address) is ordinary memory again.
        maps = []
        let plain = TestBuffer(size)
        let r = CCB(cdb: rw10(write: false, lba: 16384, blocks: 128), data: .buffer(plain.bytes), direction: .in)
        try h.execute(r)
        #expect(r.status == .requestComplete)
        #expect(Self.matches(plain.bytes, lba: 16384, generation: 0x11))
    }

    @Test func noMappedBuffersWhilePolled() throws {
        let h = try xpt.open(unit: device.unit)
        defer { h.close() }
        try #require(h.startPolling() != nil)
        do {
            _ = try sim.mappedBuffers(at: device.path, count: 1, size: 4096)
            Issue.record("a mapped buffer was made while the device is polled")
        } catch {
            #expect(error.code == .invalidRequest)
        }
        h.stopPolling()
        #expect(try sim.mappedBuffers(at: device.path, count: 1, size: 4096).count == 1)
    }
}
}
