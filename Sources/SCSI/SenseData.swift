/// Decoded sense data, fixed (0x70/0x71) or descriptor (0x72/0x73) format (SPC-5 4.4).
///
/// Decoding never traps: a truncated or garbage buffer yields whatever fields can be read,
/// and nil for the rest.
public struct SenseData: Sendable, Equatable {
    /// The raw bytes as given (never more than 252).
    public let bytes: [UInt8]

    public init<C: Collection>(_ raw: C) where C.Element == UInt8 {
        self.bytes = Array(raw.prefix(252))
    }

    public init(_ raw: UnsafeRawBufferPointer) {
        self.bytes = Array(raw.prefix(252))
    }

    /// The response code (byte 0 bits 0-6): 0x70/0x71 fixed, 0x72/0x73 descriptor.
    public var responseCode: UInt8? { bytes.first.map { $0 & 0x7F } }

    /// True for descriptor-format sense (0x72/0x73).
    public var isDescriptorFormat: Bool { responseCode == 0x72 || responseCode == 0x73 }

    /// True for deferred errors (0x71/0x73).
    public var isDeferred: Bool { responseCode == 0x71 || responseCode == 0x73 }

    /// The sense key, when the buffer is long enough to hold it and the format is known.
    public var senseKey: SenseKey? {
        switch responseCode {
        case 0x70, 0x71: return byte(2).map { SenseKey(rawValue: $0 & 0x0F)! }
        case 0x72, 0x73: return byte(1).map { SenseKey(rawValue: $0 & 0x0F)! }
        default: return nil
        }
    }

    /// The additional sense code.
    public var asc: UInt8? {
        switch responseCode {
        case 0x70, 0x71: return fixedHasByte(12) ? byte(12) : nil
        case 0x72, 0x73: return byte(2)
        default: return nil
        }
    }

    /// The additional sense code qualifier.
    public var ascq: UInt8? {
        switch responseCode {
        case 0x70, 0x71: return fixedHasByte(13) ? byte(13) : nil
        case 0x72, 0x73: return byte(3)
        default: return nil
        }
    }

    @inline(__always)
    func byte(_ i: Int) -> UInt8? { i < bytes.count ? bytes[i] : nil }

    /// Fixed format: byte 7 gives the additional length; bytes past 7 + length are not valid.
    func fixedHasByte(_ i: Int) -> Bool {
        guard i < bytes.count else { return false }
        guard let addl = byte(7) else { return false }
        return i < 8 + Int(addl)
    }
}
