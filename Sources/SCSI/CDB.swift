/// A SCSI command descriptor block of up to 32 bytes, stored inline so that building one
/// and copying it into a CCB allocates nothing (CAM's `cdb_bytes`, SPC-5 4.2).
public struct CDB: Sendable, Equatable, Hashable {
    /// The largest CDB CAM carries (variable-length CDBs are 32 bytes).
    public static let capacity = 32

    // Four words hold 32 bytes; a tuple keeps the storage inline and trivially copyable.
    @usableFromInline
    internal var storage: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    @usableFromInline
    internal var _count: Int = 0

    /// The number of bytes in use.
    @inlinable
    public var count: Int { _count }

    /// An empty CDB of `count` zero bytes (`count` is clamped to 0...32).
    @inlinable
    public init(count: Int = 0) {
        self._count = Swift.min(Swift.max(count, 0), CDB.capacity)
    }

    /// A CDB holding `bytes`. Returns nil when there are more than 32 or none.
    public init?<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        guard !bytes.isEmpty, bytes.count <= CDB.capacity else { return nil }
        self.init(count: bytes.count)
        var i = 0
        for b in bytes { self[i] = b; i += 1 }
    }

    /// The operation code (byte 0).
    @inlinable
    public var opcode: UInt8 { count > 0 ? self[0] : 0 }

    @inlinable
    public subscript(index: Int) -> UInt8 {
        get {
            precondition(index >= 0 && index < CDB.capacity, "CDB index out of range")
            return Swift.withUnsafeBytes(of: storage) { $0[index] }
        }
        set {
            precondition(index >= 0 && index < CDB.capacity, "CDB index out of range")
            Swift.withUnsafeMutableBytes(of: &storage) { $0[index] = newValue }
        }
    }

    /// Sets the number of bytes in use, zeroing any bytes past the new end.
    public mutating func resize(to newCount: Int) {
        let n = Swift.min(Swift.max(newCount, 0), CDB.capacity)
        withUnsafeMutableBytes(of: &storage) { raw in
            for i in n..<CDB.capacity { raw[i] = 0 }
        }
        _count = n
    }

    /// Calls `body` with the bytes in use.
    @inlinable
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try Swift.withUnsafeBytes(of: storage) { raw in
            try body(UnsafeRawBufferPointer(rebasing: raw[0..<count]))
        }
    }

    /// The bytes in use, as an array (allocates; not for hot paths).
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    /// Writes `value` big-endian into `width` bytes starting at `offset`.
    @inlinable
    public mutating func setBigEndian(_ value: UInt64, at offset: Int, width: Int) {
        for i in 0..<width {
            self[offset + i] = UInt8(truncatingIfNeeded: value >> UInt64(8 * (width - 1 - i)))
        }
    }

    /// Reads a big-endian integer of `width` bytes starting at `offset`.
    @inlinable
    public func bigEndian(at offset: Int, width: Int) -> UInt64 {
        var v: UInt64 = 0
        for i in 0..<width { v = (v << 8) | UInt64(self[offset + i]) }
        return v
    }

    public static func == (lhs: CDB, rhs: CDB) -> Bool {
        lhs.count == rhs.count && lhs.bytes == rhs.bytes
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(count)
        withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}

extension CDB: CustomStringConvertible {
    /// Hex bytes separated by spaces, as camcontrol prints a CDB ("28 00 00 00 10 00 00 00 08 00").
    public var description: String {
        bytes.map { b in
            let s = String(b, radix: 16, uppercase: false)
            return s.count == 1 ? "0" + s : s
        }.joined(separator: " ")
    }
}
