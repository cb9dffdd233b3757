#if canImport(Glibc)
import Glibc
#endif
import Testing
import CAM
import CAMEmulator
import SCSI

// MARK: helpers (private to this file: CAMTests is one module shared with other suites)

/// A raw buffer that frees itself.
private final class EmuBuffer {
    let raw: UnsafeMutableRawBufferPointer
    init(_ count: Int, fill: UInt8 = 0) {
        raw = .allocate(byteCount: max(count, 1), alignment: 4096)
        raw.initializeMemory(as: UInt8.self, repeating: fill)
        self.count = count
    }
    let count: Int
    var buffer: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(rebasing: raw[0..<count]) }
    var bytes: [UInt8] { Array(buffer) }
    func set(_ b: [UInt8]) { for (i, v) in b.enumerated() { raw[i] = v } }
    deinit { raw.deallocate() }
}

/// What came back from one command.
private struct EmuResult {
    var status: CAMStatus
    var scsiStatus: SCSIStatus
    var sense: [UInt8]
    var data: [UInt8]
    var residual: Int
    var transferred: Int

    var key: UInt8? {
        guard let f = sense.first else { return nil }
        switch f & 0x7F {
        case 0x70, 0x71: return sense.count > 2 ? sense[2] & 0x0F : nil
        case 0x72, 0x73: return sense.count > 1 ? sense[1] & 0x0F : nil
        default: return nil
        }
    }
    var asc: UInt8? { (sense.first.map { $0 & 0x7F } ?? 0) >= 0x72 ? sense[2] : (sense.count > 12 ? sense[12] : nil) }
    var ascq: UInt8? { (sense.first.map { $0 & 0x7F } ?? 0) >= 0x72 ? sense[3] : (sense.count > 13 ? sense[13] : nil) }
    /// Key/ASC/ASCQ as one value for #expect.
    var kcq: [UInt8] { [key ?? 0xFF, asc ?? 0xFF, ascq ?? 0xFF] }
    /// The INFORMATION field when VALID (fixed) or present (descriptor).
    var information: UInt64? {
        guard let f = sense.first else { return nil }
        if f & 0x7F == 0x70 {
            guard f & 0x80 != 0 else { return nil }
            return sense[3...6].reduce(0) { $0 << 8 | UInt64($1) }
        }
        var i = 8
        while i + 1 < sense.count {
            if sense[i] == 0x00 { return sense[(i + 4)...(i + 11)].reduce(0) { $0 << 8 | UInt64($1) } }
            i += 2 + Int(sense[i + 1])
        }
        return nil
    }
    /// Sense-key-specific field pointer: (C/D, byte, bit or nil), fixed format.
    var fieldPointer: (cdb: Bool, byte: Int, bit: Int?)? {
        guard sense.count >= 18, sense[0] & 0x7F == 0x70, sense[15] & 0x80 != 0 else { return nil }
        let bit: Int? = sense[15] & 0x08 != 0 ? Int(sense[15] & 7) : nil
        return (sense[15] & 0x40 != 0, Int(sense[16]) << 8 | Int(sense[17]), bit)
    }
    var isCheckCondition: Bool { status == .scsiStatusError && scsiStatus == .checkCondition }
    var isGood: Bool { status == .requestComplete && scsiStatus == .good }
}

private func fnv(_ bytes: some Sequence<UInt8>) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
    return h
}

private func pattern(_ count: Int, seed: UInt64) -> [UInt8] {
    var x = seed | 1
    return (0..<count).map { _ in
        x ^= x << 13; x ^= x >> 7; x ^= x << 17
        return UInt8(truncatingIfNeeded: x)
    }
}

private func be(_ v: UInt64, _ width: Int) -> [UInt8] {
    (0..<width).map { UInt8(truncatingIfNeeded: v >> UInt64(8 * (width - 1 - $0))) }
}

private func beValue(_ b: ArraySlice<UInt8>) -> UInt64 { b.reduce(0) { $0 << 8 | UInt64($1) } }

private func read10(_ lba: UInt64, _ blocks: Int) -> [UInt8] { [0x28, 0] + be(lba, 4) + [0] + be(UInt64(blocks), 2) + [0] }
private func write10(_ lba: UInt64, _ blocks: Int) -> [UInt8] { [0x2A, 0] + be(lba, 4) + [0] + be(UInt64(blocks), 2) + [0] }
private func read16(_ lba: UInt64, _ blocks: Int) -> [UInt8] { [0x88, 0] + be(lba, 8) + be(UInt64(blocks), 4) + [0, 0] }
private func write16(_ lba: UInt64, _ blocks: Int) -> [UInt8] { [0x8A, 0] + be(lba, 8) + be(UInt64(blocks), 4) + [0, 0] }
private let testUnitReady: [UInt8] = [0, 0, 0, 0, 0, 0]

/// Monotonic milliseconds, for waiting loops.
private func nowMilliseconds() -> UInt64 { camMonotonicNanoseconds() / 1_000_000 }

/// A temporary file path, removed afterwards.
private func withTemporaryFile<R>(_ body: (String) throws -> R) rethrows -> R {
    var template = Array("/tmp/swiftcam-emu-XXXXXX".utf8CString)
    let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
    precondition(fd >= 0, "mkstemp failed")
    close(fd)
    let path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    // Start empty: the emulator creates and sizes it.
    unlink(path)
    defer { unlink(path) }
    return try body(path)
}

/// Resident set size in bytes (/proc/self/statm, second field).
private func residentBytes() -> UInt64 {
    let fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return 0 }
    defer { close(fd) }
    var buf = [UInt8](repeating: 0, count: 256)
    let n = read(fd, &buf, buf.count)
    guard n > 0 else { return 0 }
    let fields = buf[0..<n].split(separator: 0x20)
    guard fields.count > 1, let pages = UInt64(String(decoding: fields[1], as: UTF8.self)) else { return 0 }
    return pages * UInt64(sysconf(Int32(_SC_PAGESIZE)))
}

/// An XPT with one emulator bus, scanned, and a handle on one disk.
private final class EmuRig {
    let xpt: XPT
    let sim: EmulatorSIM
    let bus: CAMBus
    var handle: PassHandle

    init(_ disks: [(target: Int, lun: UInt64, config: EmulatedDiskConfiguration)] = [(0, 0, EmulatedDiskConfiguration())],
         maxIO: Int = 1 << 20, commandSlots: Int = 256, open path: (Int, UInt64)? = nil,
         completeOnWorkers: Bool = false) throws {
        xpt = XPT(completionThreads: 1)
        sim = EmulatorSIM(maxIO: maxIO, commandSlots: commandSlots, completeOnWorkers: completeOnWorkers)
        for d in disks { try sim.addDisk(target: d.target, lun: d.lun, d.config) }
        bus = xpt.register(sim)
        try xpt.scan(bus)
        let p = path ?? (disks[0].target, disks[0].lun)
        handle = try xpt.open(path: CAMPath(bus: bus.number, target: p.0, lun: p.1))
    }

    convenience init(_ config: EmulatedDiskConfiguration, maxIO: Int = 1 << 20, commandSlots: Int = 256) throws {
        try self.init([(0, 0, config)], maxIO: maxIO, commandSlots: commandSlots)
    }

    deinit {
        handle.close()
        xpt.shutdown()
    }

    /// Runs one command and waits for it.
    func run(_ cdbBytes: [UInt8], dataIn: Int = 0, dataOut: [UInt8]? = nil, sgSegments: [Int]? = nil,
             timeout: Duration = .seconds(10)) throws -> EmuResult {
        let ccb = CCB()
        let length = dataOut?.count ?? dataIn
        let buffer = EmuBuffer(length)
        if let dataOut { buffer.set(dataOut) }
        var sg: SGList?
        var data: CCBData = .none
        if length > 0 {
            if let segs = sgSegments {
                let list = SGList(capacity: segs.count)
                var at = 0
                for s in segs {
                    list.append(buffer.raw.baseAddress! + at, length: s)
                    at += s
                }
                precondition(at == length, "S/G segments must add up to the data length")
                sg = list
                data = .scatterGather(list)
            } else {
                data = .buffer(buffer.buffer)
            }
        }
        let direction: CCBDirection = length == 0 ? .none : (dataOut != nil ? .out : .in)
        ccb.setSCSI(cdb: CDB(cdbBytes)!, data: data, direction: direction, timeout: timeout)
        try handle.execute(ccb)
        _ = sg
        return EmuResult(status: ccb.status, scsiStatus: ccb.scsiStatus, sense: Array(ccb.sense),
                         data: buffer.bytes, residual: ccb.residual, transferred: ccb.transferred)
    }
}

// MARK: tests

@Suite("CAMEmulator")
struct EmulatorTests {
    @Test("scan finds the disks; INQUIRY and VPD pages answer as an SPC-5 disk")
    func inquiry() throws {
        let config = EmulatedDiskConfiguration(vendor: "ACME", product: "ROADRUNNER", revision: "0042", serial: "SN1234")
        let rig = try EmuRig([(0, 0, config), (3, 0, EmulatedDiskConfiguration()), (3, 5, EmulatedDiskConfiguration())])
        let devices = rig.xpt.devices()
        #expect(devices.map(\.path.target) == [0, 3, 3])
        #expect(devices.map(\.path.lun) == [0, 0, 5])
        #expect(devices[0].vendor == "ACME")
        #expect(devices[0].product == "ROADRUNNER")
        #expect(devices[0].revision == "0042")
        #expect(devices[0].deviceName == "emu:disk:size=64m")

        let std = try rig.run([0x12, 0, 0, 0, 255, 0], dataIn: 255)
        #expect(std.isGood)
        #expect(std.transferred == 96)
        #expect(std.residual == 255 - 96)
        #expect(std.data[0] == 0x00)         // connected direct-access device
        #expect(std.data[2] == 0x07)         // SPC-5
        #expect(std.data[3] & 0x0F == 2)     // response data format
        #expect(std.data[4] == 91)           // additional length
        #expect(std.data[7] & 0x02 != 0)     // CMDQUE
        #expect(String(decoding: std.data[8..<16], as: UTF8.self) == "ACME    ")
        #expect(String(decoding: std.data[16..<32], as: UTF8.self) == "ROADRUNNER      ")
        #expect(String(decoding: std.data[32..<36], as: UTF8.self) == "0042")

        let pages = try rig.run([0x12, 1, 0x00, 0, 255, 0], dataIn: 255)
        #expect(Array(pages.data[4..<(4 + Int(pages.data[3]))]) == [0x00, 0x80, 0x83, 0xB0, 0xB1, 0xB2])
        let serial = try rig.run([0x12, 1, 0x80, 0, 255, 0], dataIn: 255)
        #expect(String(decoding: serial.data[4..<(4 + Int(serial.data[3]))], as: UTF8.self) == "SN1234")
        let ids = try rig.run([0x12, 1, 0x83, 0, 255, 0], dataIn: 255)
        #expect(ids.data[4] & 0x0F == 1 && ids.data[5] & 0x0F == 3 && ids.data[7] == 8) // binary NAA, 8 bytes
        #expect(ids.data[8] >> 4 == 5)                                                 // NAA IEEE Registered
        #expect(ids.data[16] & 0x0F == 2 && ids.data[17] & 0x0F == 1)                  // ASCII T10 vendor id
        #expect(String(decoding: ids.data[20..<28], as: UTF8.self) == "ACME    ")
        let limits = try rig.run([0x12, 1, 0xB0, 0, 255, 0], dataIn: 255)
        #expect(beValue(limits.data[8..<12]) == UInt64((1 << 20) / 512)) // maximum transfer length from maxio
        let lbp = try rig.run([0x12, 1, 0xB2, 0, 255, 0], dataIn: 255)
        #expect(lbp.data[5] & 0xC0 == 0xC0) // LBPU, LBPWS

        // Two disks on one target: REPORT LUNS lists both, in order.
        let other = try rig.xpt.open(path: CAMPath(bus: rig.bus.number, target: 3, lun: 0))
        defer { other.close() }
        rig.handle.close()
        rig.handle = other
        let luns = try rig.run([0xA0, 0, 0, 0, 0, 0] + be(1024, 4) + [0, 0], dataIn: 1024)
        #expect(beValue(luns.data[0..<4]) == 16)
        #expect(luns.data[9] == 0 && luns.data[17] == 5)
    }

    @Test("READ CAPACITY(10) and (16), with 0xFFFFFFFF when the disk is too big for (10)")
    func capacity() throws {
        let small = try EmuRig(EmulatedDiskConfiguration(capacityBytes: (64 << 20) + 100, sectorSize: 4096))
        let rc10 = try small.run([0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], dataIn: 8)
        #expect(rc10.isGood)
        #expect(beValue(rc10.data[0..<4]) == UInt64((64 << 20) / 4096 - 1)) // rounded down to whole sectors
        #expect(beValue(rc10.data[4..<8]) == 4096)

        let big = try EmuRig(EmulatedDiskConfiguration(capacityBytes: 4 << 40))
        let rc10b = try big.run([0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], dataIn: 8)
        #expect(beValue(rc10b.data[0..<4]) == 0xFFFF_FFFF)
        let rc16 = try big.run([0x9E, 0x10] + [UInt8](repeating: 0, count: 8) + be(32, 4) + [0, 0], dataIn: 32)
        #expect(rc16.isGood)
        #expect(beValue(rc16.data[0..<8]) == (4 << 40) / 512 - 1)
        #expect(beValue(rc16.data[8..<12]) == 512)
        #expect(rc16.data[14] & 0x80 != 0) // LBPME
        // Another service action of 0x9E is a bad field, pointing at byte 1.
        let bad = try big.run([0x9E, 0x11] + [UInt8](repeating: 0, count: 8) + be(32, 4) + [0, 0], dataIn: 32)
        #expect(bad.kcq == [0x05, 0x24, 0x00])
        #expect(bad.fieldPointer?.byte == 1)
    }

    @Test("data written comes back, one buffer and scatter/gather", arguments: [false, true])
    func writeReadBack(file: Bool) throws {
        try withTemporaryFile { path in
            let rig = try EmuRig(EmulatedDiskConfiguration(capacityBytes: 8 << 20, file: file ? path : nil))
            let data = pattern(256 << 10, seed: 7)
            #expect(try rig.run(write10(100, 512), dataOut: data).isGood)
            let back = try rig.run(read16(100, 512), dataIn: data.count)
            #expect(back.isGood && back.residual == 0)
            #expect(fnv(back.data) == fnv(data))

            // S/G with segment boundaries inside sectors, written and read back differently cut.
            let sgData = pattern(64 << 10, seed: 11)
            let w = try rig.run(write16(2048, 128), dataOut: sgData, sgSegments: [1000, 3096, 100, 12 << 10, (64 << 10) - 16484])
            #expect(w.isGood)
            let r = try rig.run(read10(2048, 128), dataIn: sgData.count, sgSegments: [7, 32 << 10, (32 << 10) - 7])
            #expect(r.isGood)
            #expect(fnv(r.data) == fnv(sgData))
            // READ(6) / WRITE(12) move the same bytes.
            let six = try rig.run([0x08, 0, 0x08, 0x00, 4, 0], dataIn: 2048)
            #expect(six.data == Array(sgData[0..<2048]))
            #expect(try rig.run([0xAA, 0] + be(7, 4) + be(1, 4) + [0, 0], dataOut: [UInt8](repeating: 0xEE, count: 512)).isGood)
            #expect(try rig.run(read10(7, 1), dataIn: 512).data == [UInt8](repeating: 0xEE, count: 512))
            // Unwritten blocks of a thin disk read as zeros.
            #expect(try rig.run(read10(10_000, 2), dataIn: 1024).data == [UInt8](repeating: 0, count: 1024))
            #expect(try rig.run([0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0]).isGood) // SYNCHRONIZE CACHE(10)
        }
    }

    @Test("errors carry the sense key, ASC and ASCQ SPC and SBC give")
    func illegalRequests() throws {
        let rig = try EmuRig(EmulatedDiskConfiguration(capacityBytes: 1 << 20))
        let blocks: UInt64 = (1 << 20) / 512
        // Unsupported opcode (PERSISTENT RESERVE IN).
        let op = try rig.run([0x5E, 0, 0, 0, 0, 0, 0, 0, 0, 0])
        #expect(op.isCheckCondition)
        #expect(op.kcq == [0x05, 0x20, 0x00])
        // LBA past the end, and a range that runs past it.
        #expect(try rig.run(read10(blocks, 1), dataIn: 512).kcq == [0x05, 0x21, 0x00])
        #expect(try rig.run(write10(blocks - 1, 2), dataOut: [UInt8](repeating: 1, count: 1024)).kcq == [0x05, 0x21, 0x00])
        // A bad field: an unsupported VPD page; the pointer names CDB byte 2.
        let vpd = try rig.run([0x12, 1, 0x42, 0, 255, 0], dataIn: 255)
        #expect(vpd.kcq == [0x05, 0x24, 0x00])
        #expect(vpd.fieldPointer?.cdb == true && vpd.fieldPointer?.byte == 2)
        // RDPROTECT without protection information: byte 1, bit 7.
        let prot = try rig.run([0x28, 0x20, 0, 0, 0, 0, 0, 0, 1, 0], dataIn: 512)
        #expect(prot.kcq == [0x05, 0x24, 0x00])
        #expect(prot.fieldPointer?.byte == 1 && prot.fieldPointer?.bit == 7)
        // NACA set in the control byte.
        #expect(try rig.run([0, 0, 0, 0, 0, 0x04]).kcq == [0x05, 0x24, 0x00])
        // A CDB shorter than its opcode's length.
        let short = try rig.run([0x28, 0, 0, 0, 0, 0], dataIn: 512)
        #expect(short.kcq == [0x05, 0x24, 0x00])
        // Data out shorter than the CDB's transfer length: refused, pointing at the length field.
        let shortOut = try rig.run(write10(0, 4), dataOut: [UInt8](repeating: 9, count: 1024))
        #expect(shortOut.kcq == [0x05, 0x24, 0x00])
        #expect(shortOut.fieldPointer?.byte == 7)
        #expect(try rig.run(read10(0, 1), dataIn: 512).data == [UInt8](repeating: 0, count: 512)) // nothing written
        // Data in shorter than the transfer: what fits, GOOD; longer: residual.
        #expect(try rig.run(write10(0, 8), dataOut: pattern(4096, seed: 3)).isGood)
        let fits = try rig.run(read10(0, 8), dataIn: 1024)
        #expect(fits.isGood && fits.transferred == 1024 && fits.data == Array(pattern(4096, seed: 3)[0..<1024]))
        let under = try rig.run(read10(0, 2), dataIn: 4096)
        #expect(under.isGood && under.transferred == 1024 && under.residual == 3072)
        // Saved mode pages are not supported.
        #expect(try rig.run([0x1A, 0, 0xC8, 0, 255, 0], dataIn: 255).kcq == [0x05, 0x39, 0x00])
        // Autosense off: CHECK CONDITION without sense bytes.
        let ccb = CCB(cdb: CDB([0x5E, 0, 0, 0, 0, 0, 0, 0, 0, 0])!)
        ccb.flags.insert(.disableAutosense)
        try rig.handle.execute(ccb)
        #expect(ccb.status == .scsiStatusError && ccb.scsiStatus == .checkCondition && ccb.senseLength == 0)
    }

    @Test("medium errors: reads and verifies 11/00, writes 0C/00, with the first bad LBA and a residual")
    func mediumErrors() throws {
        let rig = try EmuRig(EmulatedDiskConfiguration(capacityBytes: 1 << 20, mediumErrorLBAs: [100...107]))
        let r = try rig.run(read10(96, 8), dataIn: 4096)
        #expect(r.isCheckCondition)
        #expect(r.kcq == [0x03, 0x11, 0x00])
        #expect(r.information == 100)
        #expect(r.transferred == 4 * 512 && r.residual == 4 * 512)
        let w = try rig.run(write10(104, 8), dataOut: [UInt8](repeating: 5, count: 4096))
        #expect(w.kcq == [0x03, 0x0C, 0x00])
        #expect(w.information == 104)
        let v = try rig.run([0x2F, 0, 0, 0, 0, 90, 0, 0, 20, 0])
        #expect(v.kcq == [0x03, 0x11, 0x00] && v.information == 100)
        #expect(try rig.run(read10(108, 8), dataIn: 4096).isGood)
        rig.sim.setMediumErrors(target: 0, [])
        #expect(try rig.run(read10(96, 8), dataIn: 4096).isGood)
    }

    @Test("UNIT ATTENTION once on first access; INQUIRY is not held up by it")
    func unitAttention() throws {
        let rig = try EmuRig(EmulatedDiskConfiguration(unitAttentionOnFirstAccess: true))
        #expect(try rig.run([0x12, 0, 0, 0, 36, 0], dataIn: 36).isGood)
        let first = try rig.run(testUnitReady)
        #expect(first.isCheckCondition)
        #expect(first.kcq == [0x06, 0x29, 0x00])
        #expect(try rig.run(testUnitReady).isGood)
        // An injected one is reported by REQUEST SENSE and cleared by it.
        rig.sim.injectUnitAttention(target: 0)
        let rs = try rig.run([0x03, 0, 0, 0, 252, 0], dataIn: 252)
        #expect(rs.isGood && rs.data[2] & 0x0F == 0x06 && rs.data[12] == 0x29)
        #expect(try rig.run(testUnitReady).isGood)
        // With recovery asked for, CAM retries the UNIT ATTENTION away.
        rig.sim.injectUnitAttention(target: 0)
        let ccb = CCB(cdb: CDB(testUnitReady)!)
        ccb.flags.insert(.errorRecovery)
        ccb.retryCount = 2
        try rig.handle.execute(ccb)
        #expect(ccb.status == .requestComplete && ccb.retriesDone == 1)
    }

    @Test("START STOP UNIT: a stopped disk answers NOT READY 04/02 to media access until started")
    func startStop() throws {
        let rig = try EmuRig(EmulatedDiskConfiguration())
        #expect(try rig.run([0x1B, 0, 0, 0, 0x00, 0]).isGood) // stop
        #expect(try rig.run(testUnitReady).kcq == [0x02, 0x04, 0x02])
        #expect(try rig.run(read10(0, 1), dataIn: 512).kcq == [0x02, 0x04, 0x02])
        #expect(try rig.run([0x12, 0, 0, 0, 36, 0], dataIn: 36).isGood)
        #expect(rig.sim.disk(target: 0)?.isStarted == false)
        #expect(try rig.run([0x1B, 0, 0, 0, 0x01, 0]).isGood) // start
        #expect(try rig.run(testUnitReady).isGood)
        #expect(try rig.run([0x1B, 0, 0, 0, 0x50, 0]).kcq == [0x05, 0x24, 0x00]) // reserved power condition
    }

    @Test("MODE SENSE pages and block descriptor; MODE SELECT changes WCE and D_SENSE, refuses the rest")
    func modePages() throws {
        let rig = try EmuRig(EmulatedDiskConfiguration(capacityBytes: 1 << 20))
        let all = try rig.run([0x1A, 0, 0x3F, 0, 255, 0], dataIn: 255)
        #expect(all.isGood)
        #expect(all.data[3] == 8)                           // block descriptor length
        #expect(beValue(all.data[4..<8]) == 2048)           // blocks
        #expect(beValue(all.data[9..<12]) == 512)           // block length
        #expect(all.data[12] == 0x08 && all.data[14] & 0x04 != 0) // caching page, WCE
        #expect(all.data[32] == 0x0A && all.data[34] & 0x04 == 0) // control page, D_SENSE clear
        #expect(Int(all.data[0]) + 1 == all.transferred)
        let noBD = try rig.run([0x5A, 0x08, 0x0A, 0, 0, 0, 0, 0, 255, 0], dataIn: 255)
        #expect(beValue(noBD.data[6..<8]) == 0 && noBD.data[8] == 0x0A)
        let longBD = try rig.run([0x5A, 0x10, 0x08, 0, 0, 0, 0, 0, 255, 0], dataIn: 255)
        #expect(longBD.data[4] & 0x01 == 1 && beValue(longBD.data[6..<8]) == 16 && beValue(longBD.data[8..<16]) == 2048)
        let changeable = try rig.run([0x1A, 0x08, 0x48, 0, 255, 0], dataIn: 255)
        #expect(changeable.data[6] == 0x04)
        #expect(try rig.run([0x1A, 0, 0x19, 0, 255, 0], dataIn: 255).kcq == [0x05, 0x24, 0x00]) // unknown page

        // Set D_SENSE: the control page as read, with the bit set.
        var control = Array(noBD.data[8..<20])
        control[2] |= 0x04
        let select = [0, 0, 0, 0, 0, 0, 0, 0] + control
        #expect(try rig.run([0x55, 0x10, 0, 0, 0, 0, 0] + be(UInt64(select.count), 2) + [0], dataOut: select).isGood)
        #expect(rig.sim.disk(target: 0)?.usesDescriptorSense == true)
        let desc = try rig.run([0x5E, 0, 0, 0, 0, 0, 0, 0, 0, 0])
        #expect(desc.sense[0] == 0x72 && desc.kcq == [0x05, 0x20, 0x00])
        // Descriptor sense carries the INFORMATION field as a descriptor.
        rig.sim.setMediumErrors(target: 0, [5...5])
        let md = try rig.run(read10(0, 8), dataIn: 4096)
        #expect(md.sense[0] == 0x72 && md.kcq == [0x03, 0x11, 0x00] && md.information == 5)

        // Clear WCE with MODE SELECT(6).
        var caching = Array(all.data[12..<32])
        caching[2] &= ~0x04
        let select6 = [0, 0, 0, 0] + caching
        #expect(try rig.run([0x15, 0x10, 0, 0, UInt8(select6.count), 0], dataOut: select6).isGood)
        #expect(rig.sim.disk(target: 0)?.isWriteCacheEnabled == false)
        // A field that cannot change: INVALID FIELD IN PARAMETER LIST, pointing into the list.
        var bad = caching
        bad[13] = 0x01
        let badList = [0, 0, 0, 0] + bad
        let r = try rig.run([0x15, 0x10, 0, 0, UInt8(badList.count), 0], dataOut: badList)
        #expect(r.kcq == [0x05, 0x26, 0x00])
        // A page cut short: PARAMETER LIST LENGTH ERROR.
        let cut = Array(badList[0..<10])
        #expect(try rig.run([0x15, 0x10, 0, 0, UInt8(cut.count), 0], dataOut: cut).kcq == [0x05, 0x1A, 0x00])
        // A block descriptor with another block length.
        let bd: [UInt8] = [0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0x10, 0x00]
        #expect(try rig.run([0x15, 0x10, 0, 0, UInt8(bd.count), 0], dataOut: bd).kcq == [0x05, 0x26, 0x00])
    }

    @Test("VERIFY with BYTCHK compares; WRITE SAME and UNMAP deallocate; REPORT SUPPORTED OPERATION CODES lists the commands")
    func verifyWriteSameUnmap() throws {
        let rig = try EmuRig(EmulatedDiskConfiguration(capacityBytes: 16 << 20))
        let disk = try #require(rig.sim.disk(target: 0))
        let data = pattern(1 << 20, seed: 5)
        #expect(try rig.run(write10(0, 2048), dataOut: data).isGood)
        #expect(disk.allocatedBytes == 1 << 20)
        // BYTCHK 1: equal, then one byte different at offset 700.
        #expect(try rig.run([0x2F, 0x02, 0, 0, 0, 0, 0, 0, 4, 0], dataOut: Array(data[0..<2048])).isGood)
        var changed = Array(data[0..<2048])
        changed[700] ^= 0xFF
        let mis = try rig.run([0x2F, 0x02, 0, 0, 0, 0, 0, 0, 4, 0], dataOut: changed)
        #expect(mis.kcq == [0x0E, 0x1D, 0x00] && mis.information == 700)
        // BYTCHK 3: one block against each block.
        #expect(try rig.run([0x8F, 0x06] + be(5000, 8) + be(3, 4) + [0, 0], dataOut: [UInt8](repeating: 0, count: 512)).isGood)

        // WRITE SAME(16) with a pattern, then with UNMAP and NDOB: the range frees.
        let block = [UInt8](repeating: 0xA5, count: 512)
        #expect(try rig.run([0x93, 0x00] + be(4096, 8) + be(256, 4) + [0, 0], dataOut: block).isGood)
        #expect(try rig.run(read10(4096 + 255, 1), dataIn: 512).data == block)
        #expect(try rig.run([0x93, 0x09] + be(0, 8) + be(2048, 4) + [0, 0]).isGood)
        #expect(disk.allocatedBytes == 128 << 10)
        #expect(try rig.run(read10(1000, 1), dataIn: 512).data == [UInt8](repeating: 0, count: 512))
        #expect(try rig.run([0x93, 0x00] + be(0, 8) + be(0, 4) + [0, 0], dataOut: block).kcq == [0x05, 0x24, 0x00])

        // UNMAP with a parameter list of one descriptor.
        let list: [UInt8] = be(22, 2) + be(16, 2) + [0, 0, 0, 0] + be(4096, 8) + be(256, 4) + [0, 0, 0, 0]
        #expect(try rig.run([0x42, 0, 0, 0, 0, 0, 0] + be(24, 2) + [0], dataOut: list).isGood)
        #expect(disk.allocatedBytes == 0)
        let outside: [UInt8] = be(22, 2) + be(16, 2) + [0, 0, 0, 0] + be(1 << 40, 8) + be(1, 4) + [0, 0, 0, 0]
        #expect(try rig.run([0x42, 0, 0, 0, 0, 0, 0] + be(24, 2) + [0], dataOut: outside).kcq == [0x05, 0x21, 0x00])
        #expect(try rig.run([0x42, 0, 0, 0, 0, 0, 0] + be(4, 2) + [0], dataOut: [0, 0, 0, 0]).kcq == [0x05, 0x1A, 0x00])

        // REPORT SUPPORTED OPERATION CODES, all commands.
        let rsoc = try rig.run([0xA3, 0x0C, 0x00, 0, 0, 0] + be(4096, 4) + [0, 0], dataIn: 4096)
        #expect(rsoc.isGood)
        let length = Int(beValue(rsoc.data[0..<4]))
        var found: [UInt8: (sa: UInt16, servactv: Bool, cdbLength: Int)] = [:]
        var i = 4
        while i + 8 <= 4 + length {
            found[rsoc.data[i]] = (UInt16(beValue(rsoc.data[(i + 2)..<(i + 4)])), rsoc.data[i + 5] & 1 != 0, Int(beValue(rsoc.data[(i + 6)..<(i + 8)])))
            i += 8
        }
        #expect(found[0x28]?.cdbLength == 10 && found[0x88]?.cdbLength == 16 && found[0x00]?.cdbLength == 6)
        #expect(found[0x9E]?.sa == 0x10 && found[0x9E]?.servactv == true)
        #expect(found.count == 26)
        // Every length is the one SPC's group code gives.
        #expect(found.allSatisfy { SCSIOpcode($0.key).cdbLength == $0.value.cdbLength })
        // One command with its usage map; and one not supported.
        let one = try rig.run([0xA3, 0x0C, 0x01, 0x28, 0, 0] + be(64, 4) + [0, 0], dataIn: 64)
        #expect(one.data[1] & 0x07 == 3 && beValue(one.data[2..<4]) == 10 && one.data[4] == 0x28)
        #expect(try rig.run([0xA3, 0x0C, 0x01, 0x5E, 0, 0] + be(64, 4) + [0, 0], dataIn: 64).data[1] & 0x07 == 1)
    }

    @Test("random latency brings completions back out of order, cookies intact", .timeLimit(.minutes(1)))
    func outOfOrder() throws {
        let rig = try EmuRig(EmulatedDiskConfiguration(latency: .random(min: .microseconds(100), max: .milliseconds(3))))
        let count = 64
        let buffers = (0..<count).map { _ in EmuBuffer(512) }
        var ccbs: [CCB] = []
        for i in 0..<count {
            let ccb = CCB(cdb: CDB(read10(UInt64(i), 1))!, data: .buffer(buffers[i].buffer), direction: .in, cookie: UInt64(i))
            ccbs.append(ccb)
            try rig.handle.queue(ccb)
        }
        var order: [UInt64] = []
        let deadline = nowMilliseconds() + 10_000
        while order.count < count && nowMilliseconds() < deadline {
            _ = rig.handle.wait(timeout: .milliseconds(100))
            while let c = rig.handle.get() {
                #expect(c.status == .requestComplete)
                order.append(c.cookie)
            }
        }
        #expect(order.count == count)
        #expect(Set(order) == Set(0..<UInt64(count)))
        #expect(order != order.sorted())
        #expect((rig.sim.disk(target: 0)?.statistics.maxTasks ?? 0) > 1)
    }

    @Test("past taskSlots the device answers TASK SET FULL", .timeLimit(.minutes(1)))
    func taskSetFull() throws {
        let rig = try EmuRig(EmulatedDiskConfiguration(latency: .fixed(.milliseconds(20)), taskSlots: 4))
        let ccbs = (0..<8).map { CCB(cdb: CDB(testUnitReady)!, cookie: UInt64($0)) }
        for c in ccbs { try rig.handle.queue(c) }
        var good = 0, full = 0
        let deadline = nowMilliseconds() + 5_000
        while good + full < 8 && nowMilliseconds() < deadline {
            _ = rig.handle.wait(timeout: .milliseconds(100))
            while let c = rig.handle.get() {
                if c.status == .requestComplete { good += 1 }
                if c.status == .scsiStatusError && c.scsiStatus == .taskSetFull && c.senseLength == 0 { full += 1 }
            }
        }
        #expect(good == 4 && full == 4)
        #expect(rig.sim.disk(target: 0)?.statistics.taskSetFull == 4)
    }

    @Test("a latency longer than the CCB's time-out completes as command time-out; abort takes a held command back", .timeLimit(.minutes(1)))
    func timeoutAndAbort() throws {
        let rig = try EmuRig(EmulatedDiskConfiguration(latency: .fixed(.seconds(2))))
        let start = nowMilliseconds()
        let r = try rig.run(testUnitReady, timeout: .milliseconds(20))
        #expect(r.status == .commandTimeout)
        #expect(nowMilliseconds() - start < 1_000)

        let held = CCB(cdb: CDB(testUnitReady)!, cookie: 42)
        try rig.handle.queue(held)
        let abort = CCB()
        abort.function = .abort
        abort.abortTarget = held
        try rig.handle.execute(abort)
        #expect(abort.status == .requestComplete)
        _ = rig.handle.wait(timeout: .seconds(1))
        let back = rig.handle.get()
        #expect(back?.cookie == 42 && back?.status == .requestAborted)
        #expect(rig.sim.disk(target: 0)?.tasksInProgress == 0)
    }

    @Test("hot removal mid-I/O and hot add after the scan", .timeLimit(.minutes(1)))
    func hotRemoveAndAdd() throws {
        let rig = try EmuRig(EmulatedDiskConfiguration(latency: .fixed(.seconds(5))))
        let held = (0..<4).map { CCB(cdb: CDB(testUnitReady)!, cookie: UInt64($0)) }
        for c in held { try rig.handle.queue(c) }
        let start = nowMilliseconds()
        rig.sim.removeDisk(target: 0)
        var gone = 0
        while gone < 4 && nowMilliseconds() - start < 2_000 {
            _ = rig.handle.wait(timeout: .milliseconds(100))
            while let c = rig.handle.get() { if c.status == .deviceNotThere { gone += 1 } }
        }
        #expect(gone == 4)
        #expect(nowMilliseconds() - start < 2_000)
        #expect(throws: CAMError.self) { try rig.handle.queue(CCB(cdb: CDB(testUnitReady)!)) }
        #expect(rig.xpt.devices().isEmpty)

        try rig.sim.addDisk(target: 2, EmulatedDiskConfiguration(capacityBytes: 1 << 20, product: "HOTPLUG"))
        let deadline = nowMilliseconds() + 5_000
        while rig.xpt.devices().isEmpty && nowMilliseconds() < deadline { usleep(2_000) }
        let found = rig.xpt.devices()
        #expect(found.count == 1 && found.first?.path.target == 2 && found.first?.product == "HOTPLUG")
        #expect(throws: CAMError.self) { try rig.sim.addDisk(target: 2, EmulatedDiskConfiguration()) }
    }

    @Test("several threads queue and reap on shared disks, inline and delayed, while a disk comes and goes", .timeLimit(.minutes(1)))
    func concurrentUse() throws {
      try withTemporaryFile { path in
        let fast = EmulatedDiskConfiguration(capacityBytes: 4 << 20)
        let slow = EmulatedDiskConfiguration(capacityBytes: 4 << 20, latency: .random(min: .zero, max: .microseconds(200)), taskSlots: 8)
        let file = EmulatedDiskConfiguration(capacityBytes: 4 << 20, file: path)
        let rig = try EmuRig([(0, 0, fast), (1, 0, slow), (2, 0, file)])
        let paths = (0...2).map { CAMPath(bus: rig.bus.number, target: $0, lun: 0) }
        let threads = 6, perThread = 400, depth = 8
        let results = CAMLockedBox([Int](repeating: 0, count: threads))
        let xpt = rig.xpt
        let workers = (0..<threads).map { t in
            CAMThread(name: "emu-test\(t)") {
                guard let h = try? xpt.open(path: paths[t % 3]) else { return }
                defer { h.close() }
                let buffers = (0..<depth).map { _ in EmuBuffer(4096) }
                var queued = 0, done = 0, good = 0
                var free = Array(0..<depth)
                while done < perThread {
                    while queued < perThread, let slot = free.popLast() {
                        let lba = UInt64((queued * 8 + t) % 8000)
                        let cdb = queued % 3 == 0 ? write10(lba, 8) : read10(lba, 8)
                        let ccb = CCB(cdb: CDB(cdb)!, data: .buffer(buffers[slot].buffer),
                                      direction: queued % 3 == 0 ? .out : .in, cookie: UInt64(slot))
                        ccb.flags.insert(.errorRecovery)
                        ccb.retryCount = 50
                        if (try? h.queue(ccb)) == nil { return }
                        queued += 1
                    }
                    _ = h.wait(timeout: .milliseconds(100))
                    while let c = h.get() {
                        done += 1
                        if c.status == .requestComplete { good += 1 }
                        free.append(Int(c.cookie))
                    }
                }
                results.withLock { $0[t] = good }
            }
        }
        for i in 0..<20 {
            // Every other one file-backed: removal stops its I/O thread.
            try rig.sim.addDisk(target: 5, EmulatedDiskConfiguration(capacityBytes: 1 << 20, file: i % 2 == 1 ? path + ".hot" : nil,
                                                                      latency: .fixed(.microseconds(50))))
            usleep(1_000)
            rig.sim.removeDisk(target: 5)
        }
        unlink(path + ".hot")
        for w in workers { w.join() }
        #expect(results.withLock { $0 } == [Int](repeating: perThread, count: threads))
      }
    }

    @Test("a file-backed disk runs queued commands in order: each READ sees the WRITE queued before it",
          .timeLimit(.minutes(1)), arguments: [false, true])
    func fileQueueOrder(completeOnWorkers: Bool) throws {
        try withTemporaryFile { path in
            let rig = try EmuRig([(0, 0, EmulatedDiskConfiguration(capacityBytes: 1 << 20, file: path))],
                                 completeOnWorkers: completeOnWorkers)
            let pairs = 32
            let buffers: [EmuBuffer] = (0..<(2 * pairs)).map { (i: Int) -> EmuBuffer in
                let fill: UInt8 = i % 2 == 0 ? UInt8(i / 2 + 1) : 0
                return EmuBuffer(512, fill: fill)
            }
            // All queued before any is reaped; WRITEs alternate FUA (fdatasync before GOOD).
            for i in 0..<pairs {
                var write = write10(7, 1)
                if i % 2 == 1 { write[1] = 0x08 }
                try rig.handle.queue(CCB(cdb: CDB(write)!, data: .buffer(buffers[2 * i].buffer), direction: .out, cookie: UInt64(2 * i)))
                try rig.handle.queue(CCB(cdb: CDB(read10(7, 1))!, data: .buffer(buffers[2 * i + 1].buffer), direction: .in,
                                         cookie: UInt64(2 * i + 1)))
            }
            var done = 0
            let deadline = nowMilliseconds() + 10_000
            while done < 2 * pairs && nowMilliseconds() < deadline {
                _ = rig.handle.wait(timeout: .milliseconds(100))
                while let c = rig.handle.get() {
                    #expect(c.status == .requestComplete)
                    done += 1
                }
            }
            #expect(done == 2 * pairs)
            for i in 0..<pairs {
                #expect(buffers[2 * i + 1].bytes == [UInt8](repeating: UInt8(i + 1), count: 512))
            }
            let disk = try #require(rig.sim.disk(target: 0))
            #expect(disk.statistics.writes == UInt64(pairs) && disk.statistics.reads == UInt64(pairs))
            // And it is in the file.
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            defer { close(fd) }
            var block = [UInt8](repeating: 0, count: 512)
            #expect(pread(fd, &block, 512, 7 * 512) == 512 && block == [UInt8](repeating: UInt8(pairs), count: 512))
        }
    }

    @Test("removing a file-backed disk completes what its I/O thread and its timer hold", .timeLimit(.minutes(1)))
    func fileHotRemoval() throws {
        try withTemporaryFile { path in
            let rig = try EmuRig([(0, 0, EmulatedDiskConfiguration(capacityBytes: 1 << 20, file: path)),
                                  (1, 0, EmulatedDiskConfiguration(capacityBytes: 1 << 20, file: path + ".slow",
                                                                   latency: .fixed(.seconds(5))))])
            defer { unlink(path + ".slow") }
            let slow = try rig.xpt.open(path: CAMPath(bus: rig.bus.number, target: 1, lun: 0))
            defer { slow.close() }
            let buffer = EmuBuffer(4096, fill: 0x5A)
            let count = 64
            for i in 0..<count {
                try rig.handle.queue(CCB(cdb: CDB(write10(UInt64(8 * i), 8))!, data: .buffer(buffer.buffer), direction: .out, cookie: UInt64(i)))
                try slow.queue(CCB(cdb: CDB(testUnitReady)!, cookie: UInt64(i)))
            }
            let start = nowMilliseconds()
            rig.sim.removeDisk(target: 0)
            rig.sim.removeDisk(target: 1)
            var fast = 0, held = 0
            while (fast < count || held < count) && nowMilliseconds() - start < 3_000 {
                _ = rig.handle.wait(timeout: .milliseconds(50))
                while let c = rig.handle.get() {
                    #expect(c.status == .requestComplete || c.status == .deviceNotThere)
                    fast += 1
                }
                while let c = slow.get() {
                    #expect(c.status == .deviceNotThere)
                    held += 1
                }
            }
            #expect(fast == count && held == count)
            #expect(nowMilliseconds() - start < 3_000)
        }
    }


    @Test("malformed CDBs and odd data lengths never trap: every command completes with a status")
    func garbageCDBs() throws {
        let rig = try EmuRig(EmulatedDiskConfiguration(capacityBytes: 1 << 20))
        let opcodes: [UInt8] = [0x00, 0x03, 0x08, 0x0A, 0x12, 0x15, 0x1A, 0x1B, 0x25, 0x28, 0x2A, 0x2F, 0x35, 0x42,
                                0x55, 0x5A, 0x88, 0x8A, 0x8F, 0x91, 0x93, 0x9E, 0xA0, 0xA3, 0xA8, 0xAA]
        var x: UInt64 = 0x1234_5678_9ABC_DEF1
        func next() -> UInt64 { x ^= x << 13; x ^= x >> 7; x ^= x << 17; return x }
        let buffer = EmuBuffer(8192)
        for i in 0..<4000 {
            let length = Int(next() % 17) + 1
            var bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: next()) }
            if i % 2 == 0 { bytes[0] = opcodes[Int(next() % UInt64(opcodes.count))] }
            // Small fields half the time, so commands get past the range checks.
            if i % 4 == 1 { for j in 1..<length where j != 0 { bytes[j] &= 0x03 } }
            let n = Int(next() % 8193)
            let data: CCBData = n == 0 ? .none : .buffer(UnsafeMutableRawBufferPointer(rebasing: buffer.raw[0..<n]))
            let direction: CCBDirection = n == 0 ? .none : (next() % 2 == 0 ? .in : .out)
            let ccb = CCB(cdb: CDB(bytes)!, data: data, direction: direction)
            try rig.handle.execute(ccb)
            #expect(ccb.status == .requestComplete || ccb.status == .scsiStatusError)
            #expect(ccb.residual >= 0 && ccb.residual <= n)
        }
    }

    @Test("a file-backed disk keeps its data across two emulator instances")
    func filePersists() throws {
        try withTemporaryFile { path in
            let data = pattern(64 << 10, seed: 99)
            do {
                let rig = try EmuRig(EmulatedDiskConfiguration(capacityBytes: 4 << 20, sectorSize: 4096, file: path))
                #expect(try rig.run(write10(10, 16), dataOut: data).isGood)
                #expect(rig.xpt.devices().first?.deviceName == "emu:disk:file=\(path):size=4m:sector=4096")
            }
            var st = stat()
            #expect(stat(path, &st) == 0 && st.st_size == 4 << 20)
            let rig = try EmuRig(EmulatedDiskConfiguration(capacityBytes: 4 << 20, sectorSize: 4096, file: path))
            let back = try rig.run(read16(10, 16), dataIn: data.count, sgSegments: [4096, 60 << 10])
            #expect(back.isGood && fnv(back.data) == fnv(data))
            // The specifier without size= opens the whole image again.
            #expect(try EmulatedDiskConfiguration(parsing: "emu:disk:file=\(path)").capacityBytes == 4 << 20)
        }
    }

    @Test("a 1 TiB RAM disk costs nothing until written")
    func hugeRAMDisk() throws {
        let before = residentBytes()
        let rig = try EmuRig(EmulatedDiskConfiguration(capacityBytes: 1 << 40))
        let last = UInt64(1 << 40) / 512 - 1
        let data = pattern(512, seed: 1)
        #expect(try rig.run(write16(last, 1), dataOut: data).isGood)
        #expect(try rig.run(read16(last, 1), dataIn: 512).data == data)
        #expect(try rig.run(read16(last / 2, 8), dataIn: 4096).data == [UInt8](repeating: 0, count: 4096))
        #expect(rig.sim.disk(target: 0)?.allocatedBytes == 64 << 10)
        let after = residentBytes()
        #expect(after < before + (64 << 20))
    }

    @Test("options parse; bad ones say what would be right")
    func parsing() throws {
        let c = try EmulatedDiskConfiguration(parsing: "emu:disk:size=1g:sector=4096:latency=10us-200us:slots=8:ua:medium=100-107+300:vendor=V:product=P:dsense")
        #expect(c.capacityBytes == 1 << 30 && c.sectorSize == 4096 && c.taskSlots == 8)
        #expect(c.latency == .random(min: .microseconds(10), max: .microseconds(200)))
        #expect(c.unitAttentionOnFirstAccess && c.descriptorSense)
        #expect(c.mediumErrorLBAs == [100...107, 300...300])
        #expect(c.vendor == "V" && c.product == "P")
        #expect(try EmulatedDiskConfiguration(parsing: "size=64k:latency=50us").latency == .fixed(.microseconds(50)))
        #expect(try EmulatedDiskConfiguration(parsing: "file=/tmp/x").file == "/tmp/x")
        for bad in ["size=12q", "sector=1000", "latency=5", "slots=0", "bogus=1", "vendor=NINECHARS", "medium=9-3", "size=0"] {
            do throws(CAMError) {
                _ = try EmulatedDiskConfiguration(parsing: bad)
                Issue.record("\(bad) was accepted")
            } catch {
                #expect(error.code == .invalidRequest)
                #expect(!error.message.isEmpty)
            }
        }
        #expect(throws: CAMError.self) { try EmulatorSIM().addDisk(target: 0, EmulatedDiskConfiguration(sectorSize: 520)) }
    }
}
