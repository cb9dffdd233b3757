import Foundation
import TestSupport

/// Test helpers: temporary directories that remove themselves, deterministic data, checksums,
/// and running the built camdd.
enum Support {
    /// Deterministic bytes (TestSupport's generator).
    static func data(_ count: Int, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> Data {
        TestSupport.pseudoRandomData(count, seed: seed)
    }

    static func checksum(_ d: Data) -> UInt64 { TestSupport.checksum(d) }

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
