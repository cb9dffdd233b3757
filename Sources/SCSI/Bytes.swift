// Bounds-checked big-endian reads over response bytes. Every parser in this module reads
// through these, so that a short or garbage buffer yields nil fields instead of a trap.

extension Array where Element == UInt8 {
    /// The byte at `i`, or nil past the end.
    @inline(__always)
    func byte(at i: Int) -> UInt8? {
        i >= 0 && i < count ? self[i] : nil
    }

    /// Bit `bit` of byte `i`, or nil past the end.
    @inline(__always)
    func bit(_ bit: Int, of i: Int) -> Bool? {
        byte(at: i).map { $0 & (1 << UInt8(bit)) != 0 }
    }

    /// A big-endian unsigned integer of `width` (1...8) bytes at `i`, or nil when any of
    /// its bytes is past the end.
    @inline(__always)
    func bigEndian(at i: Int, width: Int) -> UInt64? {
        guard i >= 0, width > 0, width <= 8, i + width <= count else { return nil }
        var v: UInt64 = 0
        for k in i..<(i + width) { v = v << 8 | UInt64(self[k]) }
        return v
    }

    func be16(at i: Int) -> UInt16? { bigEndian(at: i, width: 2).map { UInt16($0) } }
    func be24(at i: Int) -> UInt32? { bigEndian(at: i, width: 3).map { UInt32($0) } }
    func be32(at i: Int) -> UInt32? { bigEndian(at: i, width: 4).map { UInt32($0) } }
    func be64(at i: Int) -> UInt64? { bigEndian(at: i, width: 8) }

    /// Bytes `from` up to `to`, clamped to what exists: empty when `to` is not past `from`.
    /// Takes two ints rather than a Range because building `a..<b` traps when b < a, and the
    /// ends here come from lengths in untrusted data.
    func clamped(_ from: Int, _ to: Int) -> ArraySlice<UInt8> {
        let lo = Swift.min(Swift.max(from, 0), count)
        let hi = Swift.min(Swift.max(to, lo), count)
        return self[lo..<hi]
    }

    /// SPC's ASCII fields: printable bytes of `range` as text with trailing spaces and NULs
    /// removed (leading spaces kept only when `trimLeading` is false). Non-printable bytes
    /// become "." so that a garbage field still prints on one line.
    func asciiField(_ from: Int, _ to: Int, trimLeading: Bool = false) -> String {
        var s = clamped(from, to)
        while let last = s.last, last == 0x20 || last == 0 { s = s.dropLast() }
        if trimLeading { while let first = s.first, first == 0x20 || first == 0 { s = s.dropFirst() } }
        return String(decoding: s.map { $0 >= 0x20 && $0 < 0x7F ? $0 : 0x2E }, as: UTF8.self)
    }
}

/// Converts any byte collection or raw buffer into the array the parsers read.
@inline(__always)
func byteArray<C: Collection>(_ bytes: C) -> [UInt8] where C.Element == UInt8 {
    Array(bytes)
}

func hexString<C: Collection>(_ bytes: C, separator: String = " ") -> String where C.Element == UInt8 {
    bytes.map { b -> String in
        let s = String(b, radix: 16)
        return b < 0x10 ? "0" + s : s
    }.joined(separator: separator)
}
