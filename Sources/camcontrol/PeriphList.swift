import ArgumentParser
import CAM
import SCSI

/// `camcontrol periphlist`: the periphs attached to one device, as FreeBSD prints them
/// (XPT_GDEVLIST): `pass0:  generation: 2 index: 1 status: MORE`.
struct PeriphList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "periphlist",
        abstract: "List the peripheral drivers attached to a device (pass, ses, ...).",
        discussion: """
        One line per periph, as FreeBSD's camcontrol periphlist prints them:
          pass0:  generation: 1 index: 1 status: LAST
        The generation counts changes to the device's list of periphs; status is MORE until \
        the last one, then LAST.
        """
    )

    @Argument(help: "The device: passN, B:T:L, emu:disk, /dev/sgN or an iscsi:// URL.")
    var device: String

    @OptionGroup(title: "Generic options")
    var options: GenericOptions

    func run() throws {
        try exitOnFailure {
            let opener = options.opener()
            let h: PassHandle
            do { h = try opener.open(device) } catch { throw DeviceFailure(description: "camcontrol: \(error)") }
            defer { h.close() }
            guard let (names, generation) = opener.xpt.periphs(at: h.path) else {
                throw DeviceFailure(description: "camcontrol: \(h.name): the device is gone")
            }
            for line in PeriphList.lines(names: names, generation: generation) { print(line) }
        }
    }

    /// FreeBSD's `"%s%d:  generation: %d index: %d status: %s"`, one per periph.
    static func lines(names: [String], generation: Int) -> [String] {
        names.enumerated().map { i, name in
            "\(name):  generation: \(generation) index: \(i + 1) status: \(i + 1 == names.count ? "LAST" : "MORE")"
        }
    }
}

/// `camcontrol devtype`: the protocol a device speaks, in FreeBSD's words: scsi, satl
/// (an ATA device behind a SCSI/ATA translation layer), ata, nvme, mmcsd, none, unknown.
struct DevType: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devtype",
        abstract: "Print the device's type: scsi, satl, ata, nvme, mmcsd, none or unknown.",
        discussion: """
        A SCSI device that has the ATA Information VPD page (89h) is an ATA device behind a \
        SCSI/ATA translation layer (libata, a SAS HBA): satl. FreeBSD's camcontrol devtype \
        prints the same words.
        """
    )

    @Argument(help: "The device: passN, B:T:L, emu:disk, /dev/sgN or an iscsi:// URL.")
    var device: String

    @OptionGroup(title: "Generic options")
    var options: GenericOptions

    func run() throws {
        try exitOnFailure {
            let h = try openDevice(device, options)
            defer { h.close() }
            print(try DevType.name(of: h, options))
        }
    }

    static func name(of h: PassHandle, _ options: GenericOptions) throws -> String {
        switch h.pathInquiry.protocol {
        case .scsi:
            return try hasATAInformationPage(h, options) ? "satl" : "scsi"
        case .ata, .sataPM, .semb: return "ata"
        case .nvme: return "nvme"
        case .mmcsd: return "mmcsd"
        case .unspecified: return "none"
        case .unknown, .atapi: return "unknown"
        }
    }

    /// INQUIRY EVPD page 00h lists 89h (ATA Information, SAT-5).
    static func hasATAInformationPage(_ h: PassHandle, _ options: GenericOptions) throws -> Bool {
        let length = 255
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: length, alignment: 8)
        defer { buf.deallocate() }
        let ccb = CCB(cdb: .inquiry(vpdPage: VPDPage.supportedPages, allocationLength: UInt16(length)),
                      data: .buffer(buf), direction: .in)
        guard try CAMControlSupport.run(ccb, on: h, options, quietOnError: true),
              let supported = SupportedVPDPages(buf.prefix(ccb.transferred)) else { return false }
        return supported.pages.contains(VPDPage.ataInformation)
    }
}
