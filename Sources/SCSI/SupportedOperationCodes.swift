/// One command descriptor of REPORT SUPPORTED OPERATION CODES "all commands" data
/// (SPC-5 6.35.3).
public struct CommandDescriptor: Sendable, Equatable {
    public var opcode: UInt8
    /// SERVICE ACTION, meaningful when `hasServiceAction`.
    public var serviceAction: UInt16
    /// SERVACTV.
    public var hasServiceAction: Bool
    /// CDB LENGTH.
    public var cdbLength: Int
    /// The command timeouts descriptor's nominal and recommended timeouts in seconds, when
    /// RCTD was set and the device returned them.
    public var nominalTimeout: UInt32?
    public var recommendedTimeout: UInt32?

    /// The command's name, with its service action when it has one.
    public var name: String {
        if hasServiceAction, let n = SCSIOpcode.serviceActionName(opcode: opcode, serviceAction: serviceAction) {
            return n
        }
        return SCSIOpcode(opcode).description
    }
}

/// REPORT SUPPORTED OPERATION CODES parameter data, reporting options 0 (all commands).
public struct SupportedOperationCodes: Sendable, Equatable {
    /// COMMAND DATA LENGTH: bytes of descriptors the device has.
    public var dataLength: Int
    public var commands: [CommandDescriptor]

    /// Nil when the 4-byte header did not arrive. A descriptor cut short ends the list.
    public init?<C: Collection>(_ data: C) where C.Element == UInt8 {
        let b = Array(data)
        guard let len = b.be32(at: 0) else { return nil }
        dataLength = Int(len)
        commands = []
        let end = Swift.min(b.count, 4 + Int(len))
        var i = 4
        while i + 8 <= end {
            let ctdp = b[i + 5] & 0x02 != 0
            var d = CommandDescriptor(
                opcode: b[i], serviceAction: b.be16(at: i + 2)!, hasServiceAction: b[i + 5] & 0x01 != 0,
                cdbLength: Int(b.be16(at: i + 6)!))
            i += 8
            if ctdp {
                // Command timeouts descriptor: length(2), reserved, command specific, nominal(4), recommended(4).
                guard i + 12 <= end else { break }
                d.nominalTimeout = b.be32(at: i + 4)
                d.recommendedTimeout = b.be32(at: i + 8)
                i += 12
            }
            commands.append(d)
        }
    }

    /// True when the device says it supports `opcode` (and `serviceAction`, when given).
    public func supports(_ opcode: UInt8, serviceAction: UInt16? = nil) -> Bool {
        commands.contains { $0.opcode == opcode && (serviceAction == nil || ($0.hasServiceAction && $0.serviceAction == serviceAction!)) }
    }
}

/// REPORT SUPPORTED OPERATION CODES parameter data for one command (reporting options 1-3;
/// SPC-5 6.35.4): whether it is supported and which CDB bits the device looks at.
public struct OneCommandSupport: Sendable, Equatable {
    /// SUPPORT: 0 not available, 1 not supported, 3 supported as SPC says, 5 vendor specific.
    public var support: UInt8
    /// CTDP: a command timeouts descriptor follows the usage data.
    public var timeoutsPresent: Bool
    /// CDB USAGE DATA: the first byte is the opcode, the rest a mask of bits the device uses.
    public var usageData: [UInt8]

    public init?<C: Collection>(_ data: C) where C.Element == UInt8 {
        let b = Array(data)
        guard let b1 = b.byte(at: 1), let size = b.be16(at: 2) else { return nil }
        support = b1 & 0x07
        timeoutsPresent = b1 & 0x80 != 0
        usageData = Array(b.clamped(4, 4 + Int(size)))
    }

    /// True for SUPPORT 3 or 5.
    public var isSupported: Bool { support == 3 || support == 5 }
}

// MARK: - Encoding, as a device returns the data

extension CommandDescriptor {
    /// A command a device reports; `serviceAction` nil for an opcode without service actions.
    /// Timeouts given add a command timeouts descriptor (the device was asked with RCTD).
    public init(opcode: UInt8, serviceAction: UInt16? = nil, cdbLength: Int,
                nominalTimeout: UInt32? = nil, recommendedTimeout: UInt32? = nil) {
        self.init(opcode: opcode, serviceAction: serviceAction ?? 0, hasServiceAction: serviceAction != nil,
                  cdbLength: cdbLength, nominalTimeout: nominalTimeout, recommendedTimeout: recommendedTimeout)
    }

    /// The 8-byte command descriptor (SPC-5 6.35.3), followed by its 12-byte command timeouts
    /// descriptor when a timeout is set.
    public var bytes: [UInt8] {
        let timeouts = nominalTimeout != nil || recommendedTimeout != nil
        var b: [UInt8] = [opcode, 0, UInt8(serviceAction >> 8), UInt8(truncatingIfNeeded: serviceAction), 0,
                          (timeouts ? 0x02 : 0) | (hasServiceAction ? 0x01 : 0), 0, 0]
        b.putBigEndian(UInt64(cdbLength), at: 6, width: 2)
        if timeouts { b += commandTimeoutsDescriptor(nominal: nominalTimeout ?? 0, recommended: recommendedTimeout ?? 0) }
        return b
    }
}

extension SupportedOperationCodes {
    /// REPORT SUPPORTED OPERATION CODES data for reporting options 0: all `commands`.
    public static func encode(_ commands: [CommandDescriptor]) -> [UInt8] {
        var b: [UInt8] = [0, 0, 0, 0]
        for c in commands { b += c.bytes }
        b.putBigEndian(UInt64(b.count - 4), at: 0, width: 4)
        return b
    }
}

extension OneCommandSupport {
    /// REPORT SUPPORTED OPERATION CODES data for one command (SPC-5 6.35.4): SUPPORT (1 not
    /// supported, 3 supported), the CDB usage data, and a command timeouts descriptor when
    /// `timeouts` is given.
    public static func encode(support: UInt8, usageData: [UInt8] = [],
                              timeouts: (nominal: UInt32, recommended: UInt32)? = nil) -> [UInt8] {
        var b: [UInt8] = [0, (timeouts != nil ? 0x80 : 0) | (support & 0x07), 0, 0]
        b.putBigEndian(UInt64(usageData.count), at: 2, width: 2)
        b += usageData
        if let t = timeouts { b += commandTimeoutsDescriptor(nominal: t.nominal, recommended: t.recommended) }
        return b
    }
}

/// The command timeouts descriptor (SPC-5 6.35.5): length 0x0A, then the nominal and the
/// recommended timeout in seconds.
private func commandTimeoutsDescriptor(nominal: UInt32, recommended: UInt32) -> [UInt8] {
    var b = [UInt8](repeating: 0, count: 12)
    b[1] = 0x0A
    b.putBigEndian(UInt64(nominal), at: 4, width: 4)
    b.putBigEndian(UInt64(recommended), at: 8, width: 4)
    return b
}
