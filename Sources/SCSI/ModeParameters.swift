// Mode parameters (SPC-5 7.5): the data MODE SENSE returns and MODE SELECT takes. A header
// (4 bytes for the 6-byte commands, 8 for the 10-byte ones), block descriptors, then pages.

/// The mode parameter header (SPC-5 7.5.5, tables 451 and 452).
public struct ModeParameterHeader: Sendable, Equatable {
    /// MODE DATA LENGTH: bytes after this field the device has.
    public var modeDataLength: Int
    public var mediumType: UInt8
    /// DEVICE-SPECIFIC PARAMETER; for direct-access devices bit 7 is WP and bit 4 DPOFUA.
    public var deviceSpecificParameter: UInt8
    /// LONGLBA (10-byte header only): block descriptors are 16 bytes.
    public var longLBA: Bool
    /// BLOCK DESCRIPTOR LENGTH in bytes.
    public var blockDescriptorLength: Int
    /// 4 (MODE SENSE(6)) or 8 (MODE SENSE(10)).
    public var headerLength: Int

    /// Reads a 4-byte (`tenByte` false) or 8-byte header; nil when it did not all arrive.
    public init?<C: Collection>(_ data: C, tenByte: Bool) where C.Element == UInt8 {
        let b = Array(data)
        if tenByte {
            guard b.count >= 8 else { return nil }
            modeDataLength = Int(b.be16(at: 0)!)
            mediumType = b[2]
            deviceSpecificParameter = b[3]
            longLBA = b[4] & 0x01 != 0
            blockDescriptorLength = Int(b.be16(at: 6)!)
            headerLength = 8
        } else {
            guard b.count >= 4 else { return nil }
            modeDataLength = Int(b[0])
            mediumType = b[1]
            deviceSpecificParameter = b[2]
            longLBA = false
            blockDescriptorLength = Int(b[3])
            headerLength = 4
        }
    }

    public init(mediumType: UInt8 = 0, deviceSpecificParameter: UInt8 = 0, longLBA: Bool = false, tenByte: Bool) {
        modeDataLength = 0
        self.mediumType = mediumType
        self.deviceSpecificParameter = deviceSpecificParameter
        self.longLBA = longLBA
        blockDescriptorLength = 0
        headerLength = tenByte ? 8 : 4
    }

    /// WP: the medium is write protected (direct-access devices).
    public var writeProtected: Bool { deviceSpecificParameter & 0x80 != 0 }
    /// DPOFUA: the device supports DPO and FUA (direct-access devices).
    public var dpoFUASupported: Bool { deviceSpecificParameter & 0x10 != 0 }
}

/// A mode parameter block descriptor: short (8 bytes) or long LBA (16 bytes) (SBC-4 6.5.2).
public struct ModeBlockDescriptor: Sendable, Equatable {
    /// NUMBER OF LOGICAL BLOCKS (0 can mean "all"; short descriptors saturate at 0xFFFFFFFF).
    public var numberOfBlocks: UInt64
    /// LOGICAL BLOCK LENGTH.
    public var blockLength: UInt32
    /// The density code byte of a short descriptor (non-SBC devices put their density here).
    public var densityCode: UInt8

    public init(numberOfBlocks: UInt64, blockLength: UInt32, densityCode: UInt8 = 0) {
        self.numberOfBlocks = numberOfBlocks
        self.blockLength = blockLength
        self.densityCode = densityCode
    }

    /// The descriptor's bytes, long (16) or short (8).
    public func bytes(long: Bool) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: long ? 16 : 8)
        if long {
            b.putBigEndian(numberOfBlocks, at: 0, width: 8)
            b.putBigEndian(UInt64(blockLength), at: 12, width: 4)
        } else {
            b.putBigEndian(Swift.min(numberOfBlocks, UInt64(UInt32.max)), at: 0, width: 4)
            b[4] = densityCode
            b.putBigEndian(UInt64(blockLength), at: 5, width: 3)
        }
        return b
    }
}

/// One mode page (SPC-5 7.5.7): page 0 format (code and 1-byte length) or sub_page format
/// (SPF set: code, subpage and 2-byte length).
public struct ModePage: Sendable, Equatable {
    /// The whole page, header included (shorter than its length says if cut short).
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }

    /// A page from its code, subpage and parameter bytes (the ones after the page header).
    public init(code: UInt8, subpage: UInt8 = 0, parametersSaveable: Bool = false, parameters: [UInt8]) {
        var b: [UInt8]
        if subpage != 0 {
            b = [(parametersSaveable ? 0x80 : 0) | 0x40 | (code & 0x3F), subpage,
                 UInt8(truncatingIfNeeded: parameters.count >> 8), UInt8(truncatingIfNeeded: parameters.count)]
        } else {
            b = [(parametersSaveable ? 0x80 : 0) | (code & 0x3F), UInt8(truncatingIfNeeded: parameters.count)]
        }
        bytes = b + parameters
    }

    /// PAGE CODE.
    public var code: UInt8 { (bytes.byte(at: 0) ?? 0) & 0x3F }
    /// PS: parameters saveable.
    public var parametersSaveable: Bool { bytes.bit(7, of: 0) ?? false }
    /// SPF: sub_page format.
    public var isSubpageFormat: Bool { bytes.bit(6, of: 0) ?? false }
    /// SUBPAGE CODE (0 for page 0 format).
    public var subpage: UInt8 { isSubpageFormat ? bytes.byte(at: 1) ?? 0 : 0 }
    /// The page header's length: 2 or 4.
    public var headerLength: Int { isSubpageFormat ? 4 : 2 }
    /// PAGE LENGTH: parameter bytes after the header.
    public var pageLength: Int {
        isSubpageFormat ? Int(bytes.be16(at: 2) ?? 0) : Int(bytes.byte(at: 1) ?? 0)
    }
    /// The parameter bytes after the page header (as many as arrived).
    public var parameters: [UInt8] { Array(bytes.clamped(headerLength, headerLength + pageLength)) }

    /// The page's SPC/SBC name ("Caching", "Control"), or nil.
    public var name: String? { ModePage.name(code: code, subpage: subpage) }

    public static func name(code: UInt8, subpage: UInt8 = 0) -> String? {
        switch (code, subpage) {
        case (0x01, 0): return "Read-Write Error Recovery"
        case (0x02, 0): return "Disconnect-Reconnect"
        case (0x03, 0): return "Format Device"
        case (0x04, 0): return "Rigid Disk Geometry"
        case (0x07, 0): return "Verify Error Recovery"
        case (0x08, 0): return "Caching"
        case (0x0A, 0): return "Control"
        case (0x0A, 0x01): return "Control Extension"
        case (0x0A, 0x02): return "Application Tag"
        case (0x0A, 0x03): return "Command Duration Limit A"
        case (0x0A, 0x04): return "Command Duration Limit B"
        case (0x0A, 0x05): return "IO Advice Hints Grouping"
        case (0x0A, 0x06): return "Background Operation Control"
        case (0x0A, 0xF1): return "PATA Control"
        case (0x0A, 0xF2): return "PATA/SATA Control"
        case (0x0C, 0): return "Notch and Partition"
        case (0x18, _): return "Protocol Specific Logical Unit"
        case (0x19, _): return "Protocol Specific Port"
        case (0x1A, 0): return "Power Condition"
        case (0x1A, 0x01): return "Power Consumption"
        case (0x1A, 0xF1): return "ATA Power Condition"
        case (0x1C, 0): return "Informational Exceptions Control"
        case (0x1C, 0x01): return "Background Control"
        case (0x1C, 0x02): return "Logical Block Provisioning"
        default: return nil
        }
    }
}

/// A whole MODE SENSE response (or MODE SELECT parameter list): header, block descriptors
/// and pages. Parsing stops at the mode data length or the buffer's end; a page cut short
/// is kept with the bytes that arrived.
public struct ModeParameters: Sendable, Equatable {
    public var header: ModeParameterHeader
    public var blockDescriptors: [ModeBlockDescriptor]
    public var pages: [ModePage]

    /// Parses MODE SENSE(6) data (`tenByte` false) or MODE SENSE(10) data; nil when the
    /// header did not arrive. A MODE SELECT parameter list (`forModeSelect`) has MODE DATA
    /// LENGTH reserved (SPC-5 7.5.5): it is read to the end of `data` instead.
    public init?<C: Collection>(_ data: C, tenByte: Bool, forModeSelect: Bool = false) where C.Element == UInt8 {
        let b = Array(data)
        guard let h = ModeParameterHeader(b, tenByte: tenByte) else { return nil }
        header = h
        // MODE DATA LENGTH excludes itself (1 or 2 bytes).
        let end = forModeSelect ? b.count : Swift.min(b.count, h.modeDataLength + (tenByte ? 2 : 1))
        let descriptorEnd = Swift.min(end, h.headerLength + h.blockDescriptorLength)
        let size = h.longLBA ? 16 : 8
        blockDescriptors = []
        var i = h.headerLength
        while i + size <= descriptorEnd {
            if h.longLBA {
                blockDescriptors.append(ModeBlockDescriptor(
                    numberOfBlocks: b.be64(at: i)!, blockLength: b.be32(at: i + 12)!))
            } else {
                blockDescriptors.append(ModeBlockDescriptor(
                    numberOfBlocks: UInt64(b.be32(at: i)!), blockLength: b.be24(at: i + 5)!, densityCode: b[i + 4]))
            }
            i += size
        }
        pages = []
        i = h.headerLength + h.blockDescriptorLength
        while i + 2 <= end {
            let spf = b[i] & 0x40 != 0
            let hl = spf ? 4 : 2
            guard i + hl <= end else { break }
            let length = spf ? Int(b.be16(at: i + 2)!) : Int(b[i + 1])
            pages.append(ModePage(bytes: Array(b[i..<Swift.min(end, i + hl + length)])))
            i += hl + length
        }
    }

    public init(header: ModeParameterHeader, blockDescriptors: [ModeBlockDescriptor] = [], pages: [ModePage] = []) {
        self.header = header
        self.blockDescriptors = blockDescriptors
        self.pages = pages
    }

    /// The page with `code` and `subpage`, if present.
    public func page(_ code: UInt8, subpage: UInt8 = 0) -> ModePage? {
        pages.first { $0.code == code && $0.subpage == subpage }
    }

    /// The caching page (0x08), if present.
    public var cachingPage: CachingModePage? { page(0x08).flatMap(CachingModePage.init) }

    /// The control page (0x0A), if present.
    public var controlPage: ControlModePage? { page(0x0A).flatMap(ControlModePage.init) }

    /// The data as a device returns it (or MODE SELECT sends it), lengths filled in. MODE
    /// SELECT requires MODE DATA LENGTH zero: pass `forModeSelect`. Returns nil when the
    /// data does not fit the header's length field.
    public func encode(forModeSelect: Bool = false) -> [UInt8]? {
        let tenByte = header.headerLength == 8
        var body: [UInt8] = []
        for d in blockDescriptors { body += d.bytes(long: tenByte && header.longLBA) }
        let descriptorLength = body.count
        for p in pages { body += p.bytes }
        let total = header.headerLength + body.count
        var b = [UInt8](repeating: 0, count: header.headerLength)
        if tenByte {
            guard total - 2 <= 0xFFFF else { return nil }
            b.putBigEndian(forModeSelect ? 0 : UInt64(total - 2), at: 0, width: 2)
            b[2] = header.mediumType
            b[3] = header.deviceSpecificParameter
            b[4] = header.longLBA ? 1 : 0
            b.putBigEndian(UInt64(descriptorLength), at: 6, width: 2)
        } else {
            guard total - 1 <= 0xFF, descriptorLength <= 0xFF else { return nil }
            b[0] = forModeSelect ? 0 : UInt8(total - 1)
            b[1] = header.mediumType
            b[2] = header.deviceSpecificParameter
            b[3] = UInt8(descriptorLength)
        }
        return b + body
    }
}

/// The Caching mode page, 0x08 (SBC-4 6.5.5). Bits past the end of a short page read as false.
public struct CachingModePage: Sendable, Equatable {
    /// The page's parameter bytes (after the 2-byte header), padded to 18.
    public var parameters: [UInt8]

    /// Nil unless `page` is page 0x08 in page 0 format.
    public init?(_ page: ModePage) {
        guard page.code == 0x08, !page.isSubpageFormat else { return nil }
        var p = page.parameters
        if p.count < 18 { p += [UInt8](repeating: 0, count: 18 - p.count) }
        parameters = p
    }

    /// A caching page with these settings and the rest zero.
    public init(writeCacheEnabled: Bool, readCacheDisabled: Bool = false) {
        parameters = [UInt8](repeating: 0, count: 18)
        self.writeCacheEnabled = writeCacheEnabled
        self.readCacheDisabled = readCacheDisabled
    }

    private func bit(_ byte: Int, _ bit: Int) -> Bool { parameters[byte - 2] & (1 << UInt8(bit)) != 0 }
    private mutating func set(_ byte: Int, _ bit: Int, _ on: Bool) {
        if on { parameters[byte - 2] |= 1 << UInt8(bit) } else { parameters[byte - 2] &= ~(1 << UInt8(bit)) }
    }
    private func be16(_ byte: Int) -> UInt16 { UInt16(parameters[byte - 2]) << 8 | UInt16(parameters[byte - 1]) }
    private mutating func setBE16(_ byte: Int, _ v: UInt16) {
        parameters[byte - 2] = UInt8(v >> 8)
        parameters[byte - 1] = UInt8(truncatingIfNeeded: v)
    }

    /// IC: initiator control of cache segmentation.
    public var initiatorControl: Bool { bit(2, 7) }
    /// ABPF: abort pre-fetch.
    public var abortPrefetch: Bool { bit(2, 6) }
    /// CAP: caching analysis permitted.
    public var cachingAnalysisPermitted: Bool { bit(2, 5) }
    /// DISC: discontinuity.
    public var discontinuity: Bool { bit(2, 4) }
    /// SIZE: cache segment size is in bytes.
    public var size: Bool { bit(2, 3) }
    /// WCE: write cache enabled (writes complete before they reach the medium).
    public var writeCacheEnabled: Bool {
        get { bit(2, 2) }
        set { set(2, 2, newValue) }
    }
    /// MF: multiplication factor.
    public var multiplicationFactor: Bool { bit(2, 1) }
    /// RCD: read cache disabled.
    public var readCacheDisabled: Bool {
        get { bit(2, 0) }
        set { set(2, 0, newValue) }
    }
    public var demandReadRetentionPriority: UInt8 { parameters[1] >> 4 }
    public var writeRetentionPriority: UInt8 { parameters[1] & 0x0F }
    public var disablePrefetchTransferLength: UInt16 {
        get { be16(4) }
        set { setBE16(4, newValue) }
    }
    public var minimumPrefetch: UInt16 {
        get { be16(6) }
        set { setBE16(6, newValue) }
    }
    public var maximumPrefetch: UInt16 {
        get { be16(8) }
        set { setBE16(8, newValue) }
    }
    public var maximumPrefetchCeiling: UInt16 {
        get { be16(10) }
        set { setBE16(10, newValue) }
    }
    /// FSW: force sequential write.
    public var forceSequentialWrite: Bool { bit(12, 7) }
    /// LBCSS: logical block cache segment size.
    public var logicalBlockCacheSegmentSize: Bool { bit(12, 6) }
    /// DRA: disable read-ahead.
    public var disableReadAhead: Bool { bit(12, 5) }
    /// NV_DIS: non-volatile cache disabled.
    public var nonVolatileCacheDisabled: Bool { bit(12, 0) }
    public var numberOfCacheSegments: UInt8 {
        get { parameters[11] }
        set { parameters[11] = newValue }
    }
    public var cacheSegmentSize: UInt16 { be16(14) }

    /// The page with its header.
    public var page: ModePage { ModePage(code: 0x08, parameters: parameters) }
}

/// The Control mode page, 0x0A (SPC-5 7.5.10).
public struct ControlModePage: Sendable, Equatable {
    /// The page's parameter bytes (after the 2-byte header), padded to 10.
    public var parameters: [UInt8]

    /// Nil unless `page` is page 0x0A in page 0 format.
    public init?(_ page: ModePage) {
        guard page.code == 0x0A, !page.isSubpageFormat else { return nil }
        var p = page.parameters
        if p.count < 10 { p += [UInt8](repeating: 0, count: 10 - p.count) }
        parameters = p
    }

    /// A control page with these settings and the rest zero.
    public init(descriptorSense: Bool = false, queueAlgorithmModifier: UInt8 = 1) {
        parameters = [UInt8](repeating: 0, count: 10)
        self.descriptorSense = descriptorSense
        parameters[1] = (queueAlgorithmModifier & 0x0F) << 4
    }

    private func bit(_ byte: Int, _ bit: Int) -> Bool { parameters[byte - 2] & (1 << UInt8(bit)) != 0 }

    /// TST: task set type (0 one task set for all I_T nexuses, 1 one per nexus).
    public var taskSetType: UInt8 { parameters[0] >> 5 }
    /// TMF_ONLY.
    public var taskManagementFunctionsOnly: Bool { bit(2, 4) }
    /// DPICZ: disable protection information check if protect field is zero.
    public var disableProtectionCheckIfZero: Bool { bit(2, 3) }
    /// D_SENSE: return descriptor-format sense.
    public var descriptorSense: Bool {
        get { bit(2, 2) }
        set { if newValue { parameters[0] |= 0x04 } else { parameters[0] &= ~0x04 } }
    }
    /// GLTSD: global logging target save disable.
    public var globalLoggingTargetSaveDisable: Bool {
        get { bit(2, 1) }
        set { if newValue { parameters[0] |= 0x02 } else { parameters[0] &= ~0x02 } }
    }
    /// RLEC: report log exception condition.
    public var reportLogExceptionCondition: Bool { bit(2, 0) }
    /// QUEUE ALGORITHM MODIFIER: 0 restricted reordering, 1 unrestricted.
    public var queueAlgorithmModifier: UInt8 { parameters[1] >> 4 }
    /// NUAR: no unit attention on release.
    public var noUnitAttentionOnRelease: Bool { bit(3, 3) }
    /// QERR: queue error management.
    public var queueErrorManagement: UInt8 { (parameters[1] >> 1) & 0x03 }
    /// RAC: report a check.
    public var reportACheck: Bool { bit(4, 6) }
    /// UA_INTLCK_CTRL: unit attention interlocks control.
    public var unitAttentionInterlocksControl: UInt8 { (parameters[2] >> 4) & 0x03 }
    /// SWP: software write protect.
    public var softwareWriteProtect: Bool { bit(4, 3) }
    /// ATO: application tag owner.
    public var applicationTagOwner: Bool { bit(5, 7) }
    /// TAS: task aborted status.
    public var taskAbortedStatus: Bool { bit(5, 6) }
    /// AUTOLOAD MODE.
    public var autoloadMode: UInt8 { parameters[3] & 0x07 }
    /// BUSY TIMEOUT PERIOD, in 100 ms units (0xFFFF: unlimited).
    public var busyTimeoutPeriod: UInt16 {
        get { UInt16(parameters[6]) << 8 | UInt16(parameters[7]) }
        set {
            parameters[6] = UInt8(newValue >> 8)
            parameters[7] = UInt8(truncatingIfNeeded: newValue)
        }
    }
    /// EXTENDED SELF-TEST COMPLETION TIME, in seconds.
    public var extendedSelfTestCompletionTime: UInt16 { UInt16(parameters[8]) << 8 | UInt16(parameters[9]) }

    /// The page with its header.
    public var page: ModePage { ModePage(code: 0x0A, parameters: parameters) }
}
