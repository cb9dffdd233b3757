/// The protocol a device speaks (FreeBSD's `cam_proto`), as path inquiry and device info
/// report it. `camcontrol devtype` prints it in FreeBSD's words.
public enum CAMProtocol: UInt8, Sendable, CustomStringConvertible {
    /// PROTO_UNKNOWN.
    case unknown = 0
    /// PROTO_UNSPECIFIED.
    case unspecified = 1
    /// PROTO_SCSI: SCSI (including SATA disks behind a SCSI/ATA translation layer).
    case scsi = 2
    /// PROTO_ATA: ATA spoken directly.
    case ata = 3
    /// PROTO_ATAPI.
    case atapi = 4
    /// PROTO_SATAPM: a SATA port multiplier.
    case sataPM = 5
    /// PROTO_SEMB: SATA enclosure management bridge.
    case semb = 6
    /// PROTO_NVME.
    case nvme = 7
    /// PROTO_MMCSD.
    case mmcsd = 8

    public var description: String {
        switch self {
        case .unknown: return "unknown"
        case .unspecified: return "unspecified"
        case .scsi: return "scsi"
        case .ata: return "ata"
        case .atapi: return "atapi"
        case .sataPM: return "satapm"
        case .semb: return "semb"
        case .nvme: return "nvme"
        case .mmcsd: return "mmcsd"
        }
    }

    /// The function code that carries this protocol's commands (nil: none).
    public var ioFunction: CCBFunction? {
        switch self {
        case .scsi, .atapi: return .scsiIO
        case .ata, .sataPM, .semb: return .ataIO
        case .nvme: return .nvmeIO
        default: return nil
        }
    }
}

/// How an ATA command moves data (`ccb_ataio.cmd.flags` and the ATA pass-through PROTOCOL
/// field of SAT-5).
public enum ATAProtocol: UInt8, Sendable {
    /// Non-data.
    case nonData
    /// PIO data-in.
    case pioIn
    /// PIO data-out.
    case pioOut
    /// DMA.
    case dma
    /// First-party DMA (NCQ, READ/WRITE FPDMA QUEUED).
    case fpdma
}

/// The ATA command registers (ACS-4 "command input"; FreeBSD's `struct ata_cmd`). 48-bit
/// fields hold the 28-bit values in their low bits; `extended` says which form is meant.
public struct ATACommand: Sendable, Equatable {
    /// COMMAND.
    public var command: UInt8 = 0
    /// FEATURE (7:0, and 15:8 for 48-bit commands).
    public var features: UInt16 = 0
    /// COUNT (7:0, and 15:8 for 48-bit commands).
    public var count: UInt16 = 0
    /// LBA: 28 bits, or 48 for 48-bit commands.
    public var lba: UInt64 = 0
    /// DEVICE (bit 6 LBA mode; bits 3:0 LBA 27:24 for 28-bit commands).
    public var device: UInt8 = 0
    /// DEVICE CONTROL.
    public var control: UInt8 = 0
    /// How data moves.
    public var `protocol`: ATAProtocol = .nonData
    /// A 48-bit command (CAM_ATAIO_48BIT).
    public var extended = false
    /// Ask for the result registers even on success (CAM_ATAIO_NEEDRESULT).
    public var needsResult = false

    public init(command: UInt8 = 0, features: UInt16 = 0, count: UInt16 = 0, lba: UInt64 = 0,
                device: UInt8 = 0x40, control: UInt8 = 0, protocol: ATAProtocol = .nonData,
                extended: Bool = false, needsResult: Bool = false) {
        self.command = command; self.features = features; self.count = count; self.lba = lba
        self.device = device; self.control = control; self.protocol = `protocol`
        self.extended = extended; self.needsResult = needsResult
    }
}

/// The ATA result registers (ACS-4 "normal/error outputs"; FreeBSD's `struct ata_res`).
public struct ATAResult: Sendable, Equatable {
    /// STATUS (bit 0 ERR, bit 3 DRQ, bit 5 DF, bit 6 DRDY, bit 7 BSY).
    public var status: UInt8 = 0
    /// ERROR (bit 2 ABRT, bit 4 IDNF, bit 6 UNC...).
    public var error: UInt8 = 0
    /// COUNT.
    public var count: UInt16 = 0
    /// LBA (48 bits).
    public var lba: UInt64 = 0
    /// DEVICE.
    public var device: UInt8 = 0
    public init() {}
}

/// An NVMe submission queue entry as far as a host sets it (NVMe base specification 2.0,
/// figure "Common Command Format"; FreeBSD's `struct nvme_command`). The data pointer and PRP
/// or SGL fields are the SIM's: the data is the CCB's `data`.
public struct NVMeCommand: @unchecked Sendable, Equatable {
    // @unchecked: `metadata` is caller-owned memory, as with `CCBData`.
    /// CDW0 bits 7:0, the opcode.
    public var opcode: UInt8 = 0
    /// CDW0 bits 15:8: fused operation and PSDT.
    public var flags: UInt8 = 0
    /// NSID.
    public var namespace: UInt32 = 0
    /// CDW2 and CDW3 (command specific).
    public var cdw2: UInt32 = 0
    public var cdw3: UInt32 = 0
    /// CDW10 to CDW15 (command specific).
    public var cdw10: UInt32 = 0
    public var cdw11: UInt32 = 0
    public var cdw12: UInt32 = 0
    public var cdw13: UInt32 = 0
    public var cdw14: UInt32 = 0
    public var cdw15: UInt32 = 0
    /// A metadata buffer (MPTR), when the command has one; the caller keeps it valid while
    /// the CCB is queued.
    public var metadata: UnsafeMutableRawBufferPointer?

    public init(opcode: UInt8 = 0, namespace: UInt32 = 0) {
        self.opcode = opcode
        self.namespace = namespace
    }

    public static func == (a: NVMeCommand, b: NVMeCommand) -> Bool {
        a.opcode == b.opcode && a.flags == b.flags && a.namespace == b.namespace
            && a.cdw2 == b.cdw2 && a.cdw3 == b.cdw3 && a.cdw10 == b.cdw10 && a.cdw11 == b.cdw11
            && a.cdw12 == b.cdw12 && a.cdw13 == b.cdw13 && a.cdw14 == b.cdw14 && a.cdw15 == b.cdw15
            && a.metadata?.baseAddress == b.metadata?.baseAddress && a.metadata?.count == b.metadata?.count
    }
}

/// An NVMe completion queue entry (FreeBSD's `struct nvme_completion`): DW0, DW1 and the
/// status field.
public struct NVMeCompletion: Sendable, Equatable {
    /// Command specific DW0 and DW1.
    public var dw0: UInt32 = 0
    public var dw1: UInt32 = 0
    /// Status code type (SCT): 0 generic, 1 command specific, 2 media and data integrity,
    /// 3 path related, 7 vendor specific.
    public var statusCodeType: UInt8 = 0
    /// Status code (SC) within its type.
    public var statusCode: UInt8 = 0
    /// More (M) and do not retry (DNR).
    public var more = false
    public var doNotRetry = false
    public init() {}

    /// SCT 0, SC 0: successful completion.
    public var isSuccess: Bool { statusCodeType == 0 && statusCode == 0 }
}

/// The frames of an XPT_SMP_IO request (SAS serial management protocol): the request sent
/// and room for the response. The caller keeps both valid while the CCB is queued.
public struct SMPFrames: @unchecked Sendable, Equatable {
    // @unchecked: caller-owned pointers, as with `CCBData`.
    public var request: UnsafeMutableRawBufferPointer?
    public var response: UnsafeMutableRawBufferPointer?
    /// Response bytes not filled.
    public var responseResidual = 0
    public init(request: UnsafeMutableRawBufferPointer? = nil, response: UnsafeMutableRawBufferPointer? = nil) {
        self.request = request
        self.response = response
    }
    public static func == (a: SMPFrames, b: SMPFrames) -> Bool {
        a.request?.baseAddress == b.request?.baseAddress && a.request?.count == b.request?.count
            && a.response?.baseAddress == b.response?.baseAddress && a.response?.count == b.response?.count
            && a.responseResidual == b.responseResidual
    }
}
