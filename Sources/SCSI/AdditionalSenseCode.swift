/// An additional sense code and qualifier pair (ASC/ASCQ, SPC-5 4.4.1 and table 56), named as
/// SPC names it and described as camcontrol describes it.
///
/// Every pair has a text: assigned pairs their T10 description, the patterned ranges
/// (40/80-FF, 4D/NN, 70/NN) with the number filled in, the rest "Vendor specific ASC",
/// "Vendor specific ASCQ" or "Reserved ASC/ASCQ pair" as FreeBSD's `scsi_sense_desc` says.
public struct AdditionalSenseCode: Sendable, Hashable, CustomStringConvertible {
    /// The additional sense code (fixed format byte 12, descriptor format byte 2).
    public var asc: UInt8
    /// The additional sense code qualifier (fixed format byte 13, descriptor format byte 3).
    public var ascq: UInt8

    public init(asc: UInt8, ascq: UInt8) {
        self.asc = asc
        self.ascq = ascq
    }

    /// The pair as one number, ASC in the high byte (the form SPC's tables sort by).
    public var code: UInt16 { UInt16(asc) << 8 | UInt16(ascq) }

    /// The SPC description in SPC's capitals ("UNRECOVERED READ ERROR"), or nil when the
    /// pair is not assigned (reserved or vendor specific).
    public var name: String? {
        if let i = AdditionalSenseCode.index(of: code) {
            return String(AdditionalSenseCode.entries[i].name)
        }
        return AdditionalSenseCode.patternName(asc: asc, ascq: ascq)
    }

    /// True when SPC assigns this pair a meaning (listed or patterned).
    public var isAssigned: Bool { name != nil }

    /// True for the vendor-specific ranges: ASC 80h-FFh, or ASCQ 80h-FFh of an ASC that does
    /// not use the qualifier as a number.
    public var isVendorSpecific: Bool {
        if asc >= 0x80 { return true }
        return ascq >= 0x80 && !isAssigned
    }

    /// The text camcontrol prints in parentheses after "asc:11,0": SPC's description in
    /// sentence case with acronyms kept ("Unrecovered read error", "Invalid field in CDB").
    public var description: String {
        if let n = name { return AdditionalSenseCode.sentenceCase(n) }
        if asc >= 0x80 { return "Vendor specific ASC" }
        if ascq >= 0x80 { return "Vendor specific ASCQ" }
        return "Reserved ASC/ASCQ pair"
    }

    /// camcontrol's "asc:11,0" (hex, no leading zeros).
    public var shortForm: String {
        "asc:" + String(asc, radix: 16) + "," + String(ascq, radix: 16)
    }

    /// Every pair the table lists by value, in numeric order (the patterned ranges 40/80-FF,
    /// 4D/NN and 70/NN are not expanded).
    public static var allListed: [AdditionalSenseCode] {
        entries.map { AdditionalSenseCode(asc: UInt8($0.code >> 8), ascq: UInt8($0.code & 0xFF)) }
    }
}

// MARK: - Pairs a target and its emulator use most, by name

extension AdditionalSenseCode {
    public static let noAdditionalSenseInformation = AdditionalSenseCode(asc: 0x00, ascq: 0x00)
    public static let notReadyCauseNotReportable = AdditionalSenseCode(asc: 0x04, ascq: 0x00)
    public static let notReadyBecomingReady = AdditionalSenseCode(asc: 0x04, ascq: 0x01)
    public static let notReadyInitializingCommandRequired = AdditionalSenseCode(asc: 0x04, ascq: 0x02)
    public static let notReadyFormatInProgress = AdditionalSenseCode(asc: 0x04, ascq: 0x04)
    public static let writeError = AdditionalSenseCode(asc: 0x0C, ascq: 0x00)
    public static let unrecoveredReadError = AdditionalSenseCode(asc: 0x11, ascq: 0x00)
    public static let parameterListLengthError = AdditionalSenseCode(asc: 0x1A, ascq: 0x00)
    public static let miscompareDuringVerify = AdditionalSenseCode(asc: 0x1D, ascq: 0x00)
    public static let invalidCommandOperationCode = AdditionalSenseCode(asc: 0x20, ascq: 0x00)
    public static let logicalBlockAddressOutOfRange = AdditionalSenseCode(asc: 0x21, ascq: 0x00)
    public static let invalidFieldInCDB = AdditionalSenseCode(asc: 0x24, ascq: 0x00)
    public static let logicalUnitNotSupported = AdditionalSenseCode(asc: 0x25, ascq: 0x00)
    public static let invalidFieldInParameterList = AdditionalSenseCode(asc: 0x26, ascq: 0x00)
    public static let writeProtected = AdditionalSenseCode(asc: 0x27, ascq: 0x00)
    public static let spaceAllocationFailedWriteProtect = AdditionalSenseCode(asc: 0x27, ascq: 0x07)
    public static let notReadyToReadyChange = AdditionalSenseCode(asc: 0x28, ascq: 0x00)
    public static let powerOnResetOrBusDeviceReset = AdditionalSenseCode(asc: 0x29, ascq: 0x00)
    public static let powerOnOccurred = AdditionalSenseCode(asc: 0x29, ascq: 0x01)
    public static let busDeviceResetFunctionOccurred = AdditionalSenseCode(asc: 0x29, ascq: 0x03)
    public static let modeParametersChanged = AdditionalSenseCode(asc: 0x2A, ascq: 0x01)
    public static let capacityDataHasChanged = AdditionalSenseCode(asc: 0x2A, ascq: 0x09)
    public static let savingParametersNotSupported = AdditionalSenseCode(asc: 0x39, ascq: 0x00)
    public static let mediumNotPresent = AdditionalSenseCode(asc: 0x3A, ascq: 0x00)
    public static let reportedLUNsDataHasChanged = AdditionalSenseCode(asc: 0x3F, ascq: 0x0E)
    public static let internalTargetFailure = AdditionalSenseCode(asc: 0x44, ascq: 0x00)
    public static let overlappedCommandsAttempted = AdditionalSenseCode(asc: 0x4E, ascq: 0x00)
    public static let insufficientResources = AdditionalSenseCode(asc: 0x55, ascq: 0x03)
}

// MARK: - Table

extension AdditionalSenseCode {
    struct Entry: Sendable {
        var code: UInt16
        var name: Substring
    }

    /// The table parsed once, sorted by code (SPC's numeric order, which the text keeps).
    static let entries: [Entry] = {
        var result: [Entry] = []
        result.reserveCapacity(800)
        for line in tableText.split(separator: "\n") {
            let trimmed = line.drop { $0 == " " }
            guard trimmed.count > 5, let code = UInt16(trimmed.prefix(4), radix: 16) else { continue }
            result.append(Entry(code: code, name: trimmed.dropFirst(5)))
        }
        result.sort { $0.code < $1.code }
        return result
    }()

    static func index(of code: UInt16) -> Int? {
        var lo = 0
        var hi = entries.count
        while lo < hi {
            let mid = (lo + hi) / 2
            let c = entries[mid].code
            if c == code { return mid }
            if c < code { lo = mid + 1 } else { hi = mid }
        }
        return nil
    }

    /// The pairs whose qualifier is a number rather than a meaning.
    static func patternName(asc: UInt8, ascq: UInt8) -> String? {
        let nn = hexByte(ascq) + "h"
        switch asc {
        case 0x40 where ascq >= 0x80:
            return "DIAGNOSTIC FAILURE ON COMPONENT " + nn
        case 0x4D:
            return "TAGGED OVERLAPPED COMMANDS (TASK TAG " + nn + ")"
        case 0x70:
            return "DECOMPRESSION EXCEPTION SHORT ALGORITHM ID OF " + nn
        default:
            return nil
        }
    }

    /// Words SPC writes in capitals that stay capitals in a sentence (and a few that SPC
    /// spells in mixed case).
    static let keptWords: [String: String] = {
        var m: [String: String] = [:]
        for w in [
            "ACA", "ACL", "ACS", "ATA", "CD", "CDB", "CIRC", "CRC", "ECC", "ECRC", "ESN", "I/O",
            "I_T", "ID", "IP", "ISRC", "L-EC", "LBA", "LU", "LUN", "LUNS", "LVD", "MGMT", "NN",
            "PMA", "RDZ", "RMA/PMA", "RMZ", "ROD", "RPL", "SA", "SCSI", "ST", "TLP", "UPC/EAN",
            "WORM", "XCDB",
        ] { m[w] = w }
        m["LUNS"] = "LUNs"
        m["ISCSI"] = "iSCSI"
        m["PCIE"] = "PCIe"
        m["IUCRC"] = "iuCRC"
        m["ULTRA-DMA/32"] = "Ultra-DMA/32"
        return m
    }()

    /// "INVALID FIELD IN CDB" -> "Invalid field in CDB".
    static func sentenceCase(_ upper: String) -> String {
        var out = ""
        out.reserveCapacity(upper.utf8.count)
        var first = true
        for word in upper.split(separator: " ", omittingEmptySubsequences: false) {
            if !first { out += " " }
            // Keep punctuation around the word ("(ULTRA-DMA/32)", "ON,") out of the lookup.
            let lead = word.prefix { $0 == "(" }
            let rest = word.dropFirst(lead.count)
            let core = rest.reversed().drop { $0 == ")" || $0 == "," || $0 == "." }.reversed()
            let coreString = String(core)
            let tail = rest.dropFirst(coreString.count)
            var w: String
            if let kept = keptWords[coreString.uppercased()] {
                w = kept
            } else if let h = hexSuffixWord(coreString) {
                w = h
            } else {
                w = coreString.lowercased()
                if first, let c = w.first {
                    w = String(c).uppercased() + w.dropFirst()
                }
            }
            out += lead + w + tail
            first = false
        }
        return out
    }

    /// Numbers the pattern names fill in ("85h") keep their hex digits' case.
    private static func hexSuffixWord(_ w: String) -> String? {
        guard w.count == 3, w.hasSuffix("h"), UInt8(w.prefix(2), radix: 16) != nil else { return nil }
        return w
    }
}

@inline(__always)
func hexByte(_ b: UInt8) -> String {
    let s = String(b, radix: 16, uppercase: true)
    return b < 0x10 ? "0" + s : s
}
