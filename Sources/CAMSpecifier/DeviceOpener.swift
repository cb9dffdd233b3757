#if canImport(Glibc)
import Glibc
#endif
import CAM
import CAMISCSI
import CAMEmulator

/// Turns device specifiers into buses, scans and open pass handles: the one place the tools
/// learn which SIM serves which specifier.
///
/// Unit numbers come out the same for the same configuration every time: the local /dev/sg*
/// buses first (by SCSI host), then the buses of `CAM_BUSES` and `--bus`, in the order given,
/// each scanned in bus:target:lun order.
public final class DeviceOpener: @unchecked Sendable {
    // @unchecked: `scanned` and `registered` are guarded by `lock`; `xpt` is thread-safe.
    public let xpt: XPT
    private let lock = CAMLock()
    private var scanned = false
    private var registered: [String: [CAMBus]] = [:]
    private let extraBuses: [String]
    private let includeLocalSG: Bool

    /// `buses`: extra bus specifiers (`--bus`); `CAM_BUSES` from the environment comes first.
    public init(xpt: XPT = XPT(), buses: [String] = [], environment: Bool = true, includeLocalSG: Bool = true) {
        self.xpt = xpt
        var all: [String] = []
        if environment, let env = getenv("CAM_BUSES") {
            all += String(cString: env).split(separator: " ").map(String.init)
        }
        self.extraBuses = all + buses
        self.includeLocalSG = includeLocalSG
    }

    /// Registers and scans the buses of `spec` (once per spec text) and returns them.
    @discardableResult
    public func attach(_ spec: DeviceSpecifier) throws(CAMError) -> [CAMBus] {
        let key = spec.description
        if let b = lock.withLock({ registered[key] }) { return b }
        let buses: [CAMBus]
        switch spec {
        case .emulated(let options):
            let config = try EmulatedDiskConfiguration(parsing: options)
            let sim = EmulatorSIM()
            try sim.addDisk(target: 0, lun: 0, config)
            buses = [xpt.register(sim)]
        case .sg(let path):
            buses = try Backends.registerSG(on: xpt, devices: [path])
        case .iscsi(let url):
            buses = try Backends.registerISCSI(on: xpt, url: url)
        case .unit, .path:
            throw CAMError(.invalidRequest, "\(spec) names a device on a scanned bus, not a bus")
        }
        for b in buses { try xpt.scan(b) }
        lock.withLock { registered[key] = buses }
        return buses
    }

    /// Registers and scans every bus the configuration names: local /dev/sg* devices, then
    /// `CAM_BUSES`, then `--bus`. Idempotent.
    public func scanConfiguredBuses() throws(CAMError) {
        if lock.withLock({ scanned }) { return }
        if includeLocalSG {
            let buses = try Backends.registerSG(on: xpt, devices: nil)
            for b in buses { try xpt.scan(b) }
        }
        for text in extraBuses {
            let spec = try DeviceSpecifier(parsing: text)
            guard spec.opensBus else {
                throw CAMError(.invalidRequest, "--bus \(text): a bus is emu:disk[:...], /dev/sgN or iscsi://host[:port][/IQN[/LUN]]")
            }
            try attach(spec)
        }
        lock.withLock { scanned = true }
    }

    /// Opens a pass handle on the device `spec` names.
    public func open(_ spec: DeviceSpecifier) throws(CAMError) -> PassHandle {
        switch spec {
        case .unit(let n):
            try scanConfiguredBuses()
            return try xpt.open(unit: n)
        case .path(let p):
            try scanConfiguredBuses()
            return try xpt.open(path: p)
        case .emulated, .sg, .iscsi:
            let buses = try attach(spec)
            let numbers = Set(buses.map(\.number))
            let candidates = xpt.devices().filter { numbers.contains($0.path.bus) }
            if case .sg(let path) = spec, let d = candidates.first(where: { $0.deviceName == path }) {
                return try xpt.open(unit: d.unit)
            }
            guard let first = candidates.first else {
                throw CAMError(.noSuchDevice, "\(spec): \(nothingAnswered(spec, buses))")
            }
            return try xpt.open(unit: first.unit)
        }
    }

    /// Why `spec` opened no device: for an iSCSI LUN, the LUNs its target does have.
    private func nothingAnswered(_ spec: DeviceSpecifier, _ buses: [CAMBus]) -> String {
        guard case .iscsi(let text) = spec, let bus = buses.first,
              let lun = (try? ISCSIURL.parsePortal(text))?.lun else {
            return "no device answered on that bus"
        }
        guard let luns = xpt.reportedLUNs(bus: bus, target: 0) else {
            return "LUN \(lun) did not answer INQUIRY, and the target did not answer REPORT LUNS"
        }
        let list = luns.isEmpty ? "none" : luns.map(String.init).joined(separator: ", ")
        return "the target has no LUN \(lun) (REPORT LUNS lists: \(list))"
    }

    /// What the buses' last scans could not reach (`CAMSIM.scanProblems`), for a warning.
    public var scanProblems: [String] {
        xpt.allBuses.flatMap { $0.sim.scanProblems }
    }

    /// Opens a device from its text.
    public func open(_ text: String) throws(CAMError) -> PassHandle {
        try open(DeviceSpecifier(parsing: text))
    }

    /// Every device on the configured buses, by unit.
    public func listDevices() throws(CAMError) -> [CAMDeviceInfo] {
        try scanConfiguredBuses()
        return xpt.devices()
    }
}
