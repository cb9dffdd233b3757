/// The XPT's probe (FreeBSD's `probe` periph in scsi_xpt.c): attached to a device record while
/// the XPT asks the device who it is (REPORT LUNS, INQUIRY, TEST UNIT READY), detached after.
/// Its CCBs come back through its done routine, which wakes the scanning thread. Matches no
/// device on its own: the XPT attaches it where it probes.
final class ProbeDriver: CAMPeriphDriver {
    let name = "probe"

    func matches(_ device: CAMDeviceInfo) -> Bool { false }

    func done(_ ccb: CCB, periph: CAMPeriph) {
        (ccb.context as? ProbeWait)?.signal()
    }

    /// Sends `ccbs` one after another through a probe periph on `record` and waits for each.
    /// With `stopAfterFailure`, stops at the first that fails. False when the probe could not
    /// be attached (the device is gone) or a CCB could not be queued. Must not run on a SIM's
    /// own thread (it waits for completions).
    func run(_ ccbs: [CCB], on record: CAMDeviceRecord, units: PeriphUnits, stopAfterFailure: Bool = false) -> Bool {
        let periph = CAMPeriph(driver: self, unit: units.take(name), device: record, units: units)
        do { try record.attach(periph.ownQueue, name: periph.name) } catch { return false }
        defer { _ = record.detach(periph.ownQueue) }
        for ccb in ccbs {
            let wait = ProbeWait()
            ccb.context = wait
            do { try periph.queue(ccb) } catch { return false }
            wait.wait(polling: record)
            ccb.context = nil
            if stopAfterFailure && ccb.status != .requestComplete { break }
        }
        return true
    }
}

/// One probe CCB's completion, waited for by the scanning thread.
final class ProbeWait: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = CAMLock()
    private let condition = CAMCondition()
    private var done = false

    func signal() {
        lock.withLock {
            done = true
            condition.broadcast()
        }
    }

    /// Waits for `signal`. On a polled device nobody else may be harvesting for the probe,
    /// so it harvests too, between short waits.
    func wait(polling record: CAMDeviceRecord) {
        lock.lock()
        while !done {
            if record.isPolled.load(ordering: .relaxed), let sim = record.bus.pollingSIM {
                lock.unlock()
                var chain = record.harvest { sim.poll(at: record.path) }
                while let ccb = chain {
                    chain = ccb.queueNext
                    ccb.queueNext = nil
                    CompletionQueues.deliver(ccb)
                }
                lock.lock()
                if done { break }
                _ = condition.wait(lock, timeoutNanoseconds: 10_000_000)
            } else {
                condition.wait(lock)
            }
        }
        lock.unlock()
    }
}
