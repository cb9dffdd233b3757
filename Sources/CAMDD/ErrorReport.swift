import CAM
import SCSI

/// The lines camdd prints for a failed command: CAM's cam_error_print lines
/// ("(pass0:emu0:0:0:0): READ(10). CDB: 28 00 ...", "CAM status: ...", "SCSI status: ...",
/// "SCSI sense: MEDIUM ERROR asc:11,0 (Unrecovered read error)"), and one summary line that
/// names the LBA.
enum ErrorReport {
    /// What went wrong with `ccb`, one line each, and a summary naming the command's LBA
    /// and, when the sense has one, the LBA the device reports.
    static func lines(for ccb: CCB, on handle: PassHandle, verbose: Bool) -> (detail: [String], summary: String) {
        var out = ccb.errorReport(device: handle.periphName)
        var what = "\(ccb.status)"
        if ccb.status == .scsiStatusError { what = ccb.scsiStatus.name }
        var reportedLBA: UInt64?
        if let sense = ccb.senseData {
            what = sense.senseKey?.name ?? "UNKNOWN SENSE"
            if let code = sense.additionalSenseCode { what += ", " + code.description }
            reportedLBA = sense.information
            if verbose {
                out.append("(\(handle.periphName)): Sense bytes: " + sense.bytes.map(hex2).joined(separator: " "))
            }
        }
        var summary = ccb.cdb.commandName
        if let rw = ccb.cdb.readWriteFields {
            summary += " at LBA \(rw.lba) (\(rw.blocks) block\(rw.blocks == 1 ? "" : "s"))"
        }
        summary += " on \(handle.name) failed: \(what)"
        if let lba = reportedLBA { summary += "; the device reports LBA \(lba)" }
        return (out, summary)
    }

    static func hex2(_ b: UInt8) -> String {
        let s = String(b, radix: 16)
        return s.count == 1 ? "0" + s : s
    }
}
