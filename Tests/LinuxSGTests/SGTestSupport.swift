#if canImport(Glibc)
import Glibc
#endif
import CAM
import CAMLinuxSG
import CCAMSystem
import SCSI
import Testing

/// Where the raw sg tests run: a scsi_debug disk under a real kernel (scripts/vm/run-in-vm).
/// On a machine without one, the suites that need it are skipped.
enum SGTestDevice {
    /// The first scsi_debug device sysfs lists, looked up afresh (it may have been re-scanned).
    static var current: SGDeviceInfo? {
        SGDiscovery.devices().first { $0.model == "scsi_debug" }
    }

    /// True when a scsi_debug sg device is here to test against.
    static let available: Bool = current != nil

    /// 512-byte blocks, as scsi_debug has by default.
    static let blockSize = 512
}

/// The scsi_debug disk on a new sg bus of `xpt`, past its power-on UNIT ATTENTION (after a
/// removal test the device is new, and the tests want a quiet unit): the set-up of the suites
/// that test CAM on the real device.
func attachSCSIDebug(to xpt: XPT) throws -> (sg: SGDeviceInfo, bus: CAMBus, device: CAMDeviceInfo) {
    let sg = try #require(SCSIDebug.first)
    let bus = try #require(try LinuxSGSIM.register(on: xpt, devices: [sg.devicePath]).first)
    let device = try #require(try xpt.scan(bus).first)
    let h = try xpt.open(unit: device.unit)
    defer { h.close() }
    let tur = CCB(cdb: CDB(count: 6))
    tur.flags.insert(.errorRecovery)
    tur.retryCount = 3
    try h.execute(tur)
    return (sg, bus, device)
}

/// READ(10), or WRITE(10) when `write`, with exactly these fields (no size picked for the LBA).
func rw10(write: Bool = false, lba: UInt64, blocks: Int) -> CDB {
    var c = CDB(count: 10)
    c[0] = write ? 0x2A : 0x28
    c.setBigEndian(lba, at: 2, width: 4)
    c.setBigEndian(UInt64(blocks), at: 7, width: 2)
    return c
}

/// A page-aligned buffer freed at the end of its scope.
final class TestBuffer {
    let bytes: UnsafeMutableRawBufferPointer
    init(_ count: Int) {
        bytes = .allocate(byteCount: count, alignment: 4096)
        bytes.initializeMemory(as: UInt8.self, repeating: 0)
    }
    deinit { bytes.deallocate() }
}

/// The test pattern of one block: its LBA stamped in, then bytes that depend on it.
func fillPattern(_ block: UnsafeMutableRawBufferPointer, lba: UInt64, generation: UInt8) {
    for i in 0..<block.count { block[i] = UInt8(truncatingIfNeeded: Int(lba) &* 7 &+ i) ^ generation }
    withUnsafeBytes(of: lba.bigEndian) { block.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: 8) }
}

func patternMatches(_ block: UnsafeRawBufferPointer, lba: UInt64, generation: UInt8) -> Bool {
    let expected = TestBuffer(block.count)
    fillPattern(expected.bytes, lba: lba, generation: generation)
    return memcmp(block.baseAddress!, expected.bytes.baseAddress!, block.count) == 0
}

/// CDBs the tests use.
enum TestCDB {
    static func testUnitReady() -> [UInt8] { [0x00, 0, 0, 0, 0, 0] }

    static func inquiry(allocation: UInt8) -> [UInt8] { [0x12, 0, 0, 0, allocation, 0] }

    static func read10(lba: UInt32, blocks: UInt16) -> [UInt8] {
        [0x28, 0, UInt8(lba >> 24), UInt8((lba >> 16) & 0xFF), UInt8((lba >> 8) & 0xFF), UInt8(lba & 0xFF),
         0, UInt8(blocks >> 8), UInt8(blocks & 0xFF), 0]
    }

    static func write10(lba: UInt32, blocks: UInt16) -> [UInt8] {
        var c = read10(lba: lba, blocks: blocks)
        c[0] = 0x2A
        return c
    }

    static func readCapacity10() -> [UInt8] { [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0] }
}

/// One command's memory kept alive from start to collection.
final class TestCommand {
    let cdb: [UInt8]
    let cdbStorage: UnsafeMutableRawBufferPointer
    let sense = TestBuffer(252)
    let data: TestBuffer?
    let segments: UnsafeMutableBufferPointer<iovec>?

    init(cdb: [UInt8], dataLength: Int = 0, segmentCount: Int = 0) {
        self.cdb = cdb
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: cdb.count, alignment: 8)
        cdb.withUnsafeBytes { storage.copyMemory(from: $0) }
        cdbStorage = storage
        data = dataLength > 0 ? TestBuffer(dataLength) : nil
        if segmentCount > 0, let data {
            // Unequal segments that cut blocks in odd places, so the S/G path is really used.
            let segs = UnsafeMutableBufferPointer<iovec>.allocate(capacity: segmentCount)
            let share = dataLength / segmentCount
            var offset = 0
            for i in 0..<segmentCount {
                let length = i == segmentCount - 1 ? dataLength - offset : share + (i % 2 == 0 ? -100 : 100)
                segs[i] = iovec(iov_base: data.bytes.baseAddress! + offset, iov_len: length)
                offset += length
            }
            segments = segs
        } else {
            segments = nil
        }
    }

    deinit {
        cdbStorage.deallocate()
        segments?.deallocate()
    }

    func request(direction: SGDirection, packID: Int32, timeout: SGTimeout = .milliseconds(30_000)) -> SGRequest {
        var r = SGRequest(cdb: UnsafeRawBufferPointer(cdbStorage), sense: sense.bytes, timeout: timeout, packID: packID)
        if let segments, let data {
            r.setData(segments: segments, totalLength: data.bytes.count, direction: direction)
        } else if let data {
            r.setData(data.bytes, direction: direction)
        }
        return r
    }
}

/// Waits up to `milliseconds` for `fd` to be readable.
@discardableResult
func waitReadable(_ fd: Int32, milliseconds: Int32 = 10_000) -> Int16 {
    var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    _ = poll(&p, 1, milliseconds)
    return p.revents
}

/// Runs `body` on a new thread and waits for it (for per-thread credentials).
func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () -> T) -> T {
    let box = CAMLockedBox<T?>(nil)
    let t = CAMThread(name: "sg-test") { let v = body(); box.withLock { $0 = v } }
    t.join()
    return box.withLock { $0! }
}

/// A descriptor several threads use (a submitter and the poller's handler).
final class SharedDescriptor: Sendable {
    let sg: SGDescriptor
    init(path: String) throws(LinuxSGError) { sg = try SGDescriptor(path: path) }
    var fd: Int32 { sg.fd }
    func start(_ r: inout SGRequest) throws(LinuxSGError) { try sg.start(&r) }
    func collect() throws(LinuxSGError) -> SGCompletion? { try sg.collect() }
}
