import ArgumentParser
import CAM
import SCSI

/// `camcontrol inquiry`: standard INQUIRY, unit serial number, transport.
struct Inquiry: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a device's INQUIRY data and serial number.",
        discussion: """
        Output as FreeBSD's camcontrol inquiry:
          pass0: <SWIFTCAM EMULATED DISK 0001> Fixed Direct Access SPC-5 SCSI device
          pass0: Serial Number EMU00000000
          pass0: Emulated transport, Command Queueing Enabled
        """
    )

    @Argument(help: "The device: passN, B:T:L, emu:disk, /dev/sgN or an iscsi:// URL.")
    var device: String

    @Flag(name: .customShort("D"), help: "Only the standard INQUIRY line.")
    var standardOnly = false

    @Flag(name: .customShort("S"), help: "Only the serial number.")
    var serialOnly = false

    @Flag(name: .customShort("R"), help: "Only the transport line.")
    var transportOnly = false

    @OptionGroup(title: "Generic options")
    var options: GenericOptions

    func run() throws {
        try exitOnFailure {
            let h = try openDevice(device, options)
            defer { h.close() }
            let all = !standardOnly && !serialOnly && !transportOnly
            let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 255, alignment: 8)
            defer { buf.deallocate() }
            let ccb = CCB(cdb: CDB.inquiry(allocationLength: 255), data: .buffer(buf), direction: .in)
            guard try CAMControlSupport.run(ccb, on: h, options) else { throw ExitCode(1) }
            guard let inq = StandardInquiry(Array(buf.prefix(ccb.transferred))) else {
                throw DeviceFailure(description: "camcontrol: \(h.name) returned \(ccb.transferred) bytes of INQUIRY data, too short to decode")
            }
            if all || standardOnly {
                print("\(h.name): " + CAMControlSupport.inquiryLine(inq))
            }
            if all || serialOnly {
                let vpd = CCB(cdb: CDB.inquiry(vpdPage: 0x80, allocationLength: 255), data: .buffer(buf), direction: .in)
                if try CAMControlSupport.run(vpd, on: h, options, quietOnError: all),
                   let serial = UnitSerialNumber(Array(buf.prefix(vpd.transferred))) {
                    print("\(h.name): Serial Number \(serial.serialNumber)")
                } else if serialOnly {
                    throw ExitCode(1)
                }
            }
            if all || transportOnly {
                let pi = h.pathInquiry
                print("\(h.name): \(pi.transport) transport" + (inq.commandQueuing ? ", Command Queueing Enabled" : ""))
            }
        }
    }
}
