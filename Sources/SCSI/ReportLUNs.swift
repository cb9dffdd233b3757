/// An 8-byte LUN as SAM-5 4.7 structures it, with the flat number CAM uses for it.
///
/// CAM (like FreeBSD's `CAM_GET_SIMPLE_LUN`) numbers single-level LUNs in peripheral (00b)
/// and flat (01b) addressing by their plain value, so "lun 1" is 00 01 00 00 00 00 00 00
/// whichever method the device chose. Other LUNs keep all eight bytes, reordered as
/// FreeBSD's `CAM_EXTLUN_BYTE_SWIZZLE` does, so that their number is stable and distinct.
public struct LogicalUnitNumber: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The eight bytes as a big-endian integer (byte 0 in the high bits).
    public var rawValue: UInt64

    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// The LUN from its eight bytes (missing bytes read as zero).
    public init<C: Collection>(bytes: C) where C.Element == UInt8 {
        var v: UInt64 = 0
        var n = 0
        for b in bytes.prefix(8) {
            v = v << 8 | UInt64(b)
            n += 1
        }
        rawValue = n == 8 ? v : v << UInt64(8 * (8 - n))
    }

    /// The LUN that encodes `number` in the simplest way: peripheral addressing below 256,
    /// flat addressing below 16384, else the swizzled 64-bit form (the inverse of `number`).
    /// Nil for 0x4000-0x7FFF: swizzled, those are single-level flat LUNs, which `number`
    /// reads as their 14-bit value, so no LUN has them as its number.
    public init?(number: UInt64) {
        if number < 256 {
            rawValue = number << 48
        } else if number < 0x4000 {
            rawValue = (0x4000 | number) << 48
        } else if number < 0x8000 {
            return nil
        } else {
            rawValue = LogicalUnitNumber.swizzle(number)
        }
    }

    /// The eight bytes.
    public var bytes: [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: rawValue >> UInt64(56 - 8 * $0)) }
    }

    /// SAM-5 addressing methods (byte 0 bits 7-6).
    public enum AddressMethod: UInt8, Sendable {
        case peripheral = 0
        case flat = 1
        case logicalUnit = 2
        case extended = 3
    }

    public var addressMethod: AddressMethod { AddressMethod(rawValue: UInt8(rawValue >> 62))! }

    /// True when only the first level (bytes 0-1) is used.
    public var isSingleLevel: Bool { rawValue & 0x0000_FFFF_FFFF_FFFF == 0 }

    /// A well-known logical unit (extended addressing, W-LUN, byte 0 = 0xC1), such as the
    /// REPORT LUNS well-known LUN 0xC101.
    public var isWellKnown: Bool { rawValue >> 56 == 0xC1 }

    /// The number CAM uses (see the type's comment).
    public var number: UInt64 {
        let b0 = UInt8(rawValue >> 56)
        let b1 = UInt8(truncatingIfNeeded: rawValue >> 48)
        if isSingleLevel {
            switch addressMethod {
            case .peripheral where b0 & 0x3F == 0: return UInt64(b1)
            case .flat: return UInt64(b0 & 0x3F) << 8 | UInt64(b1)
            default: break
            }
        }
        return LogicalUnitNumber.swizzle(rawValue)
    }

    /// Swaps the four 16-bit levels end for end (an involution), as CAM_EXTLUN_BYTE_SWIZZLE.
    static func swizzle(_ v: UInt64) -> UInt64 {
        (v & 0xFFFF) << 48 | (v & 0xFFFF_0000) << 16 | (v >> 16) & 0xFFFF_0000 | v >> 48
    }

    public static func < (a: LogicalUnitNumber, b: LogicalUnitNumber) -> Bool { a.number < b.number }

    /// The flat number, or the eight bytes in hex for multi-level LUNs.
    public var description: String {
        isSingleLevel && (addressMethod == .peripheral || addressMethod == .flat)
            ? String(number) : "0x" + hexString(bytes, separator: "")
    }
}

/// REPORT LUNS parameter data (SPC-5 6.33.2): a 4-byte list length, 4 reserved, then 8 bytes
/// per LUN. The list is read as far as both the list length and the buffer go; a list cut
/// short by the allocation length (`isTruncated`) yields the LUNs that arrived.
public struct ReportLUNsData: Sendable, Equatable {
    /// LUN LIST LENGTH: bytes of LUN entries the device has.
    public var listLength: Int
    public var luns: [LogicalUnitNumber]

    /// Nil when the 8-byte header did not arrive.
    public init?<C: Collection>(_ data: C) where C.Element == UInt8 {
        let b = Array(data)
        guard b.count >= 8, let len = b.be32(at: 0) else { return nil }
        listLength = Int(len)
        let end = Swift.min(b.count, 8 + Int(len))
        luns = stride(from: 8, to: end - 7, by: 8).map { LogicalUnitNumber(bytes: b[$0..<($0 + 8)]) }
    }

    /// True when the device has more LUNs than arrived (retry with a larger allocation length).
    public var isTruncated: Bool { luns.count * 8 < listLength }

    /// The flat numbers, in the device's order.
    public var numbers: [UInt64] { luns.map(\.number) }

    /// REPORT LUNS data listing `luns`, as a device returns it.
    public static func encode(_ luns: [LogicalUnitNumber]) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: 8)
        b.putBigEndian(UInt64(luns.count * 8), at: 0, width: 4)
        for l in luns { b += l.bytes }
        return b
    }
}
