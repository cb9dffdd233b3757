import SCSI

extension CCB {
    /// The lines FreeBSD's cam_error_print writes for a failed CCB, each prefixed with the
    /// device ("(pass0:emu0:0:0:0): "): the command and CDB, the CAM status, the SCSI status,
    /// the sense by name, the information field. Empty for a CCB that succeeded.
    public func errorReport(device: String) -> [String] {
        guard status != .requestComplete else { return [] }
        let p = "(\(device)): "
        var lines: [String] = []
        if function == .scsiIO {
            lines.append(p + cdb.commandName + ". CDB: " + cdb.description)
        } else {
            lines.append(p + "\(function)")
        }
        lines.append(p + "CAM status: \(status)")
        if let t = transportDetail { lines.append(p + "Transport: \(t.text)") }
        if status == .scsiStatusError {
            lines.append(p + "SCSI status: \(scsiStatus.name.capitalizedWords)")
            if senseLength > 0 {
                let sl = SenseData(sense).lines
                if let first = sl.first { lines.append(p + "SCSI sense: " + first) }
                for l in sl.dropFirst() { lines.append(p + l) }
            }
        }
        if retriesDone > 0 { lines.append(p + "Retries: \(retriesDone)") }
        return lines
    }
}

extension PassHandle {
    /// "pass0:emu0:0:0:0": how FreeBSD names a periph in error messages (periph, SIM and
    /// unit, bus, target, LUN).
    public var periphName: String {
        let pi = pathInquiry
        return "\(name):\(pi.simName)\(pi.simUnit):\(path.bus):\(path.target):\(path.lun)"
    }
}

extension String {
    /// "CHECK CONDITION" → "Check Condition", as camcontrol prints SCSI status.
    var capitalizedWords: String {
        split(separator: " ").map { w in w.prefix(1).uppercased() + w.dropFirst().lowercased() }.joined(separator: " ")
    }
}
