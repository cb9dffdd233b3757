#if canImport(Glibc)
import Glibc
#endif
import CAM
import CAMEmulator
import SCSI

/// An XPT with one emulator bus holding `disks` disks, scanned.
func makeEmulated(
    disks: Int = 1,
    maxIO: Int = 1 << 20,
    commandSlots: Int = 64,
    completeOnWorkers: Bool = false,
    _ configure: (inout EmulatedDiskConfiguration, Int) -> Void = { _, _ in }
) throws -> (XPT, EmulatorSIM, CAMBus) {
    let xpt = XPT(completionThreads: 2)
    let sim = EmulatorSIM(maxIO: maxIO, commandSlots: commandSlots, completeOnWorkers: completeOnWorkers)
    for t in 0..<disks {
        var c = EmulatedDiskConfiguration()
        c.capacityBytes = 16 << 20
        configure(&c, t)
        try sim.addDisk(target: t, lun: 0, c)
    }
    let bus = xpt.register(sim)
    try xpt.scan(bus)
    return (xpt, sim, bus)
}

/// READ(10)/WRITE(10) CDBs built by hand so these tests do not lean on the code under test.
func rw10(write: Bool, lba: UInt32, blocks: UInt16) -> CDB {
    var c = CDB(count: 10)
    c[0] = write ? 0x2A : 0x28
    c.setBigEndian(UInt64(lba), at: 2, width: 4)
    c.setBigEndian(UInt64(blocks), at: 7, width: 2)
    return c
}

func tur() -> CDB { CDB(count: 6) }

/// Is the descriptor readable right now?
func readable(_ fd: Int32) -> Bool {
    var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    return poll(&p, 1, 0) == 1 && (p.revents & Int16(POLLIN)) != 0
}

/// Reaps until `count` CCBs came back or `seconds` pass; returns them in completion order.
func reap(_ h: PassHandle, count: Int, seconds: Int = 20) -> [CCB] {
    var out: [CCB] = []
    let deadline = camMonotonicNanoseconds() + UInt64(seconds) * 1_000_000_000
    while out.count < count && camMonotonicNanoseconds() < deadline {
        if let c = h.get() { out.append(c); continue }
        _ = h.wait(timeout: .milliseconds(50))
    }
    return out
}

/// A buffer that frees itself.
final class Buffer: @unchecked Sendable {
    // Test-only: each buffer is used by one CCB at a time.
    let raw: UnsafeMutableRawBufferPointer
    init(_ n: Int) {
        raw = .allocate(byteCount: n, alignment: 4096)
        raw.initializeMemory(as: UInt8.self, repeating: 0)
    }
    deinit { raw.deallocate() }
}
