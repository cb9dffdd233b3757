import Foundation

/// Helpers shared by the test targets: built tools, temporary files that remove themselves.
public enum TestSupport {
    /// The folder holding the test bundle, where SwiftPM also puts the built executables.
    public static var buildDirectory: String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // The xctest bundle may be a directory on some setups: step out of it.
        while dir.pathExtension == "xctest" || dir.lastPathComponent == "MacOS" || dir.lastPathComponent == "Contents" {
            dir = dir.deletingLastPathComponent()
        }
        return dir.path
    }

    /// The path of a built tool ("camdd", "camcontrol").
    public static func tool(_ name: String) -> String {
        if let env = ProcessInfo.processInfo.environment["SWIFTCAM_BIN"] { return env + "/" + name }
        return buildDirectory + "/" + name
    }

    /// What a finished process left.
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: Data
        public var stderr: String
        public var out: String { String(decoding: stdout, as: UTF8.self) }
    }

    /// Runs `path` with `arguments`, feeding `input` to its standard input; waits at most
    /// `timeout` seconds (then kills it and returns status -9).
    public static func run(_ path: String, _ arguments: [String], input: Data? = nil,
                           environment: [String: String] = [:], timeout: TimeInterval = 120) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["CAM_BUSES"] = nil
        for (k, v) in environment { env[k] = v }
        p.environment = env
        let outPipe = Pipe(), errPipe = Pipe(), inPipe = Pipe()
        p.standardOutput = outPipe
        p.standardError = errPipe
        p.standardInput = inPipe
        try p.run()
        let outBox = DataBox(), errBox = DataBox()
        let group = DispatchGroup()
        for (h, box) in [(outPipe.fileHandleForReading, outBox), (errPipe.fileHandleForReading, errBox)] {
            group.enter()
            DispatchQueue.global().async {
                box.set(h.readDataToEndOfFile())
                group.leave()
            }
        }
        if let input {
            DispatchQueue.global().async {
                try? inPipe.fileHandleForWriting.write(contentsOf: input)
                try? inPipe.fileHandleForWriting.close()
            }
        } else {
            try? inPipe.fileHandleForWriting.close()
        }
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(10_000) }
        if p.isRunning {
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            group.wait()
            return Result(status: -9, stdout: outBox.get(), stderr: String(decoding: errBox.get(), as: UTF8.self))
        }
        p.waitUntilExit()
        group.wait()
        return Result(status: p.terminationStatus, stdout: outBox.get(), stderr: String(decoding: errBox.get(), as: UTF8.self))
    }

    final class DataBox: @unchecked Sendable {
        // Guarded by `lock`; written by one reader thread, read after the group is done.
        private let lock = NSLock()
        private var data = Data()
        func set(_ d: Data) { lock.lock(); data = d; lock.unlock() }
        func get() -> Data { lock.lock(); defer { lock.unlock() }; return data }
    }
}

extension TestSupport {
    /// Deterministic pseudo-random bytes (xorshift64*) from `seed`, so a failure can be
    /// reproduced.
    public static func pseudoRandomData(_ count: Int, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> Data {
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

    /// FNV-1a, 64 bits: the checksum round trips compare.
    public static func checksum<C: Collection>(_ bytes: C) -> UInt64 where C.Element == UInt8 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        return h
    }
}

/// A temporary directory removed when the value goes away.
public final class TemporaryDirectory: @unchecked Sendable {
    // Immutable after init.
    public let path: String

    public init(_ prefix: String = "swiftcam") throws {
        let base = NSTemporaryDirectory() + "\(prefix)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        path = base
    }

    /// A path inside the directory.
    public func file(_ name: String) -> String { path + "/" + name }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
