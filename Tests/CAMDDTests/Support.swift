import Foundation
import TestSupport

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

    /// The built camdd ($SWIFTCAM_BIN/camdd, or next to the test bundle).
    static var camdd: String { TestSupport.tool("camdd") }

    /// Runs camdd with `arguments`, `input` on its stdin; kills it after `timeout` seconds.
    static func run(_ arguments: [String], input: Data? = nil, timeout: TimeInterval = 120) throws -> TestSupport.Result {
        try TestSupport.run(camdd, arguments, input: input, timeout: timeout)
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

extension TestSupport.Result {
    /// "N bytes read from X" → N.
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
