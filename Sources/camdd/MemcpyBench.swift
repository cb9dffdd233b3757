#if canImport(Glibc)
import Glibc
#endif

/// `--memcpy-bench` (hidden): this machine's single-thread memcpy bandwidth, the yardstick
/// for camdd reading an emulated RAM disk (whose SIM copies each block once). 1 MiB copies
/// from a 256 MiB source, larger than any cache, into 8 rotating 1 MiB buffers, as camdd's
/// reader sees it at bs=1m, depth 8.
enum MemcpyBench {
    static func run() {
        let chunk = 1 << 20
        let sourceSize = 256 << 20
        let source = UnsafeMutableRawPointer.allocate(byteCount: sourceSize, alignment: 4096)
        let targets = UnsafeMutableRawPointer.allocate(byteCount: 8 * chunk, alignment: 4096)
        defer { source.deallocate(); targets.deallocate() }
        memset(source, 0x5A, sourceSize)
        memset(targets, 0, 8 * chunk)
        var best = 0.0
        for _ in 0..<5 {
            var t0 = timespec(), t1 = timespec()
            clock_gettime(CLOCK_MONOTONIC, &t0)
            var copied = 0
            var i = 0
            while copied < 2 * sourceSize {
                memcpy(targets + (i % 8) * chunk, source + (copied % sourceSize), chunk)
                copied += chunk
                i += 1
            }
            clock_gettime(CLOCK_MONOTONIC, &t1)
            let seconds = Double(t1.tv_sec - t0.tv_sec) + Double(t1.tv_nsec - t0.tv_nsec) / 1e9
            best = max(best, Double(copied) / 1_048_576 / seconds)
        }
        print("memcpy: \(Int(best.rounded())) MB/sec (single thread, 1 MiB copies, MB = 2^20)")
    }
}
