import SCSI

/// A command the emulated disk implements: opcode, service action, and the CDB usage map
/// REPORT SUPPORTED OPERATION CODES returns (SPC-5 6.35; a bit set is a bit the device looks
/// at). The usage map is as long as the CDB.
struct SupportedCommand: Sendable {
    var opcode: SCSIOpcode
    var serviceAction: UInt8?
    var usage: [UInt8]
    var cdbLength: Int { usage.count }

    init(_ opcode: SCSIOpcode, serviceAction: UInt8? = nil, _ usage: [UInt8]) {
        self.opcode = opcode
        self.serviceAction = serviceAction
        self.usage = usage
    }
}

enum CommandTable {
    /// A usage map: byte 0 the opcode, then the bits looked at, the last byte the CONTROL
    /// byte, whose only bit still defined is NACA (0x04; SPC-5 4.3.4.1).
    private static func usage(_ op: SCSIOpcode, _ middle: [UInt8]) -> [UInt8] { [op.rawValue] + middle + [0x04] }
    private static let lbaAndLength16 = [UInt8](repeating: 0xFF, count: 12) + [0x00]

    static let commands: [SupportedCommand] = [
        SupportedCommand(.testUnitReady, usage(.testUnitReady, [0x00, 0x00, 0x00, 0x00])),
        SupportedCommand(.requestSense, usage(.requestSense, [0x01, 0x00, 0x00, 0xFF])),
        SupportedCommand(.read6, usage(.read6, [0x1F, 0xFF, 0xFF, 0xFF])),
        SupportedCommand(.write6, usage(.write6, [0x1F, 0xFF, 0xFF, 0xFF])),
        SupportedCommand(.inquiry, usage(.inquiry, [0x03, 0xFF, 0xFF, 0xFF])),
        SupportedCommand(.modeSelect6, usage(.modeSelect6, [0x11, 0x00, 0x00, 0xFF])),
        SupportedCommand(.modeSense6, usage(.modeSense6, [0x08, 0xFF, 0xFF, 0xFF])),
        SupportedCommand(.startStopUnit, usage(.startStopUnit, [0x01, 0x00, 0x0F, 0xF7])),
        SupportedCommand(.readCapacity10, usage(.readCapacity10, [0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x01])),
        SupportedCommand(.read10, usage(.read10, [0xF8, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0xFF, 0xFF])),
        SupportedCommand(.write10, usage(.write10, [0xF8, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0xFF, 0xFF])),
        SupportedCommand(.verify10, usage(.verify10, [0xF6, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0xFF, 0xFF])),
        SupportedCommand(.synchronizeCache10, usage(.synchronizeCache10, [0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0xFF, 0xFF])),
        SupportedCommand(.unmap, usage(.unmap, [0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF])),
        SupportedCommand(.modeSelect10, usage(.modeSelect10, [0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF])),
        SupportedCommand(.modeSense10, usage(.modeSense10, [0x18, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0xFF, 0xFF])),
        SupportedCommand(.read16, usage(.read16, [0xF8] + lbaAndLength16)),
        SupportedCommand(.write16, usage(.write16, [0xF8] + lbaAndLength16)),
        SupportedCommand(.verify16, usage(.verify16, [0xF6] + lbaAndLength16)),
        SupportedCommand(.synchronizeCache16, usage(.synchronizeCache16, [0x02] + lbaAndLength16)),
        SupportedCommand(.writeSame16, usage(.writeSame16, [0xF9] + lbaAndLength16)),
        SupportedCommand(.serviceActionIn16, serviceAction: SCSIOpcode.readCapacity16ServiceAction,
                         usage(.serviceActionIn16, [0x1F] + [UInt8](repeating: 0x00, count: 8) + [0xFF, 0xFF, 0xFF, 0xFF, 0x00])),
        SupportedCommand(.reportLUNs, usage(.reportLUNs, [0x00, 0xFF, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00])),
        SupportedCommand(.maintenanceIn, serviceAction: SCSIOpcode.reportSupportedOperationCodesServiceAction,
                         usage(.maintenanceIn, [0x1F, 0x87, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00])),
        SupportedCommand(.read12, usage(.read12, [0xF8, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00])),
        SupportedCommand(.write12, usage(.write12, [0xF8, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00])),
    ]

    /// CDB length by opcode (as SPC's group code gives it); 0 for opcodes the disk does not
    /// implement. A flat table so the command path looks an opcode up without hashing.
    static let cdbLength: [UInt8] = {
        var t = [UInt8](repeating: 0, count: 256)
        for c in commands {
            let length = c.opcode.cdbLength ?? 0
            precondition(length == c.cdbLength, "usage map of \(c.opcode) is not \(length) bytes")
            t[Int(c.opcode.rawValue)] = UInt8(length)
        }
        return t
    }()

    /// Opcodes whose byte 1 holds a service action.
    static func hasServiceActions(_ opcode: UInt8) -> Bool { commands.contains { $0.opcode.rawValue == opcode && $0.serviceAction != nil } }

    static func find(_ opcode: UInt8, serviceAction: UInt16?) -> SupportedCommand? {
        commands.first { $0.opcode.rawValue == opcode && $0.serviceAction.map(UInt16.init) == serviceAction }
    }
}
