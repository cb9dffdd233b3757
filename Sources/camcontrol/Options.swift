import ArgumentParser
import CAM
import CAMSpecifier
import SCSI

/// Options every device subcommand takes (camcontrol's generic arguments).
struct GenericOptions: ParsableArguments {
    @Flag(name: .customShort("v"), help: "Print the CDB, CAM status and sense of a failed command.")
    var verbose = false

    @Option(name: .customShort("C"), help: "Retries CAM may make (with -E).")
    var retryCount: Int = 0

    @Flag(name: .customShort("E"), help: "Let CAM recover from errors (CAM_PASS_ERR_RECOVER): retry UNIT ATTENTION, BUSY, transport errors.")
    var errorRecovery = false

    @Option(name: .customShort("t"), help: "Command timeout in seconds.")
    var timeout: Int = 5

    @Option(name: .customLong("bus"), help: "A bus to scan (emu:disk:..., /dev/sgN, iscsi://host[:port]); repeatable.")
    var buses: [String] = []

    func validate() throws {
        guard retryCount >= 0 else { throw ValidationError("-C takes a retry count of 0 or more, not \(retryCount)") }
        guard timeout > 0, timeout <= 4_000_000 else { throw ValidationError("-t takes a timeout in seconds, 1 to 4000000, not \(timeout)") }
    }

    func opener() -> DeviceOpener { DeviceOpener(buses: buses) }

    /// Applies -C, -E and -t to a CCB.
    func prepare(_ ccb: CCB) {
        ccb.timeout = .seconds(timeout)
        if errorRecovery {
            ccb.flags.insert(.errorRecovery)
            ccb.retryCount = retryCount
        }
    }
}

/// A message to stderr and exit status 1 (the device or transport said no).
struct DeviceFailure: Error, CustomStringConvertible {
    var description: String
}

func openDevice(_ text: String, _ options: GenericOptions) throws -> PassHandle {
    do {
        return try options.opener().open(text)
    } catch {
        throw DeviceFailure(description: "camcontrol: \(error)")
    }
}

enum CAMControlSupport {
/// Runs a CCB and, when it fails, prints what happened (with -v: cam_error_print's lines).
@discardableResult
static func run(_ ccb: CCB, on h: PassHandle, _ options: GenericOptions, quietOnError: Bool = false) throws -> Bool {
    options.prepare(ccb)
    do {
        try h.execute(ccb)
    } catch {
        throw DeviceFailure(description: "camcontrol: \(error)")
    }
    if ccb.status == .requestComplete { return true }
    if !quietOnError {
        if options.verbose {
            for l in ccb.errorReport(device: h.periphName) { printError(l) }
        } else {
            printError("camcontrol: \(ccb.cdb.commandName) failed on \(h.name): \(ccb.status)" + (ccb.senseLength > 0 ? ", \(ccb.senseData!.summary)" : ""))
        }
    }
    return false
}

/// FreeBSD's scsi_print_inquiry: "<VENDOR PRODUCT REV> Fixed Direct Access SPC-5 SCSI device".
static func inquiryLine(_ inq: StandardInquiry) -> String {
    var s = "<\(inq.vendor) \(inq.product) \(inq.revision)> "
    switch inq.peripheralQualifier {
    case .connected: break
    case .notConnected: s += "(not connected) "
    default: s += "(\(inq.peripheralQualifier)) "
    }
    s += (inq.removable ? "Removable " : "Fixed ") + inq.peripheralDeviceType.name + " " + inq.scsiRevisionText
    return s
}
}

#if canImport(Glibc)
import Glibc
#endif

func printError(_ s: String) {
    let line = s + "\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
}

/// Turns our failures into camcontrol's exit status.
func exitOnFailure(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let f as DeviceFailure {
        printError(f.description)
        throw ExitCode(1)
    }
}
