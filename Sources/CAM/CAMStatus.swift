/// The outcome of a CCB (FreeBSD's `cam_status`, the values of cam.h so they print the same).
public enum CAMStatus: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    case requestInProgress = 0x00      // CAM_REQ_INPROG
    case requestComplete = 0x01        // CAM_REQ_CMP
    case requestAborted = 0x02         // CAM_REQ_ABORTED
    case unableToAbort = 0x03          // CAM_UA_ABORT
    case completedWithError = 0x04     // CAM_REQ_CMP_ERR
    case busy = 0x05                   // CAM_BUSY
    case requestInvalid = 0x06         // CAM_REQ_INVALID
    case pathInvalid = 0x07            // CAM_PATH_INVALID
    case deviceNotThere = 0x08         // CAM_DEV_NOT_THERE
    case unableToTerminate = 0x09      // CAM_UA_TERMIO
    case selectionTimeout = 0x0A       // CAM_SEL_TIMEOUT
    case commandTimeout = 0x0B         // CAM_CMD_TIMEOUT
    case scsiStatusError = 0x0C        // CAM_SCSI_STATUS_ERROR
    case messageReject = 0x0D          // CAM_MSG_REJECT_REC
    case scsiBusReset = 0x0E           // CAM_SCSI_BUS_RESET
    case uncorrectableParity = 0x0F    // CAM_UNCOR_PARITY
    case autosenseFailed = 0x10        // CAM_AUTOSENSE_FAIL
    case noHBA = 0x11                  // CAM_NO_HBA
    case dataRunError = 0x12           // CAM_DATA_RUN_ERR
    case unexpectedBusFree = 0x13      // CAM_UNEXP_BUSFREE
    case sequenceFail = 0x14           // CAM_SEQUENCE_FAIL
    case ccbLengthError = 0x15         // CAM_CCB_LEN_ERR
    case provideFail = 0x16            // CAM_PROVIDE_FAIL
    case bdrSent = 0x17                // CAM_BDR_SENT
    case requestTerminated = 0x18      // CAM_REQ_TERMIO
    case unrecoverableHBAError = 0x19  // CAM_UNREC_HBA_ERROR
    case requestTooBig = 0x1A          // CAM_REQ_TOO_BIG
    case requeueRequest = 0x1B         // CAM_REQUEUE_REQ
    case ataStatusError = 0x1C         // CAM_ATA_STATUS_ERROR
    case scsiITNexusLost = 0x1D        // CAM_SCSI_IT_NEXUS_LOST
    case smpStatusError = 0x1E         // CAM_SMP_STATUS_ERROR
    case requestInProgressOrAborted = 0x1F // CAM_REQ_SOFTTIMEOUT
    case noNexus = 0x31                // CAM_NO_NEXUS
    case luInvalid = 0x38              // CAM_LUN_INVALID
    case tidInvalid = 0x39             // CAM_TID_INVALID
    case functionNotAvailable = 0x3A   // CAM_FUNC_NOTAVAIL
    case noNexusForLUN = 0x3B          // CAM_NO_NEXUS... (kept for completeness)
    case iidInvalid = 0x3C             // CAM_IID_INVALID
    case resourceUnavailable = 0x34    // CAM_RESRC_UNAVAIL
    case lunAlreadyEnabled = 0x3E      // CAM_LUN_ALRDY_ENA

    /// The text camcontrol and camdd print (cam_status_string).
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
        case .deviceNotThere: return "Device Not There"
        case .unableToTerminate: return "Unable to terminate I/O CCB request"
        case .selectionTimeout: return "Selection Timeout"
        case .commandTimeout: return "Command timeout"
        case .scsiStatusError: return "SCSI Status Error"
        case .messageReject: return "Message Reject Received"
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
        case .scsiITNexusLost: return "Initiator/Target Nexus lost"
        case .smpStatusError: return "SMP Status Error"
        case .requestInProgressOrAborted: return "Command timeout (soft)"
        case .noNexus: return "No nexus"
        case .luInvalid: return "Invalid Lun"
        case .tidInvalid: return "Invalid Target ID"
        case .functionNotAvailable: return "Function Not Available"
        case .noNexusForLUN: return "No nexus for LUN"
        case .iidInvalid: return "Invalid Initiator ID"
        case .resourceUnavailable: return "Resource Unavailable"
        case .lunAlreadyEnabled: return "LUN Already Enabled for Target Mode"
        }
    }

    /// True when the device or transport is gone for good (no retry helps).
    public var meansDeviceGone: Bool {
        self == .deviceNotThere || self == .selectionTimeout || self == .noHBA
    }
}
