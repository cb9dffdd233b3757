/// The UNMAP parameter list (SBC-4 5.32.2): an 8-byte header and one 16-byte block
/// descriptor (LBA, block count) per range.
public enum UnmapParameterList {
    /// The parameter list length for `ranges` descriptors.
    public static func length(descriptors: Int) -> Int { 8 + 16 * descriptors }

    /// Writes the list for `ranges` into `buffer`; returns the bytes written, or nil when the
    /// buffer is too small or the list would not fit UNMAP's 16-bit length. Allocates nothing.
    public static func encode(
        _ ranges: some Collection<(lba: UInt64, blocks: UInt32)>, into buffer: UnsafeMutableRawBufferPointer
    ) -> Int? {
        let n = length(descriptors: ranges.count)
        guard n <= buffer.count, n <= Int(UInt16.max) else { return nil }
        func put(_ v: UInt64, _ at: Int, _ width: Int) {
            for i in 0..<width { buffer[at + i] = UInt8(truncatingIfNeeded: v >> UInt64(8 * (width - 1 - i))) }
        }
        put(UInt64(n - 2), 0, 2)
        put(UInt64(n - 8), 2, 2)
        put(0, 4, 4)
        var at = 8
        for r in ranges {
            put(r.lba, at, 8)
            put(UInt64(r.blocks), at + 8, 4)
            put(0, at + 12, 4)
            at += 16
        }
        return n
    }

    /// The list for `ranges` as bytes; nil when more than 4095 ranges.
    public static func bytes(_ ranges: [(lba: UInt64, blocks: UInt32)]) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: length(descriptors: ranges.count))
        let n = out.withUnsafeMutableBytes { encode(ranges, into: $0) }
        return n == nil ? nil : out
    }

    /// The ranges of a parameter list, as a device reads them: nil when the header is short
    /// or its lengths are inconsistent with the data (the device answers that with PARAMETER
    /// LIST LENGTH ERROR or INVALID FIELD IN PARAMETER LIST); descriptors past the data are
    /// not read.
    public static func decode<C: Collection>(_ data: C) -> [(lba: UInt64, blocks: UInt32)]? where C.Element == UInt8 {
        let b = Array(data)
        guard let dataLength = b.be16(at: 0), let descriptorLength = b.be16(at: 2) else { return nil }
        guard b.count >= 8, Int(descriptorLength) % 16 == 0, Int(dataLength) + 2 >= 8 + Int(descriptorLength) else {
            return nil
        }
        let end = Swift.min(b.count, 8 + Int(descriptorLength))
        return stride(from: 8, to: end - 15, by: 16).map { (b.be64(at: $0)!, b.be32(at: $0 + 8)!) }
    }
}
