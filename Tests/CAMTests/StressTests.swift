#if canImport(Glibc)
import Glibc
#endif
import CAM
import CAMEmulator
import SCSI
import Testing

/// Several threads queueing and reaping on several devices while devices come and go.
/// CI runs this under the thread sanitizer (`swift test --sanitize=thread --filter CAMTests`).
@Suite("stress: concurrent queue/get with arrivals and departures")
struct StressTests {
    @Test("threads × devices × hot removal and re-add, no lost or duplicated completions",
          .timeLimit(.minutes(2)), arguments: [(false, false), (true, false), (false, true)])
    func stress(completeOnWorkers: Bool, polling: Bool) throws {
        let disks = 4
        let (xpt, sim, _) = try makeEmulated(disks: disks, commandSlots: 8, completeOnWorkers: completeOnWorkers) { c, _ in
            c.latency = .random(min: .microseconds(1), max: .microseconds(100))
        }
        defer { xpt.shutdown() }
        let threads = 6
        let perThread = 1500
        let results = CAMLockedBox<[(sent: Int, back: Int, gone: Int, dup: Int)]>([])
        var workers: [CAMThread] = []
        for t in 0..<threads {
            workers.append(CAMThread(name: "stress\(t)") {
                var sent = 0, back = 0, gone = 0, dup = 0
                var seen = Set<UInt64>()
                var handle: PassHandle?
                var draining = false
                let pool = (0..<8).map { _ in CCB() }
                var free = pool
                var unit = t % disks
                while true {
                    if handle == nil {
                        if sent >= perThread { break }
                        unit = (unit + 1) % disks
                        handle = try? xpt.open(path: CAMPath(bus: 0, target: unit, lun: 0))
                        if handle == nil { usleep(200); continue }
                        // Polled: half the threads harvest their devices' completions (their
                        // own and the other threads'), the rest rely on them.
                        if polling && t % 2 == 0 { _ = handle!.startPolling() }
                    }
                    let h = handle!
                    while !draining, sent < perThread, let c = free.popLast() {
                        c.setSCSI(cdb: CDB(count: 6))
                        c.cookie = UInt64(t) << 32 | UInt64(sent)
                        do {
                            try h.queue(c)
                            sent += 1
                        } catch {
                            free.append(c)
                            if (error as? CAMError)?.code == .deviceGone { gone += 1; draining = true }
                            break
                        }
                    }
                    _ = h.wait(timeout: .milliseconds(20))
                    while let c = h.get() {
                        back += 1
                        if !seen.insert(c.cookie).inserted { dup += 1 }
                        if c.status == .deviceNotThere { gone += 1; draining = true }
                        free.append(c)
                    }
                    // Close only with nothing outstanding, so no completion is abandoned.
                    if free.count == pool.count && (draining || sent >= perThread) {
                        h.close()
                        handle = nil
                        draining = false
                    }
                }
                handle?.close()
                results.withLock { $0.append((sent, back, gone, dup)) }
            })
        }
        // Devices come and go while the threads run.
        for round in 0..<6 {
            usleep(20_000)
            let target = round % disks
            sim.removeDisk(target: target, lun: 0)
            usleep(10_000)
            try? sim.addDisk(target: target, lun: 0, EmulatedDiskConfiguration(capacityBytes: 16 << 20, latency: .random(min: .microseconds(1), max: .microseconds(100))))
        }
        for w in workers { w.join() }
        let r = results.withLock { $0 }
        #expect(r.count == threads)
        for x in r {
            #expect(x.dup == 0, "no completion comes back twice")
            #expect(x.back == x.sent, "every queued CCB comes back exactly once (sent \(x.sent), back \(x.back))")
        }
    }
}
