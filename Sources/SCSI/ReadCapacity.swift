/// READ CAPACITY(10) parameter data (SBC-4 5.20.2): 8 bytes.
public struct ReadCapacity10: Sendable, Equatable {
    /// RETURNED LOGICAL BLOCK ADDRESS: the last LBA; 0xFFFFFFFF means "too big, use READ
    /// CAPACITY(16)".
    public var lastLBA: UInt32
    /// LOGICAL BLOCK LENGTH IN BYTES.
    public var blockLength: UInt32

    /// Nil when fewer than 8 bytes arrived.
    public init?<C: Collection>(_ data: C) where C.Element == UInt8 {
        let b = Array(data)
        guard let lba = b.be32(at: 0), let len = b.be32(at: 4) else { return nil }
        lastLBA = lba
        blockLength = len
    }

    public init(lastLBA: UInt32, blockLength: UInt32) {
        self.lastLBA = lastLBA
        self.blockLength = blockLength
    }

    /// True when the capacity does not fit and READ CAPACITY(16) must be asked.
    public var needsReadCapacity16: Bool { lastLBA == UInt32.max }

    /// The number of blocks (last LBA + 1).
    public var blockCount: UInt64 { UInt64(lastLBA) + 1 }

    /// The capacity in bytes.
    public var byteCount: UInt64 { blockCount * UInt64(blockLength) }

    /// The 8 bytes a device returns.
    public var bytes: [UInt8] {
        var b = [UInt8](repeating: 0, count: 8)
        b.putBigEndian(UInt64(lastLBA), at: 0, width: 4)
        b.putBigEndian(UInt64(blockLength), at: 4, width: 4)
        return b
    }
}

/// READ CAPACITY(16) parameter data (SBC-4 5.21.2): 32 bytes. At least the first 12 must
/// arrive; the later fields read as zero when a device sent fewer.
public struct ReadCapacity16: Sendable, Equatable {
    /// RETURNED LOGICAL BLOCK ADDRESS: the last LBA.
    public var lastLBA: UInt64
    /// LOGICAL BLOCK LENGTH IN BYTES.
    public var blockLength: UInt32
    /// P_TYPE: protection type minus one, meaningful when `protectionEnabled`.
    public var protectionType: UInt8
    /// PROT_EN.
    public var protectionEnabled: Bool
    /// P_I_EXPONENT: protection information intervals per logical block, as a power of two.
    public var protectionIntervalExponent: UInt8
    /// LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT (LBPPBE): 3 for 512e disks with 4K sectors.
    public var logicalBlocksPerPhysicalBlockExponent: UInt8
    /// LBPME: logical block provisioning management (thin provisioning) enabled.
    public var provisioningManagementEnabled: Bool
    /// LBPRZ: unmapped blocks read as zeroes.
    public var provisioningReadZeros: Bool
    /// LOWEST ALIGNED LOGICAL BLOCK ADDRESS.
    public var lowestAlignedLBA: UInt16
    /// The number of bytes the device sent.
    public var length: Int

    /// Nil when fewer than 12 bytes arrived.
    public init?<C: Collection>(_ data: C) where C.Element == UInt8 {
        let b = Array(data)
        guard let lba = b.be64(at: 0), let len = b.be32(at: 8) else { return nil }
        lastLBA = lba
        blockLength = len
        let b12 = b.byte(at: 12) ?? 0
        let b13 = b.byte(at: 13) ?? 0
        let b14 = b.byte(at: 14) ?? 0
        protectionType = (b12 >> 1) & 0x07
        protectionEnabled = b12 & 0x01 != 0
        protectionIntervalExponent = b13 >> 4
        logicalBlocksPerPhysicalBlockExponent = b13 & 0x0F
        provisioningManagementEnabled = b14 & 0x80 != 0
        provisioningReadZeros = b14 & 0x40 != 0
        lowestAlignedLBA = UInt16(b14 & 0x3F) << 8 | UInt16(b.byte(at: 15) ?? 0)
        length = b.count
    }

    public init(
        lastLBA: UInt64, blockLength: UInt32, protectionType: UInt8 = 0, protectionEnabled: Bool = false,
        protectionIntervalExponent: UInt8 = 0, logicalBlocksPerPhysicalBlockExponent: UInt8 = 0,
        provisioningManagementEnabled: Bool = false, provisioningReadZeros: Bool = false,
        lowestAlignedLBA: UInt16 = 0
    ) {
        self.lastLBA = lastLBA
        self.blockLength = blockLength
        self.protectionType = protectionType
        self.protectionEnabled = protectionEnabled
        self.protectionIntervalExponent = protectionIntervalExponent
        self.logicalBlocksPerPhysicalBlockExponent = logicalBlocksPerPhysicalBlockExponent
        self.provisioningManagementEnabled = provisioningManagementEnabled
        self.provisioningReadZeros = provisioningReadZeros
        self.lowestAlignedLBA = lowestAlignedLBA
        self.length = 32
    }

    /// The number of blocks (last LBA + 1); saturates for a garbage last LBA of 2^64-1.
    public var blockCount: UInt64 { lastLBA == UInt64.max ? UInt64.max : lastLBA + 1 }

    /// The capacity in bytes (saturating).
    public var byteCount: UInt64 {
        let (v, overflow) = blockCount.multipliedReportingOverflow(by: UInt64(blockLength))
        return overflow ? UInt64.max : v
    }

    /// The physical block size in bytes (block length << LBPPBE).
    public var physicalBlockLength: UInt64 {
        UInt64(blockLength) << UInt64(Swift.min(logicalBlocksPerPhysicalBlockExponent, 15))
    }

    /// The 32 bytes a device returns.
    public var bytes: [UInt8] {
        var b = [UInt8](repeating: 0, count: 32)
        b.putBigEndian(lastLBA, at: 0, width: 8)
        b.putBigEndian(UInt64(blockLength), at: 8, width: 4)
        b[12] = (protectionType & 0x07) << 1 | (protectionEnabled ? 1 : 0)
        b[13] = (protectionIntervalExponent & 0x0F) << 4 | (logicalBlocksPerPhysicalBlockExponent & 0x0F)
        b[14] = (provisioningManagementEnabled ? 0x80 : 0) | (provisioningReadZeros ? 0x40 : 0)
            | UInt8((lowestAlignedLBA >> 8) & 0x3F)
        b[15] = UInt8(truncatingIfNeeded: lowestAlignedLBA)
        return b
    }
}

extension Array where Element == UInt8 {
    /// Writes `value` big-endian into `width` bytes at `offset` (which must exist).
    mutating func putBigEndian(_ value: UInt64, at offset: Int, width: Int) {
        for i in 0..<width {
            self[offset + i] = UInt8(truncatingIfNeeded: value >> UInt64(8 * (width - 1 - i)))
        }
    }
}
