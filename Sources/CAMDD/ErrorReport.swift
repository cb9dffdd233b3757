import CAM
import SCSI

/// The lines camdd prints for a failed command, in the form of CAM's cam_error_print
/// ("(pass0:emu0:0:0:0): READ(10). CDB: 28 00 ...", "CAM status: ...", "SCSI status: ...",
/// "SCSI sense: MEDIUM ERROR asc:11,0 (Unrecovered read error)"), and one summary line that
/// names the LBA.
enum ErrorReport {
    static func prefix(_ handle: PassHandle) -> String {
        let pi = handle.pathInquiry
        return "(\(handle.name):\(pi.simName)\(pi.simUnit):\(handle.path.bus):\(handle.path.target):\(handle.path.lun)): "
    }

    /// What went wrong with `ccb`, one line each, and a summary naming the command's LBA
    /// and, when the sense has one, the LBA the device reports.
    static func lines(for ccb: CCB, on handle: PassHandle, verbose: Bool) -> (detail: [String], summary: String) {
        let p = prefix(handle)
        let name = SCSINames.command(ccb.cdb)
        var out: [String] = []
        out.append("\(p)\(name). CDB: \(ccb.cdb)")
        out.append("\(p)CAM status: \(ccb.status)")
        var what = "\(ccb.status)"
        if ccb.status == .scsiStatusError {
            out.append("\(p)SCSI status: \(titleCase(ccb.scsiStatus.name))")
            what = ccb.scsiStatus.name
        }
        var reportedLBA: UInt64?
        if ccb.senseLength > 0 {
            let bytes = Array(ccb.sense)
            let sense = SenseData(bytes)
            let key = sense.senseKey?.name ?? "UNKNOWN SENSE"
            var line = "\(p)SCSI sense: \(key)"
            var summary = key
            if let asc = sense.asc {
                let ascq = sense.ascq ?? 0
                line += " asc:\(hex(asc)),\(hex(ascq))"
                if let text = SCSINames.additionalSense(asc: asc, ascq: ascq) {
                    line += " (\(text))"
                    summary += ", \(text)"
                } else {
                    summary += " (asc 0x\(hex(asc)), ascq 0x\(hex(ascq)))"
                }
            }
            out.append(line)
            reportedLBA = SCSINames.information(bytes)
            if let info = reportedLBA { out.append("\(p)Info: 0x\(String(info, radix: 16))") }
            if verbose {
                out.append("\(p)Sense bytes: " + bytes.map { b in hex2(b) }.joined(separator: " "))
            }
            what = summary
        }
        if let t = ccb.transportDetail { out.append("\(p)Transport: \(t)") }
        if ccb.retriesDone > 0 { out.append("\(p)Retries done: \(ccb.retriesDone)") }
        var summary = "\(name)"
        if let (lba, blocks) = ReadWriteCDB.lbaAndBlocks(ccb.cdb) {
            summary += " at LBA \(lba) (\(blocks) block\(blocks == 1 ? "" : "s"))"
        }
        summary += " on \(handle.name) failed: \(what)"
        if let lba = reportedLBA { summary += "; the device reports LBA \(lba)" }
        return (out, summary)
    }

    static func hex(_ b: UInt8) -> String { String(b, radix: 16, uppercase: true) }
    static func hex2(_ b: UInt8) -> String {
        let s = String(b, radix: 16)
        return s.count == 1 ? "0" + s : s
    }

    /// "CHECK CONDITION" → "Check Condition", as cam_error_print spells SCSI status.
    static func titleCase(_ s: String) -> String {
        s.split(separator: " ").map { w in w.prefix(1) + w.dropFirst().lowercased() }.joined(separator: " ")
    }
}
