import CAM
import CAMLinuxSG
import Foundation
import TestSupport

/// The scsi_debug devices of the VM (scripts/vm/test-linux-sg) and what tests do to them:
/// knobs, hot removal, re-scan.
enum SCSIDebug {
    /// Every scsi_debug sg device, by sg index.
    static var devices: [SGDeviceInfo] { SGDiscovery.devices().filter { $0.model == "scsi_debug" } }

    /// The first scsi_debug device, looked up afresh (a re-scan may renumber it).
    static var first: SGDeviceInfo? { devices.first }

    /// The device at H:C:T:L now, if sysfs has it.
    static func device(hctl: String) -> SGDeviceInfo? {
        SGDiscovery.devices().first { $0.hctl == hctl }
    }

    /// In-flight commands the midlayer counts for the device (`device/device_busy`).
    static func busy(hctl: String) -> Int {
        SGDiscovery.readFileForTests("/sys/class/scsi_device/\(hctl)/device/device_busy").flatMap { Int($0) } ?? 0
    }

    /// Hot removal: the kernel deletes the SCSI device (and its sg node).
    static func delete(_ d: SGDeviceInfo) throws {
        try SGDiscovery.write("1", to: SGDiscovery.deleteFile(hctl: d.hctl))
    }

    /// Re-scans `d`'s host and waits for a device at its H:C:T:L again (its sg number may
    /// differ if the old node was still held open).
    static func rescan(bringingBack d: SGDeviceInfo, seconds: Double = 10) throws -> SGDeviceInfo? {
        try SGDiscovery.write("- - -", to: SGDiscovery.hostScanFile(host: d.host))
        return waitForDevice(hctl: d.hctl, seconds: seconds)
    }

    /// Waits up to `seconds` for an sg device at `hctl`.
    static func waitForDevice(hctl: String, seconds: Double = 10) -> SGDeviceInfo? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let d = device(hctl: hctl), access(d.devicePath, F_OK) == 0 { return d }
            usleep(20_000)
        }
        return nil
    }

    /// Runs `body` with scsi_debug knobs set, then puts the old values back (in reverse order:
    /// `delay` and `ndelay` override each other).
    static func withKnobs<T>(_ knobs: KeyValuePairs<String, String>, _ body: () throws -> T) throws -> T {
        var old: [(String, String)] = []
        defer {
            for (name, value) in old.reversed() { try? SCSIDebugKnob.write(name, value) }
        }
        for (name, value) in knobs {
            guard let before = SCSIDebugKnob.read(name) else {
                throw TestFailure("scsi_debug has no knob \(name) in sysfs")
            }
            old.append((name, before))
            try SCSIDebugKnob.write(name, value)
        }
        return try body()
    }
}

/// scsi_debug's run-time knobs, restored after use: the driver's attributes
/// (/sys/bus/pseudo/drivers/scsi_debug), else the module's writable parameters
/// (/sys/module/scsi_debug/parameters: medium_error_start, medium_error_count).
enum SCSIDebugKnob {
    static let dir = "/sys/bus/pseudo/drivers/scsi_debug/"
    static let parameters = "/sys/module/scsi_debug/parameters/"

    static func read(_ name: String) -> String? {
        SGDiscovery.readFileForTests(dir + name) ?? SGDiscovery.readFileForTests(parameters + name)
    }

    /// Sets a knob; scsi_debug refuses some (EBUSY) while it holds commands, so retry a while.
    static func write(_ name: String, _ value: String) throws {
        let path = access(dir + name, F_OK) == 0 ? dir + name : parameters + name
        var last: Error?
        for _ in 0..<100 {
            do {
                try SGDiscovery.write(value, to: path)
                return
            } catch {
                last = error
                usleep(50_000)
            }
        }
        throw last!
    }
}

extension SGDiscovery {
    /// First line of a small file, nil when it cannot be read.
    static func readFileForTests(_ path: String) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var b = [UInt8](repeating: 0, count: 256)
        let n = b.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, 256) }
        guard n > 0 else { return nil }
        return String(decoding: b[0..<n], as: UTF8.self).split(separator: "\n").first.map(String.init)
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// Our tools (built next to the test binary) and sg3_utils' (on PATH), run as a user runs them.
enum Tools {
    static func path(_ name: String) -> String {
        if name == "camdd" || name == "camcontrol" { return TestSupport.tool(name) }
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        for d in dirs + ["/usr/bin", "/usr/sbin", "/bin"] where access("\(d)/\(name)", X_OK) == 0 {
            return "\(d)/\(name)"
        }
        return "/usr/bin/" + name
    }

    static func run(_ name: String, _ arguments: [String], input: Data? = nil, timeout: TimeInterval = 120) throws -> TestSupport.Result {
        try TestSupport.run(path(name), arguments, input: input, timeout: timeout)
    }

    /// The lines of standard output.
    static func lines(_ r: TestSupport.Result) -> [String] {
        r.out.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { !$0.isEmpty }
    }
}

/// Deterministic test data and the checksum the round trips compare (TestSupport's).
enum TestData {
    static func bytes(_ count: Int, seed: UInt64) -> Data { TestSupport.pseudoRandomData(count, seed: seed) }
    static func checksum(_ d: Data) -> UInt64 { TestSupport.checksum(d) }
}

extension TestSupport.Result {
    /// camdd's "N bytes read from X" → N.
    func bytes(_ verb: String) -> UInt64? {
        for line in stderr.split(separator: "\n") where line.contains(" bytes \(verb) ") {
            if let n = UInt64(line.split(separator: " ")[0]) { return n }
        }
        return nil
    }
}

extension TemporaryDirectory {
    func write(_ name: String, _ data: Data) throws -> String {
        let p = file(name)
        try data.write(to: URL(fileURLWithPath: p))
        return p
    }

    func read(_ name: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: file(name))) }
}
