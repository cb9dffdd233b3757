/// A SCSI status byte (SAM-5 5.3.1), printed by name as camcontrol prints it.
public struct SCSIStatus: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let good = SCSIStatus(rawValue: 0x00)
    public static let checkCondition = SCSIStatus(rawValue: 0x02)
    public static let conditionMet = SCSIStatus(rawValue: 0x04)
    public static let busy = SCSIStatus(rawValue: 0x08)
    public static let intermediate = SCSIStatus(rawValue: 0x10)
    public static let intermediateConditionMet = SCSIStatus(rawValue: 0x14)
    public static let reservationConflict = SCSIStatus(rawValue: 0x18)
    public static let commandTerminated = SCSIStatus(rawValue: 0x22)
    public static let taskSetFull = SCSIStatus(rawValue: 0x28)
    public static let acaActive = SCSIStatus(rawValue: 0x30)
    public static let taskAborted = SCSIStatus(rawValue: 0x40)

    /// The status name in capitals, as SAM and camcontrol spell it.
    public var name: String {
        switch rawValue {
        case 0x00: return "GOOD"
        case 0x02: return "CHECK CONDITION"
        case 0x04: return "CONDITION MET"
        case 0x08: return "BUSY"
        case 0x10: return "INTERMEDIATE"
        case 0x14: return "INTERMEDIATE-CONDITION MET"
        case 0x18: return "RESERVATION CONFLICT"
        case 0x22: return "COMMAND TERMINATED"
        case 0x28: return "TASK SET FULL"
        case 0x30: return "ACA ACTIVE"
        case 0x40: return "TASK ABORTED"
        default: return "UNKNOWN STATUS 0x" + String(rawValue, radix: 16)
        }
    }

    public var description: String { name }
}

/// A sense key (SPC-5 4.4.8, table 52).
public enum SenseKey: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case noSense = 0x0
    case recoveredError = 0x1
    case notReady = 0x2
    case mediumError = 0x3
    case hardwareError = 0x4
    case illegalRequest = 0x5
    case unitAttention = 0x6
    case dataProtect = 0x7
    case blankCheck = 0x8
    case vendorSpecific = 0x9
    case copyAborted = 0xA
    case abortedCommand = 0xB
    case reserved0C = 0xC
    case volumeOverflow = 0xD
    case miscompare = 0xE
    case completed = 0xF

    /// The key's name in capitals, as SPC and camcontrol spell it.
    public var name: String {
        switch self {
        case .noSense: return "NO SENSE"
        case .recoveredError: return "RECOVERED ERROR"
        case .notReady: return "NOT READY"
        case .mediumError: return "MEDIUM ERROR"
        case .hardwareError: return "HARDWARE ERROR"
        case .illegalRequest: return "ILLEGAL REQUEST"
        case .unitAttention: return "UNIT ATTENTION"
        case .dataProtect: return "DATA PROTECT"
        case .blankCheck: return "BLANK CHECK"
        case .vendorSpecific: return "VENDOR SPECIFIC"
        case .copyAborted: return "COPY ABORTED"
        case .abortedCommand: return "ABORTED COMMAND"
        case .reserved0C: return "EQUAL"
        case .volumeOverflow: return "VOLUME OVERFLOW"
        case .miscompare: return "MISCOMPARE"
        case .completed: return "COMPLETED"
        }
    }

    public var description: String { name }
}
