import CAM

/// The SIMs reached through specifiers other than the emulator.
enum Backends {
    /// sg buses for `devices` (nil: every /dev/sg* in sysfs), registered, not scanned.
    static func registerSG(on xpt: XPT, devices: [String]?) throws(CAMError) -> [CAMBus] {
        // Wired to CAMLinuxSG when that SIM lands.
        if devices == nil { return [] }
        throw CAMError(.unsupported, "the Linux sg SIM is not built yet")
    }

    /// The iSCSI bus for `url`, registered, not scanned.
    static func registerISCSI(on xpt: XPT, url: String) throws(CAMError) -> [CAMBus] {
        throw CAMError(.unsupported, "the iSCSI SIM is not built yet")
    }
}
