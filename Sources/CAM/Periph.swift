/// A peripheral driver (FreeBSD's `struct periph_driver`): the XPT offers it every device it
/// finds, and it attaches a periph to those it wants. `pass` attaches to every device; the
/// XPT's probe is a driver too; an enclosure driver attaches to SES devices.
///
/// Callbacks come on the thread that found or lost the device, or the thread that completed
/// the CCB; none is called with a CAM lock held, so a driver may queue CCBs from any of them.
package protocol CAMPeriphDriver: AnyObject, Sendable {
    /// The driver's name: units are numbered per name ("pass3", "ses0").
    var name: String { get }

    /// Whether to attach to a device the XPT found (the driver's AC_FOUND_DEVICE handler).
    func matches(_ device: CAMDeviceInfo) -> Bool

    /// A periph of this driver was attached (periph_ctor). It may queue CCBs at once.
    func attached(_ periph: CAMPeriph)

    /// A CCB the periph queued (`CAMPeriph.queue`) came back (the periph's done routine,
    /// `cbfcnp`). The CCB is the periph's again.
    func done(_ ccb: CCB, periph: CAMPeriph)

    /// The device went away (periph_oninvalidate): the periph will get no new CCBs through;
    /// those it has out still come back through `done`.
    func invalidated(_ periph: CAMPeriph)
}

extension CAMPeriphDriver {
    package func attached(_ periph: CAMPeriph) {}
    package func invalidated(_ periph: CAMPeriph) {}
}

/// Where a finished CCB goes: a periph's done routine, or one open of the pass periph (each
/// open has its own queues, pass(4)'s to-do 5).
package protocol CAMDoneTarget: AnyObject, Sendable {
    /// The CCB is finished (retries done); it belongs to the target again.
    func ccbDone(_ ccb: CCB)
}

/// One driver instance attached to one device (FreeBSD's `struct cam_periph`): `pass0`, `ses1`.
///
/// References (seed 004): the periph holds its device record, so the record lives while the
/// periph does; every open of the periph and every CCB it has out holds the periph. Opens and
/// closes are counted one for one (D_TRACKCLOSE). When the device goes, the periph is
/// invalidated: nothing new is queued through it, what is out still comes back. Its unit
/// number is given back only when the last reference has gone (`deinit`), so no new periph
/// takes a number an old one still answers to.
package final class CAMPeriph: CAMDoneTarget, @unchecked Sendable {
    // @unchecked: `opens`, `closes` and `invalidated` are guarded by `lock`; the rest is set
    // in init and never changes.
    /// The driver's name ("pass").
    package let driverName: String
    /// The unit number, per driver.
    package let unit: Int
    let driver: any CAMPeriphDriver
    let device: CAMDeviceRecord
    private let units: PeriphUnits
    /// The periph's own queue at its device, for CCBs it sends itself (`queue`).
    let ownQueue = DeviceQueue()
    private let lock = CAMLock()
    private var opens = 0
    private var closes = 0
    private var invalidated = false

    init(driver: any CAMPeriphDriver, unit: Int, device: CAMDeviceRecord, units: PeriphUnits) {
        self.driver = driver
        self.driverName = driver.name
        self.unit = unit
        self.device = device
        self.units = units
    }

    deinit {
        _ = device.detach(ownQueue)
        units.free(driverName, unit)
    }

    /// "pass0".
    package var name: String { "\(driverName)\(unit)" }

    /// The device's bus:target:lun.
    package var path: CAMPath { device.path }

    /// Whether the device went away (CAM_PERIPH_INVALID).
    package var isInvalidated: Bool { lock.withLock { invalidated } }

    /// Opens and closes counted so far (D_TRACKCLOSE: one close for every open).
    package var openCount: (opens: Int, closes: Int) { lock.withLock { (opens, closes) } }

    /// Queues a CCB of the periph's own; it comes back through the driver's `done`.
    package func queue(_ ccb: CCB) throws(CAMError) {
        try ccb.validate(maxIO: device.maxIO, on: name)
        try device.enqueue(ccb, on: ownQueue, target: self, name: name)
    }

    package func ccbDone(_ ccb: CCB) { driver.done(ccb, periph: self) }

    /// Counts an open; fails once the device is gone.
    func open() throws(CAMError) {
        lock.lock()
        defer { lock.unlock() }
        if invalidated { throw CAMError(.deviceGone, "\(name): the device is gone") }
        opens += 1
    }

    /// Counts a close.
    func close() { lock.withLock { closes += 1 } }

    /// The device is gone: refuse new opens and tell the driver (once).
    func invalidate() {
        let first = lock.withLock { () -> Bool in
            if invalidated { return false }
            invalidated = true
            return true
        }
        if first { driver.invalidated(self) }
    }
}

/// Unit numbers taken, per driver. A number is free again only when its periph's last
/// reference has gone (`CAMPeriph.deinit`). Leaf lock.
final class PeriphUnits: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = CAMLock()
    private var taken: [String: Set<Int>] = [:]

    /// The lowest free unit of `driver`, now taken.
    func take(_ driver: String) -> Int {
        lock.withLock {
            var n = 0
            while taken[driver, default: []].contains(n) { n += 1 }
            taken[driver, default: []].insert(n)
            return n
        }
    }

    func free(_ driver: String, _ unit: Int) {
        lock.withLock {
            _ = taken[driver]?.remove(unit)
        }
    }

    /// The units of `driver` in use, sorted.
    func inUse(_ driver: String) -> [Int] {
        lock.withLock { taken[driver, default: []].sorted() }
    }
}

/// The pass driver: attaches to every device. Its periph's opens are `PassHandle`s, each with
/// its own queues; a CCB an open queued goes back to that open, so the driver's own `done`
/// sees only CCBs the periph sends itself (none today).
final class PassDriver: CAMPeriphDriver {
    let name = "pass"
    func matches(_ device: CAMDeviceInfo) -> Bool { true }
    func done(_ ccb: CCB, periph: CAMPeriph) {}
}
