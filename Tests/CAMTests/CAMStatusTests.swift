import Testing
import CAM

/// CAMStatus against sys/cam/cam.h and cam.c: every assigned status number, its FreeBSD name
/// and the text camcontrol prints, typed in from FreeBSD's header and table.
@Suite struct CAMStatusTests {
    static let freeBSD: [(UInt32, String, String)] = [
        (0x00, "CAM_REQ_INPROG", "CCB request is in progress"),
        (0x01, "CAM_REQ_CMP", "CCB request completed without error"),
        (0x02, "CAM_REQ_ABORTED", "CCB request aborted by the host"),
        (0x03, "CAM_UA_ABORT", "Unable to abort CCB request"),
        (0x04, "CAM_REQ_CMP_ERR", "CCB request completed with an error"),
        (0x05, "CAM_BUSY", "CAM subsystem is busy"),
        (0x06, "CAM_REQ_INVALID", "CCB request was invalid"),
        (0x07, "CAM_PATH_INVALID", "Supplied Path ID is invalid"),
        (0x08, "CAM_DEV_NOT_THERE", "Device Not Present"),
        (0x09, "CAM_UA_TERMIO", "Unable to terminate I/O CCB request"),
        (0x0A, "CAM_SEL_TIMEOUT", "Selection Timeout"),
        (0x0B, "CAM_CMD_TIMEOUT", "Command timeout"),
        (0x0C, "CAM_SCSI_STATUS_ERROR", "SCSI Status Error"),
        (0x0D, "CAM_MSG_REJECT_REC", "Message Reject Reveived"),
        (0x0E, "CAM_SCSI_BUS_RESET", "SCSI Bus Reset Sent/Received"),
        (0x0F, "CAM_UNCOR_PARITY", "Uncorrectable parity/CRC error"),
        (0x10, "CAM_AUTOSENSE_FAIL", "Auto-Sense Retrieval Failed"),
        (0x11, "CAM_NO_HBA", "No HBA Detected"),
        (0x12, "CAM_DATA_RUN_ERR", "Data Overrun error"),
        (0x13, "CAM_UNEXP_BUSFREE", "Unexpected Bus Free"),
        (0x14, "CAM_SEQUENCE_FAIL", "Target Bus Phase Sequence Failure"),
        (0x15, "CAM_CCB_LEN_ERR", "CCB length supplied is inadequate"),
        (0x16, "CAM_PROVIDE_FAIL", "Unable to provide requested capability"),
        (0x17, "CAM_BDR_SENT", "SCSI BDR Message Sent"),
        (0x18, "CAM_REQ_TERMIO", "CCB request terminated by the host"),
        (0x19, "CAM_UNREC_HBA_ERROR", "Unrecoverable Host Bus Adapter Error"),
        (0x1A, "CAM_REQ_TOO_BIG", "The request was too large for this host"),
        (0x1B, "CAM_REQUEUE_REQ", "Unconditionally Re-queue Request"),
        (0x1C, "CAM_ATA_STATUS_ERROR", "ATA Status Error"),
        (0x1D, "CAM_SCSI_IT_NEXUS_LOST", "Initiator/Target Nexus Lost"),
        (0x1E, "CAM_SMP_STATUS_ERROR", "SMP Status Error"),
        (0x1F, "CAM_REQ_SOFTTIMEOUT", "Completed w/o error, but took too long"),
        (0x20, "CAM_NVME_STATUS_ERROR", "NVME Status Error"),
        (0x33, "CAM_IDE", "Initiator Detected Error Message Received"),
        (0x34, "CAM_RESRC_UNAVAIL", "Resource Unavailable"),
        (0x35, "CAM_UNACKED_EVENT", "Unacknowledged Event by Host"),
        (0x36, "CAM_MESSAGE_RECV", "Message Received in Host Target Mode"),
        (0x37, "CAM_INVALID_CDB", "Invalid CDB received in Host Target Mode"),
        (0x38, "CAM_LUN_INVALID", "Invalid Lun"),
        (0x39, "CAM_TID_INVALID", "Invalid Target ID"),
        (0x3A, "CAM_FUNC_NOTAVAIL", "Function Not Available"),
        (0x3B, "CAM_NO_NEXUS", "Nexus Not Established"),
        (0x3C, "CAM_IID_INVALID", "Invalid Initiator ID"),
        (0x3D, "CAM_CDB_RECVD", "CDB Received"),
        (0x3E, "CAM_LUN_ALRDY_ENA", "LUN Already Enabled for Target Mode"),
        (0x3F, "CAM_SCSI_BUSY", "SCSI Bus Busy"),
    ]

    @Test func everyRawValueHasItsFreeBSDNameAndText() throws {
        for (raw, name, text) in Self.freeBSD {
            let status = try #require(CAMStatus(rawValue: raw), "\(name) (\(raw)) missing")
            #expect(status.freeBSDName == name, "raw \(raw)")
            #expect(status.description == text, "\(name)")
        }
    }

    @Test func noStatusBeyondFreeBSDs() {
        #expect(CAMStatus.allCases.count == Self.freeBSD.count)
        #expect(Set(CAMStatus.allCases.map(\.freeBSDName)).count == CAMStatus.allCases.count)
        for raw in UInt32(0x21)...0x32 { #expect(CAMStatus(rawValue: raw) == nil, "raw \(raw)") }
    }

    @Test func ccbStatusMasksTheFlagBits() {
        // CAM_REQ_CMP_ERR | CAM_DEV_QFRZN | CAM_AUTOSNS_VALID
        #expect(CAMStatus(ccbStatus: 0x04 | 0x40 | 0x80) == .completedWithError)
        #expect(CAMStatus(ccbStatus: 0x3B | 0x200) == .noNexus)
        #expect(CAMStatus(ccbStatus: 0x21) == nil)
    }
}
