/// A SCSI operation code (CDB byte 0; SPC-5 4.2.5.1), named as SPC/SBC and camcontrol name
/// them. Direct-access (SBC-4) and primary (SPC-5) commands are named; others print as hex.
public struct SCSIOpcode: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public init(_ rawValue: UInt8) { self.rawValue = rawValue }

    public static let testUnitReady = SCSIOpcode(0x00)
    public static let requestSense = SCSIOpcode(0x03)
    public static let formatUnit = SCSIOpcode(0x04)
    public static let reassignBlocks = SCSIOpcode(0x07)
    public static let read6 = SCSIOpcode(0x08)
    public static let write6 = SCSIOpcode(0x0A)
    public static let inquiry = SCSIOpcode(0x12)
    public static let modeSelect6 = SCSIOpcode(0x15)
    public static let reserve6 = SCSIOpcode(0x16)
    public static let release6 = SCSIOpcode(0x17)
    public static let modeSense6 = SCSIOpcode(0x1A)
    public static let startStopUnit = SCSIOpcode(0x1B)
    public static let receiveDiagnosticResults = SCSIOpcode(0x1C)
    public static let sendDiagnostic = SCSIOpcode(0x1D)
    public static let preventAllowMediumRemoval = SCSIOpcode(0x1E)
    public static let readCapacity10 = SCSIOpcode(0x25)
    public static let read10 = SCSIOpcode(0x28)
    public static let write10 = SCSIOpcode(0x2A)
    public static let writeAndVerify10 = SCSIOpcode(0x2E)
    public static let verify10 = SCSIOpcode(0x2F)
    public static let preFetch10 = SCSIOpcode(0x34)
    public static let synchronizeCache10 = SCSIOpcode(0x35)
    public static let readDefectData10 = SCSIOpcode(0x37)
    public static let writeBuffer = SCSIOpcode(0x3B)
    public static let readBuffer = SCSIOpcode(0x3C)
    public static let writeSame10 = SCSIOpcode(0x41)
    public static let unmap = SCSIOpcode(0x42)
    public static let logSelect = SCSIOpcode(0x4C)
    public static let logSense = SCSIOpcode(0x4D)
    public static let modeSelect10 = SCSIOpcode(0x55)
    public static let reserve10 = SCSIOpcode(0x56)
    public static let release10 = SCSIOpcode(0x57)
    public static let modeSense10 = SCSIOpcode(0x5A)
    public static let persistentReserveIn = SCSIOpcode(0x5E)
    public static let persistentReserveOut = SCSIOpcode(0x5F)
    public static let variableLength = SCSIOpcode(0x7F)
    public static let extendedCopy = SCSIOpcode(0x83)
    public static let receiveCopyResults = SCSIOpcode(0x84)
    public static let ataPassThrough16 = SCSIOpcode(0x85)
    public static let read16 = SCSIOpcode(0x88)
    public static let compareAndWrite = SCSIOpcode(0x89)
    public static let write16 = SCSIOpcode(0x8A)
    public static let writeAndVerify16 = SCSIOpcode(0x8E)
    public static let verify16 = SCSIOpcode(0x8F)
    public static let preFetch16 = SCSIOpcode(0x90)
    public static let synchronizeCache16 = SCSIOpcode(0x91)
    public static let writeSame16 = SCSIOpcode(0x93)
    public static let serviceActionIn16 = SCSIOpcode(0x9E)
    public static let serviceActionOut16 = SCSIOpcode(0x9F)
    public static let reportLUNs = SCSIOpcode(0xA0)
    public static let ataPassThrough12 = SCSIOpcode(0xA1)
    public static let securityProtocolIn = SCSIOpcode(0xA2)
    public static let maintenanceIn = SCSIOpcode(0xA3)
    public static let maintenanceOut = SCSIOpcode(0xA4)
    public static let read12 = SCSIOpcode(0xA8)
    public static let write12 = SCSIOpcode(0xAA)
    public static let writeAndVerify12 = SCSIOpcode(0xAE)
    public static let verify12 = SCSIOpcode(0xAF)
    public static let securityProtocolOut = SCSIOpcode(0xB5)
    public static let readDefectData12 = SCSIOpcode(0xB7)

    /// SERVICE ACTION IN(16) service actions (SBC-4).
    public static let readCapacity16ServiceAction: UInt8 = 0x10
    public static let getLBAStatusServiceAction: UInt8 = 0x12
    /// MAINTENANCE IN service actions (SPC-5).
    public static let reportTargetPortGroupsServiceAction: UInt8 = 0x0A
    public static let reportSupportedOperationCodesServiceAction: UInt8 = 0x0C
    public static let reportSupportedTaskManagementFunctionsServiceAction: UInt8 = 0x0D

    /// The command's name ("READ(10)"), or nil when this table does not know the opcode.
    public var name: String? {
        switch rawValue {
        case 0x00: return "TEST UNIT READY"
        case 0x01: return "REZERO UNIT"
        case 0x03: return "REQUEST SENSE"
        case 0x04: return "FORMAT UNIT"
        case 0x07: return "REASSIGN BLOCKS"
        case 0x08: return "READ(6)"
        case 0x0A: return "WRITE(6)"
        case 0x0B: return "SEEK(6)"
        case 0x12: return "INQUIRY"
        case 0x15: return "MODE SELECT(6)"
        case 0x16: return "RESERVE(6)"
        case 0x17: return "RELEASE(6)"
        case 0x18: return "COPY"
        case 0x1A: return "MODE SENSE(6)"
        case 0x1B: return "START STOP UNIT"
        case 0x1C: return "RECEIVE DIAGNOSTIC RESULTS"
        case 0x1D: return "SEND DIAGNOSTIC"
        case 0x1E: return "PREVENT ALLOW MEDIUM REMOVAL"
        case 0x23: return "READ FORMAT CAPACITIES"
        case 0x25: return "READ CAPACITY(10)"
        case 0x28: return "READ(10)"
        case 0x2A: return "WRITE(10)"
        case 0x2B: return "SEEK(10)"
        case 0x2E: return "WRITE AND VERIFY(10)"
        case 0x2F: return "VERIFY(10)"
        case 0x34: return "PRE-FETCH(10)"
        case 0x35: return "SYNCHRONIZE CACHE(10)"
        case 0x36: return "LOCK UNLOCK CACHE(10)"
        case 0x37: return "READ DEFECT DATA(10)"
        case 0x3B: return "WRITE BUFFER"
        case 0x3C: return "READ BUFFER(10)"
        case 0x3E: return "READ LONG(10)"
        case 0x3F: return "WRITE LONG(10)"
        case 0x41: return "WRITE SAME(10)"
        case 0x42: return "UNMAP"
        case 0x48: return "SANITIZE"
        case 0x4C: return "LOG SELECT"
        case 0x4D: return "LOG SENSE"
        case 0x50: return "XDWRITE(10)"
        case 0x55: return "MODE SELECT(10)"
        case 0x56: return "RESERVE(10)"
        case 0x57: return "RELEASE(10)"
        case 0x5A: return "MODE SENSE(10)"
        case 0x5E: return "PERSISTENT RESERVE IN"
        case 0x5F: return "PERSISTENT RESERVE OUT"
        case 0x7E: return "EXTENDED CDB"
        case 0x7F: return "VARIABLE LENGTH CDB"
        case 0x83: return "THIRD-PARTY COPY OUT"
        case 0x84: return "THIRD-PARTY COPY IN"
        case 0x85: return "ATA PASS-THROUGH(16)"
        case 0x86: return "ACCESS CONTROL IN"
        case 0x87: return "ACCESS CONTROL OUT"
        case 0x88: return "READ(16)"
        case 0x89: return "COMPARE AND WRITE"
        case 0x8A: return "WRITE(16)"
        case 0x8C: return "READ ATTRIBUTE"
        case 0x8D: return "WRITE ATTRIBUTE"
        case 0x8E: return "WRITE AND VERIFY(16)"
        case 0x8F: return "VERIFY(16)"
        case 0x90: return "PRE-FETCH(16)"
        case 0x91: return "SYNCHRONIZE CACHE(16)"
        case 0x92: return "LOCK UNLOCK CACHE(16)"
        case 0x93: return "WRITE SAME(16)"
        case 0x94: return "ZBC OUT"
        case 0x95: return "ZBC IN"
        case 0x9A: return "WRITE STREAM(16)"
        case 0x9B: return "READ BUFFER(16)"
        case 0x9C: return "WRITE ATOMIC(16)"
        case 0x9D: return "SERVICE ACTION BIDIRECTIONAL"
        case 0x9E: return "SERVICE ACTION IN(16)"
        case 0x9F: return "SERVICE ACTION OUT(16)"
        case 0xA0: return "REPORT LUNS"
        case 0xA1: return "ATA PASS-THROUGH(12)"
        case 0xA2: return "SECURITY PROTOCOL IN"
        case 0xA3: return "MAINTENANCE IN"
        case 0xA4: return "MAINTENANCE OUT"
        case 0xA7: return "MOVE MEDIUM ATTACHED"
        case 0xA8: return "READ(12)"
        case 0xAA: return "WRITE(12)"
        case 0xAB: return "SERVICE ACTION IN(12)"
        case 0xAE: return "WRITE AND VERIFY(12)"
        case 0xAF: return "VERIFY(12)"
        case 0xB3: return "SET LIMITS(12)"
        case 0xB4: return "READ ELEMENT STATUS ATTACHED"
        case 0xB5: return "SECURITY PROTOCOL OUT"
        case 0xB7: return "READ DEFECT DATA(12)"
        case 0xBA: return "REDUNDANCY GROUP (IN)"
        case 0xBB: return "REDUNDANCY GROUP (OUT)"
        case 0xBC: return "SPARE (IN)"
        case 0xBD: return "SPARE (OUT)"
        case 0xBE: return "VOLUME SET (IN)"
        case 0xBF: return "VOLUME SET (OUT)"
        default: return nil
        }
    }

    /// The name, or "opcode 0xNN" for one this table does not know.
    public var description: String { name ?? "opcode 0x" + hexByte(rawValue) }

    /// The CDB length SPC's group code implies (byte 0 bits 7-5): 6, 10, 12 or 16; nil for
    /// the reserved and vendor-specific groups and for variable-length CDBs.
    public var cdbLength: Int? {
        switch rawValue >> 5 {
        case 0: return 6
        case 1, 2: return 10
        case 4: return 16
        case 5: return 12
        default: return nil
        }
    }

    /// The name of a command whose meaning depends on its service action
    /// (SERVICE ACTION IN(16) 0x10 is READ CAPACITY(16)), or nil when there is no such name.
    public static func serviceActionName(opcode: UInt8, serviceAction: UInt16) -> String? {
        switch (opcode, serviceAction) {
        case (0x9E, 0x10): return "READ CAPACITY(16)"
        case (0x9E, 0x11): return "READ LONG(16)"
        case (0x9E, 0x12): return "GET LBA STATUS"
        case (0x9E, 0x13): return "REPORT REFERRALS"
        case (0x9E, 0x14): return "STREAM CONTROL"
        case (0x9E, 0x15): return "BACKGROUND CONTROL"
        case (0x9E, 0x16): return "GET STREAM STATUS"
        case (0x9E, 0x17): return "GET PHYSICAL ELEMENT STATUS"
        case (0x9E, 0x18): return "REMOVE ELEMENT AND TRUNCATE"
        case (0x9F, 0x11): return "WRITE LONG(16)"
        case (0x9F, 0x1F): return "NOTIFY DATA TRANSFER DEVICE"
        case (0xA3, 0x05): return "REPORT IDENTIFYING INFORMATION"
        case (0xA3, 0x0A): return "REPORT TARGET PORT GROUPS"
        case (0xA3, 0x0B): return "REPORT ALIASES"
        case (0xA3, 0x0C): return "REPORT SUPPORTED OPERATION CODES"
        case (0xA3, 0x0D): return "REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS"
        case (0xA3, 0x0E): return "REPORT PRIORITY"
        case (0xA3, 0x0F): return "REPORT TIMESTAMP"
        case (0xA3, 0x10): return "MANAGEMENT PROTOCOL IN"
        case (0xA4, 0x06): return "SET IDENTIFYING INFORMATION"
        case (0xA4, 0x0A): return "SET TARGET PORT GROUPS"
        case (0xA4, 0x0B): return "CHANGE ALIASES"
        case (0xA4, 0x0E): return "SET PRIORITY"
        case (0xA4, 0x0F): return "SET TIMESTAMP"
        case (0x5E, 0x00): return "PERSISTENT RESERVE IN (READ KEYS)"
        case (0x5E, 0x01): return "PERSISTENT RESERVE IN (READ RESERVATION)"
        case (0x5E, 0x02): return "PERSISTENT RESERVE IN (REPORT CAPABILITIES)"
        case (0x5E, 0x03): return "PERSISTENT RESERVE IN (READ FULL STATUS)"
        case (0x83, 0x00): return "EXTENDED COPY(LID1)"
        case (0x83, 0x01): return "EXTENDED COPY"
        case (0x83, 0x10): return "POPULATE TOKEN"
        case (0x83, 0x11): return "WRITE USING TOKEN"
        case (0x84, 0x03): return "RECEIVE COPY OPERATING PARAMETERS"
        case (0x84, 0x07): return "RECEIVE ROD TOKEN INFORMATION"
        case (0x95, 0x00): return "REPORT ZONES"
        case (0x94, 0x01): return "CLOSE ZONE"
        case (0x94, 0x02): return "FINISH ZONE"
        case (0x94, 0x03): return "OPEN ZONE"
        case (0x94, 0x04): return "RESET WRITE POINTER"
        case (0x7F, 0x0009): return "READ(32)"
        case (0x7F, 0x000A): return "VERIFY(32)"
        case (0x7F, 0x000B): return "WRITE(32)"
        case (0x7F, 0x000C): return "WRITE AND VERIFY(32)"
        case (0x7F, 0x000D): return "WRITE SAME(32)"
        case (0x7F, 0x1800): return "ATA PASS-THROUGH(32)"
        default: return nil
        }
    }
}
