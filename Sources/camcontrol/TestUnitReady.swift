import ArgumentParser
import CAM
import SCSI

/// `camcontrol tur`: TEST UNIT READY.
struct TestUnitReady: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tur",
        abstract: "Send TEST UNIT READY; print whether the unit is ready.",
        discussion: "Exit status 0 when ready, 1 when not (with -v the sense is printed by name)."
    )

    @Argument(help: "The device: passN, B:T:L, emu:disk, /dev/sgN or an iscsi:// URL.")
    var device: String

    @OptionGroup(title: "Generic options")
    var options: GenericOptions

    func run() throws {
        try exitOnFailure {
            let h = try openDevice(device, options)
            defer { h.close() }
            let ccb = CCB(cdb: CDB.testUnitReady())
            if try CAMControlSupport.run(ccb, on: h, options, quietOnError: !options.verbose) {
                print("Unit is ready")
            } else {
                print("Unit is not ready")
                throw ExitCode(1)
            }
        }
    }
}
