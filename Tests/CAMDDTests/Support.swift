import Foundation

/// Test helpers: temporary directories that remove themselves, deterministic data, checksums,
/// and running the built camdd.
enum Support {
    /// Deterministic pseudo-random bytes (xorshift64*), so a failure can be reproduced.
    static func data(_ count: Int, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> Data {
        var d = Data(count: count)
        var s = seed | 1
        d.withUnsafeMutableBytes { raw in
            let p = raw.bindMemory(to: UInt8.self)
            var i = 0
            while i < count {
                s ^= s >> 12; s ^= s << 25; s ^= s >> 27
                var v = s &* 0x2545_F491_4F6C_DD1D
                for _ in 0..<8 where i < count {
                    p[i] = UInt8(truncatingIfNeeded: v)
                    v >>= 8
                    i += 1
                }
            }
        }
        return d
    }

    /// FNV-1a, 64 bits: the checksum the round trips compare.
    static func checksum(_ d: Data) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        d.withUnsafeBytes { raw in
            for b in raw { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        }
        return h
    }

    /// The built camdd: $SWIFTCAM_BIN/camdd, or next to the test bundle in the build folder.
    static var camdd: String {
        if let bin = ProcessInfo.processInfo.environment["SWIFTCAM_BIN"] { return bin + "/camdd" }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        while dir.pathExtension == "xctest" { dir = dir.deletingLastPathComponent() }
        return dir.appendingPathComponent("camdd").path
    }

    struct Result {
        var status: Int32
        var stdout: Data
        var stderr: String
        var out: String { String(decoding: stdout, as: UTF8.self) }

        /// "N bytes read from X" → N.
        func bytes(_ verb: String) -> UInt64? {
            for line in stderr.split(separator: "\n") where line.contains(" bytes \(verb) ") {
                if let n = UInt64(line.split(separator: " ")[0]) { return n }
            }
            return nil
        }
    }

    /// Runs camdd with `arguments`, `input` on its stdin; kills it after `timeout` seconds.
    static func run(_ arguments: [String], input: Data? = nil, timeout: TimeInterval = 120) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: camdd)
        p.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["CAM_BUSES"] = nil
        p.environment = env
        let outPipe = Pipe(), errPipe = Pipe(), inPipe = Pipe()
        p.standardOutput = outPipe
        p.standardError = errPipe
        p.standardInput = inPipe
        try p.run()
        let out = Collector(outPipe.fileHandleForReading)
        let err = Collector(errPipe.fileHandleForReading)
        if let input {
            let h = inPipe.fileHandleForWriting
            Thread.detachNewThread {
                try? h.write(contentsOf: input)
                try? h.close()
            }
        } else {
            try? inPipe.fileHandleForWriting.close()
        }
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(5_000) }
        if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
        return Result(status: p.isRunning ? -9 : p.terminationStatus, stdout: out.wait(),
                      stderr: String(decoding: err.wait(), as: UTF8.self))
    }

    /// Reads a pipe to its end on a thread of its own.
    final class Collector: @unchecked Sendable {
        // `data` is written by the reading thread before `done` is signalled, read after.
        private var data = Data()
        private let done = DispatchSemaphore(value: 0)
        init(_ h: FileHandle) {
            Thread.detachNewThread { [self] in
                data = h.readDataToEndOfFile()
                done.signal()
            }
        }
        func wait() -> Data { done.wait(); return data }
    }
}

/// A temporary directory, removed when the value goes away.
final class TemporaryDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "camdd-test-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { path + "/" + name }

    func write(_ name: String, _ data: Data) throws -> String {
        let p = file(name)
        try data.write(to: URL(fileURLWithPath: p))
        return p
    }

    func read(_ name: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: file(name))) }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
