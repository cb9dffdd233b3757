import ArgumentParser
import CAM
import CAMSpecifier

/// `camcontrol devlist`: every device on the configured buses, as FreeBSD prints them.
struct DevList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devlist",
        abstract: "List the devices CAM finds: local /dev/sg*, CAM_BUSES, and --bus buses.",
        discussion: """
        Output as FreeBSD's camcontrol devlist:
          <SWIFTCAM EMULATED DISK 0001>      at scbus0 target 0 lun 0 (pass0)
        -v adds a line per bus: scbus0 on emu0 bus 0:
        -b lists the buses only: scbus0 on emu0 bus 0
        The names in parentheses are the periphs attached to the device (pass0, ses0), then \
        the Linux sg node where there is one.
        """
    )

    @Flag(name: .customShort("v"), help: "Also print each bus and its SIM.")
    var verbose = false

    @Flag(name: .customShort("b"), help: "List the buses only.")
    var busesOnly = false

    @Option(name: .customLong("bus"), help: "A bus to scan (emu:disk:..., /dev/sgN, iscsi://host[:port]); repeatable.")
    var buses: [String] = []

    func run() throws {
        try exitOnFailure {
            let opener = DeviceOpener(buses: buses)
            let devices: [CAMDeviceInfo]
            do {
                devices = try opener.listDevices()
            } catch {
                throw DeviceFailure(description: "camcontrol: \(error)")
            }
            // Targets found but not reached (an iSCSI target that wants CHAP): say so, or the
            // list looks complete when it is not.
            for problem in opener.scanProblems {
                printError("camcontrol: warning: left out: \(problem)")
            }
            for bus in opener.xpt.allBuses {
                let pi = bus.pathInquiry
                if busesOnly {
                    // FreeBSD: "scbus%d on %s%d bus %d", no colon with -b.
                    print("scbus\(bus.number) on \(pi.simName)\(pi.simUnit) bus 0")
                    continue
                }
                if verbose { print("scbus\(bus.number) on \(pi.simName)\(pi.simUnit) bus 0:") }
                for d in devices.filter({ $0.path.bus == bus.number }).sorted(by: { $0.path < $1.path }) {
                    print(DevList.line(for: d))
                }
            }
        }
    }

    /// `%-33s  at scbus%d target %d lun %jx (%s)`.
    static func line(for d: CAMDeviceInfo) -> String {
        let inq = "<\(d.vendor) \(d.product) \(d.revision)>"
        var periphs = d.periphs
        if d.deviceName.hasPrefix("/dev/sg") { periphs.append(String(d.deviceName.dropFirst(5))) }
        let padded = inq.count >= 33 ? inq : inq + String(repeating: " ", count: 33 - inq.count)
        return "\(padded)  at scbus\(d.path.bus) target \(d.path.target) lun \(String(d.path.lun, radix: 16)) (\(periphs.joined(separator: ",")))"
    }
}
