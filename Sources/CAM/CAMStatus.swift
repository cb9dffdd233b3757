/// The outcome of a CCB: FreeBSD's `cam_status` (sys/cam/cam.h), with cam.h's values so a
/// status prints and compares the same here as there. Only the status number is modelled
/// (`CAM_STATUS_MASK`, 0x3F); the flag bits above it (CAM_DEV_QFRZN, CAM_AUTOSNS_VALID, ...)
/// live in the CCB. Each case's FreeBSD name is `freeBSDName`; 0x21...0x32 are unassigned.
public enum CAMStatus: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    case requestInProgress = 0x00       // CAM_REQ_INPROG
    case requestComplete = 0x01         // CAM_REQ_CMP
    case requestAborted = 0x02          // CAM_REQ_ABORTED
    case unableToAbort = 0x03           // CAM_UA_ABORT
    case completedWithError = 0x04      // CAM_REQ_CMP_ERR
    case busy = 0x05                    // CAM_BUSY
    case requestInvalid = 0x06          // CAM_REQ_INVALID
    case pathInvalid = 0x07             // CAM_PATH_INVALID
    case deviceNotThere = 0x08          // CAM_DEV_NOT_THERE
    case unableToTerminate = 0x09       // CAM_UA_TERMIO
    case selectionTimeout = 0x0A        // CAM_SEL_TIMEOUT
    case commandTimeout = 0x0B          // CAM_CMD_TIMEOUT
    case scsiStatusError = 0x0C         // CAM_SCSI_STATUS_ERROR
    case messageRejectReceived = 0x0D   // CAM_MSG_REJECT_REC
    case scsiBusReset = 0x0E            // CAM_SCSI_BUS_RESET
    case uncorrectableParity = 0x0F     // CAM_UNCOR_PARITY
    case autosenseFailed = 0x10         // CAM_AUTOSENSE_FAIL
    case noHBA = 0x11                   // CAM_NO_HBA
    case dataRunError = 0x12            // CAM_DATA_RUN_ERR
    case unexpectedBusFree = 0x13       // CAM_UNEXP_BUSFREE
    case sequenceFail = 0x14            // CAM_SEQUENCE_FAIL
    case ccbLengthError = 0x15          // CAM_CCB_LEN_ERR
    case provideFail = 0x16             // CAM_PROVIDE_FAIL
    case bdrSent = 0x17                 // CAM_BDR_SENT
    case requestTerminated = 0x18       // CAM_REQ_TERMIO
    case unrecoverableHBAError = 0x19   // CAM_UNREC_HBA_ERROR
    case requestTooBig = 0x1A           // CAM_REQ_TOO_BIG
    case requeueRequest = 0x1B          // CAM_REQUEUE_REQ
    case ataStatusError = 0x1C          // CAM_ATA_STATUS_ERROR
    case scsiITNexusLost = 0x1D         // CAM_SCSI_IT_NEXUS_LOST
    case smpStatusError = 0x1E          // CAM_SMP_STATUS_ERROR
    case requestSoftTimeout = 0x1F      // CAM_REQ_SOFTTIMEOUT
    case nvmeStatusError = 0x20         // CAM_NVME_STATUS_ERROR
    case initiatorDetectedError = 0x33  // CAM_IDE
    case resourceUnavailable = 0x34     // CAM_RESRC_UNAVAIL
    case unacknowledgedEvent = 0x35     // CAM_UNACKED_EVENT
    case messageReceived = 0x36         // CAM_MESSAGE_RECV
    case invalidCDB = 0x37              // CAM_INVALID_CDB
    case lunInvalid = 0x38              // CAM_LUN_INVALID
    case targetIDInvalid = 0x39         // CAM_TID_INVALID
    case functionNotAvailable = 0x3A    // CAM_FUNC_NOTAVAIL
    case noNexus = 0x3B                 // CAM_NO_NEXUS
    case initiatorIDInvalid = 0x3C      // CAM_IID_INVALID
    case cdbReceived = 0x3D             // CAM_CDB_RECVD
    case lunAlreadyEnabled = 0x3E       // CAM_LUN_ALRDY_ENA
    case scsiBusBusy = 0x3F             // CAM_SCSI_BUSY

    /// cam.h's `CAM_STATUS_MASK`: the bits of a `ccb_h.status` that hold the status number.
    public static let mask: UInt32 = 0x3F

    /// The status number of a raw `ccb_h.status` (flag bits masked off), or nil where cam.h
    /// assigns none (0x21...0x32).
    public init?(ccbStatus: UInt32) {
        self.init(rawValue: ccbStatus & Self.mask)
    }

    /// The constant's name in sys/cam/cam.h ("CAM_REQ_CMP").
    public var freeBSDName: String {
        switch self {
        case .requestInProgress: return "CAM_REQ_INPROG"
        case .requestComplete: return "CAM_REQ_CMP"
        case .requestAborted: return "CAM_REQ_ABORTED"
        case .unableToAbort: return "CAM_UA_ABORT"
        case .completedWithError: return "CAM_REQ_CMP_ERR"
        case .busy: return "CAM_BUSY"
        case .requestInvalid: return "CAM_REQ_INVALID"
        case .pathInvalid: return "CAM_PATH_INVALID"
        case .deviceNotThere: return "CAM_DEV_NOT_THERE"
        case .unableToTerminate: return "CAM_UA_TERMIO"
        case .selectionTimeout: return "CAM_SEL_TIMEOUT"
        case .commandTimeout: return "CAM_CMD_TIMEOUT"
        case .scsiStatusError: return "CAM_SCSI_STATUS_ERROR"
        case .messageRejectReceived: return "CAM_MSG_REJECT_REC"
        case .scsiBusReset: return "CAM_SCSI_BUS_RESET"
        case .uncorrectableParity: return "CAM_UNCOR_PARITY"
        case .autosenseFailed: return "CAM_AUTOSENSE_FAIL"
        case .noHBA: return "CAM_NO_HBA"
        case .dataRunError: return "CAM_DATA_RUN_ERR"
        case .unexpectedBusFree: return "CAM_UNEXP_BUSFREE"
        case .sequenceFail: return "CAM_SEQUENCE_FAIL"
        case .ccbLengthError: return "CAM_CCB_LEN_ERR"
        case .provideFail: return "CAM_PROVIDE_FAIL"
        case .bdrSent: return "CAM_BDR_SENT"
        case .requestTerminated: return "CAM_REQ_TERMIO"
        case .unrecoverableHBAError: return "CAM_UNREC_HBA_ERROR"
        case .requestTooBig: return "CAM_REQ_TOO_BIG"
        case .requeueRequest: return "CAM_REQUEUE_REQ"
        case .ataStatusError: return "CAM_ATA_STATUS_ERROR"
        case .scsiITNexusLost: return "CAM_SCSI_IT_NEXUS_LOST"
        case .smpStatusError: return "CAM_SMP_STATUS_ERROR"
        case .requestSoftTimeout: return "CAM_REQ_SOFTTIMEOUT"
        case .nvmeStatusError: return "CAM_NVME_STATUS_ERROR"
        case .initiatorDetectedError: return "CAM_IDE"
        case .resourceUnavailable: return "CAM_RESRC_UNAVAIL"
        case .unacknowledgedEvent: return "CAM_UNACKED_EVENT"
        case .messageReceived: return "CAM_MESSAGE_RECV"
        case .invalidCDB: return "CAM_INVALID_CDB"
        case .lunInvalid: return "CAM_LUN_INVALID"
        case .targetIDInvalid: return "CAM_TID_INVALID"
        case .functionNotAvailable: return "CAM_FUNC_NOTAVAIL"
        case .noNexus: return "CAM_NO_NEXUS"
        case .initiatorIDInvalid: return "CAM_IID_INVALID"
        case .cdbReceived: return "CAM_CDB_RECVD"
        case .lunAlreadyEnabled: return "CAM_LUN_ALRDY_ENA"
        case .scsiBusBusy: return "CAM_SCSI_BUSY"
        }
    }

    /// The text camcontrol and camdd print after "CAM status: " (sys/cam/cam.c's
    /// `cam_status_table`, word for word, its "Reveived" included, so output matches FreeBSD's).
    public var description: String {
        switch self {
        case .requestInProgress: return "CCB request is in progress"
        case .requestComplete: return "CCB request completed without error"
        case .requestAborted: return "CCB request aborted by the host"
        case .unableToAbort: return "Unable to abort CCB request"
        case .completedWithError: return "CCB request completed with an error"
        case .busy: return "CAM subsystem is busy"
        case .requestInvalid: return "CCB request was invalid"
        case .pathInvalid: return "Supplied Path ID is invalid"
        case .deviceNotThere: return "Device Not Present"
        case .unableToTerminate: return "Unable to terminate I/O CCB request"
        case .selectionTimeout: return "Selection Timeout"
        case .commandTimeout: return "Command timeout"
        case .scsiStatusError: return "SCSI Status Error"
        case .messageRejectReceived: return "Message Reject Reveived"
        case .scsiBusReset: return "SCSI Bus Reset Sent/Received"
        case .uncorrectableParity: return "Uncorrectable parity/CRC error"
        case .autosenseFailed: return "Auto-Sense Retrieval Failed"
        case .noHBA: return "No HBA Detected"
        case .dataRunError: return "Data Overrun error"
        case .unexpectedBusFree: return "Unexpected Bus Free"
        case .sequenceFail: return "Target Bus Phase Sequence Failure"
        case .ccbLengthError: return "CCB length supplied is inadequate"
        case .provideFail: return "Unable to provide requested capability"
        case .bdrSent: return "SCSI BDR Message Sent"
        case .requestTerminated: return "CCB request terminated by the host"
        case .unrecoverableHBAError: return "Unrecoverable Host Bus Adapter Error"
        case .requestTooBig: return "The request was too large for this host"
        case .requeueRequest: return "Unconditionally Re-queue Request"
        case .ataStatusError: return "ATA Status Error"
        case .scsiITNexusLost: return "Initiator/Target Nexus Lost"
        case .smpStatusError: return "SMP Status Error"
        case .requestSoftTimeout: return "Completed w/o error, but took too long"
        case .nvmeStatusError: return "NVME Status Error"
        case .initiatorDetectedError: return "Initiator Detected Error Message Received"
        case .resourceUnavailable: return "Resource Unavailable"
        case .unacknowledgedEvent: return "Unacknowledged Event by Host"
        case .messageReceived: return "Message Received in Host Target Mode"
        case .invalidCDB: return "Invalid CDB received in Host Target Mode"
        case .lunInvalid: return "Invalid Lun"
        case .targetIDInvalid: return "Invalid Target ID"
        case .functionNotAvailable: return "Function Not Available"
        case .noNexus: return "Nexus Not Established"
        case .initiatorIDInvalid: return "Invalid Initiator ID"
        case .cdbReceived: return "CDB Received"
        case .lunAlreadyEnabled: return "LUN Already Enabled for Target Mode"
        case .scsiBusBusy: return "SCSI Bus Busy"
        }
    }

    /// True when the device or transport is gone for good (no retry helps).
    public var meansDeviceGone: Bool {
        self == .deviceNotThere || self == .selectionTimeout || self == .noHBA
    }
}
