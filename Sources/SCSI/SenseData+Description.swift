// Human-readable sense, in the lines camcontrol prints after "SCSI sense:" (FreeBSD's
// scsi_sense_only_sbuf): "MEDIUM ERROR asc:11,0 (Unrecovered read error)", then "Info: 0x1000"
// and whatever else the sense data carries.

extension SenseData: CustomStringConvertible {
    /// One line: "[Deferred error: ]KEY asc:A,Q (text)", or what can be said about sense data
    /// that is empty, short or not in a format SPC defines.
    public var summary: String {
        guard let code = responseCode else { return "No sense data present" }
        guard isRecognized else {
            var s = "Error code 0x" + String(code, radix: 16)
            if bytes.bit(7, of: 0) == true, let info = bytes.be32(at: 3) {
                s += " at block no. \(info) (decimal)"
            }
            return s
        }
        var s = isDeferred ? "Deferred error: " : ""
        s += senseKey?.name ?? "(no sense key)"
        if let code = additionalSenseCode {
            s += " " + code.shortForm + " (" + code.description + ")"
        } else {
            s += " (no ASC/ASCQ)"
        }
        return s
    }

    /// The summary followed by one line for each further field present: stream/block bits,
    /// INFORMATION, FRU, COMMAND-SPECIFIC INFORMATION, sense-key-specific data, then any
    /// descriptors not already shown.
    public var lines: [String] {
        var out = [summary]
        guard isRecognized else { return out }
        var bits: [String] = []
        if filemark { bits.append("Filemark") }
        if endOfMedium { bits.append("EOM") }
        if incorrectLength { bits.append("ILI") }
        if !bits.isEmpty { out.append(bits.joined(separator: " ")) }
        if let info = information { out.append("Info: 0x" + String(info, radix: 16)) }
        if let fru = fieldReplaceableUnit, fru != 0 { out.append("Field Replaceable Unit: \(fru)") }
        if let csi = commandSpecificInformation, csi != 0 {
            out.append("Command Specific Info: 0x" + String(csi, radix: 16))
        }
        if let sks = senseKeySpecific { out.append(sks.text) }
        if isTruncated { out.append("(sense data truncated: \(bytes.count) of \(claimedLength) bytes)") }
        for d in descriptors where ![0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x0D].contains(d.type) {
            out.append(SenseData.describe(d))
        }
        return out
    }

    /// All the lines joined by newlines.
    public var description: String { lines.joined(separator: "\n") }

    static func describe(_ d: SenseDescriptor) -> String {
        switch d.type {
        case 0x0A:
            guard let k = d.bytes.byte(at: 2), let a = d.bytes.byte(at: 3), let q = d.bytes.byte(at: 4),
                  let p = d.bytes.be16(at: 6) else { break }
            let key = SenseKey(rawValue: k & 0x0F)!
            let code = AdditionalSenseCode(asc: a, ascq: q)
            return "Progress indication: " + key.name + " " + code.shortForm + " (" + code.description + "): "
                + SenseKeySpecific.progressIndication(p).text
        case 0x0C:
            if let f = d.forwardedSense { return "Forwarded sense: " + f.summary }
        default:
            break
        }
        return "Descriptor 0x" + hexByte(d.type) + " (" + d.typeName + "): " + hexString(d.bytes.dropFirst(2))
    }
}
