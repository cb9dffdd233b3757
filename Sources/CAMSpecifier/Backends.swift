import CAM
import CAMISCSI
import CAMLinuxSG

/// The SIMs reached through specifiers other than the emulator.
enum Backends {
    /// sg buses for `devices` (nil: every /dev/sg* in sysfs), registered, not scanned.
    static func registerSG(on xpt: XPT, devices: [String]?) throws(CAMError) -> [CAMBus] {
        try LinuxSGSIM.register(on: xpt, devices: devices)
    }

    /// The iSCSI bus for `url`, registered, not scanned.
    static func registerISCSI(on xpt: XPT, url: String) throws(CAMError) -> [CAMBus] {
        [xpt.register(try ISCSISIM(specifier: url))]
    }
}
