#if canImport(Glibc)
import Glibc
#endif
import CAM
import CAMEmulator
import SCSI

// libFuzzer target: the emulated disk's command handling. Each input is a short run of
// commands (random CDB, random data out, random buffer) sent through the library's public path
// (XPT, EmulatorSIM, PassHandle.execute), so what is fuzzed is what an application sees. Every
// command must come back with GOOD, or CHECK CONDITION carrying sense data SPC defines, and a
// residual within the buffer; never a trap, never a hang (run-all gives libFuzzer -timeout).
//
// An input is a sequence of records:
//   byte 0   flags: bits 0-1 the disk (0 and 3: RAM, 512-byte blocks, medium errors at LBA
//            100-107; 1: RAM, 4096-byte blocks, descriptor sense; 2: file backed, 512);
//            bit 2 a unit attention injected first; bits 3-4 the direction (0: as the CDB says,
//            1: in, 2: out, 3: no data); bit 5 the buffer as a three-segment S/G list
//   byte 1   CDB length - 1 (low 5 bits: 1...32 bytes)
//   byte 2-3 the host buffer's length, big-endian
//   then the CDB, then the data out: as much of the buffer as the input still holds (the rest
//   of the buffer is zeros).

/// The rig, built on the first input and kept: building an XPT per input would cost more than
/// the commands. Each input starts from the same disk state (see `Rig.reset`).
/// `nonisolated(unsafe)`: libFuzzer calls the entry point from one thread only.
nonisolated(unsafe) var rig: Rig?

/// libFuzzer's entry point (called once per input).
@_cdecl("LLVMFuzzerTestOneInput")
public func emulatorFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = UnsafeBufferPointer(start: data, count: data == nil ? 0 : size)
    if rig == nil { rig = Rig() }
    rig!.run(input)
    return 0
}

final class Rig {
    static let bufferCapacity = 1 << 16
    static let maxCommands = 8

    let xpt: XPT
    let sim: EmulatorSIM
    let handles: [PassHandle]
    /// Each disk's default mode pages as a MODE SELECT(6) parameter list: sent back to undo
    /// what an input's MODE SELECT changed.
    var restorePages: [[UInt8]] = []
    var dirty: Set<Int> = []
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Rig.bufferCapacity, alignment: 4096)
    let ccb = CCB()

    init() {
        let xpt = XPT(completionThreads: 1)
        let sim = EmulatorSIM(maxIO: 1 << 20)
        var template = Array("/tmp/swiftcam-fuzz-XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        guard fd >= 0 else { fatalError("mkstemp failed") }
        close(fd)
        let path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        do {
            try sim.addDisk(target: 0, EmulatedDiskConfiguration(capacityBytes: 1 << 20, mediumErrorLBAs: [100...107]))
            try sim.addDisk(target: 1, EmulatedDiskConfiguration(capacityBytes: 4 << 20, sectorSize: 4096, descriptorSense: true))
            try sim.addDisk(target: 2, EmulatedDiskConfiguration(capacityBytes: 1 << 20, file: path))
            unlink(path)  // the disk holds the descriptor
            try xpt.scan(xpt.register(sim))
            handles = try (0..<3).map { (t) throws(CAMError) in try xpt.open(path: CAMPath(bus: 0, target: t, lun: 0)) }
        } catch {
            fatalError("emulator rig: \(error)")
        }
        self.xpt = xpt
        self.sim = sim
        for h in handles.indices {
            // MODE SENSE(6), DBD, default values of all pages; then MODE DATA LENGTH zeroed,
            // as MODE SELECT wants it.
            let got = command(h, [0x1A, 0x08, 0xBF, 0x00, 0xFF, 0x00], direction: .in, length: 255)
            guard got.count > 4 else { fatalError("MODE SENSE on disk \(h) returned \(got.count) bytes") }
            var list = got
            list[0] = 0
            restorePages.append(list)
        }
    }

    /// Runs one fuzz input.
    func run(_ input: UnsafeBufferPointer<UInt8>) {
        for d in dirty { reset(d) }
        dirty.removeAll(keepingCapacity: true)
        var i = 0
        var commands = 0
        while i + 4 <= input.count && commands < Rig.maxCommands {
            let flags = input[i]
            let cdbLength = Int(input[i + 1] & 0x1F) + 1
            let length = Int(input[i + 2]) << 8 | Int(input[i + 3])
            i += 4
            let cdbBytes = input[i..<min(input.count, i + cdbLength)]
            i += cdbBytes.count
            guard let cdb = CDB(cdbBytes) else { break }
            let disk = Int(flags & 0x03) % 3
            dirty.insert(disk)
            if flags & 0x04 != 0 { sim.injectUnitAttention(target: disk) }
            let direction: CCBDirection
            switch (flags >> 3) & 0x03 {
            case 1: direction = .in
            case 2: direction = .out
            case 3: direction = .none
            default:
                switch cdb.dataTransfer(blockSize: disk == 1 ? 4096 : 512) {
                case .toDevice?: direction = .out
                case .fromDevice?: direction = .in
                default: direction = .none
                }
            }
            // Data out: what the input still holds, the rest zeros.
            buffer.initializeMemory(as: UInt8.self, repeating: 0)
            if direction == .out {
                let n = min(length, input.count - i)
                for k in 0..<n { buffer[k] = input[i + k] }
                i += n
            }
            execute(disk, cdb, direction: direction, length: length, scatterGather: flags & 0x20 != 0,
                    recovery: flags & 0x40 != 0)
            commands += 1
        }
    }

    /// Runs one command and checks what came back.
    func execute(_ disk: Int, _ cdb: CDB, direction: CCBDirection, length: Int, scatterGather: Bool, recovery: Bool) {
        let n = direction == .none ? 0 : length
        var sg: SGList?
        let data: CCBData
        if n == 0 {
            data = .none
        } else if scatterGather {
            // Three segments, the first odd-sized, so a block straddles them.
            let list = SGList(capacity: 3)
            let a = min(n, 7), b = min(n - a, 509)
            _ = list.append(buffer.baseAddress!, length: a)
            if b > 0 { _ = list.append(buffer.baseAddress! + a, length: b) }
            if n - a - b > 0 { _ = list.append(buffer.baseAddress! + a + b, length: n - a - b) }
            sg = list
            data = .scatterGather(list)
        } else {
            data = .buffer(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<n]))
        }
        ccb.setSCSI(cdb: cdb, data: data, direction: direction, timeout: .seconds(10))
        if recovery {
            ccb.flags.insert(.errorRecovery)
            ccb.retryCount = 2
        }
        defer {
            ccb.flags.remove(.errorRecovery)
            ccb.retryCount = 0
        }
        do {
            try handles[disk].execute(ccb)
        } catch {
            // A request the pass contract refuses before it reaches the device.
            return
        }
        withExtendedLifetime(sg) {}
        check(disk, cdb, length: n)
    }

    /// GOOD, or CHECK CONDITION with sense SPC defines; a residual within the buffer; a sense
    /// key specific field pointer that points into the CDB or the data out.
    func check(_ disk: Int, _ cdb: CDB, length: Int) {
        func fail(_ what: String) -> Never {
            fatalError("disk \(disk) CDB \(cdb) (\(length) bytes): \(what)")
        }
        guard ccb.residual >= 0 && ccb.residual <= length else { fail("residual \(ccb.residual)") }
        switch (ccb.status, ccb.scsiStatus) {
        case (.requestComplete, .good):
            break
        case (.scsiStatusError, .checkCondition):
            guard let sense = ccb.senseData else { fail("CHECK CONDITION without sense") }
            guard sense.isRecognized, sense.senseKey != nil, sense.asc != nil, sense.ascq != nil else {
                fail("sense not as SPC defines it: \(Array(ccb.sense))")
            }
            // A field pointer names a byte that exists: of the CDB, or of the data out.
            switch sense.senseKeySpecific {
            case .fieldPointer(let inCDB, let byte, let bit)?:
                let limit = inCDB ? cdb.count : length
                guard Int(byte) < limit, (bit ?? 0) < 8 else { fail("field pointer past the end: \(sense.description)") }
            default:
                break
            }
            _ = sense.description
        default:
            fail("status \(ccb.status), SCSI status \(ccb.scsiStatus)")
        }
    }

    /// Sends `bytes` with no checks on the outcome but a good status; returns the data in.
    @discardableResult
    func command(_ disk: Int, _ bytes: [UInt8], direction: CCBDirection, length: Int = 0, dataOut: [UInt8] = []) -> [UInt8] {
        for (k, b) in dataOut.enumerated() { buffer[k] = b }
        let n = direction == .out ? dataOut.count : length
        ccb.setSCSI(cdb: CDB(bytes)!, data: n == 0 ? .none : .buffer(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<n])),
                    direction: n == 0 ? .none : direction, timeout: .seconds(10))
        do { try handles[disk].execute(ccb) } catch { fatalError("reset command \(bytes) on disk \(disk): \(error)") }
        return Array(buffer[0..<max(0, n - ccb.residual)])
    }

    /// Puts a disk back as it was: no unit attention pending, started, default mode pages.
    func reset(_ disk: Int) {
        for _ in 0..<16 {
            // REQUEST SENSE takes one pending unit attention.
            let s = SenseData(command(disk, [0x03, 0x00, 0x00, 0x00, 0xFC, 0x00], direction: .in, length: 252))
            if s.senseKey != .unitAttention { break }
        }
        command(disk, [0x1B, 0x00, 0x00, 0x00, 0x01, 0x00], direction: .none)
        let list = restorePages[disk]
        command(disk, [0x15, 0x10, 0x00, 0x00, UInt8(list.count), 0x00], direction: .out, dataOut: list)
        guard ccb.status == .requestComplete else { fatalError("MODE SELECT restoring disk \(disk): \(ccb.status)") }
    }
}
