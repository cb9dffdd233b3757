/// Byte counts as FreeBSD's expand_number(3) reads them, and numbers printed as camdd prints
/// them, without Foundation.
public enum ByteSize {
    /// Parses "512", "512k", "1M", "4g", "0x1000": a number and at most one suffix of
    /// b, k, m, g, t, p, e (any case), each a power of 1024 (expand_number(3)).
    /// Returns nil when the text is not such a size or overflows 64 bits.
    public static func parse(_ text: String) -> UInt64? {
        var digits = Substring(text)
        guard !digits.isEmpty else { return nil }
        var shift: UInt64 = 0
        let hex = digits.hasPrefix("0x") || digits.hasPrefix("0X")
        if !hex, let last = digits.last, last.isLetter {
            switch last {
            case "b", "B": shift = 0
            case "k", "K": shift = 10
            case "m", "M": shift = 20
            case "g", "G": shift = 30
            case "t", "T": shift = 40
            case "p", "P": shift = 50
            case "e", "E": shift = 60
            default: return nil
            }
            digits = digits.dropLast()
        }
        let value: UInt64?
        if hex {
            value = UInt64(digits.dropFirst(2), radix: 16)
        } else {
            value = UInt64(digits, radix: 10)
        }
        guard let v = value else { return nil }
        if shift == 0 { return v }
        let (r, overflow) = v.multipliedReportingOverflow(by: 1 << shift)
        return overflow ? nil : r
    }

    /// "1m", "512k", "1000": the shortest exact form with a suffix, for messages.
    public static func format(_ value: UInt64) -> String {
        let units: [(UInt64, String)] = [(1 << 40, "t"), (1 << 30, "g"), (1 << 20, "m"), (1 << 10, "k")]
        for (size, suffix) in units where value >= size && value % size == 0 {
            return "\(value / size)\(suffix)"
        }
        return "\(value)"
    }
}

/// Fixed-point decimal formatting ("%.4f") without Foundation's String(format:).
func fixed(_ value: Double, _ places: Int) -> String {
    guard value.isFinite else { return value.isNaN ? "nan" : (value < 0 ? "-inf" : "inf") }
    var scale = 1.0
    for _ in 0..<places { scale *= 10 }
    let negative = value < 0
    let scaled = (abs(value) * scale).rounded()
    guard scaled < 9.0e18 else { return "\(value)" }
    let n = UInt64(scaled)
    let whole = n / UInt64(scale)
    var frac = String(n % UInt64(scale))
    while frac.count < places { frac = "0" + frac }
    let sign = negative && n != 0 ? "-" : ""
    return places == 0 ? "\(sign)\(whole)" : "\(sign)\(whole).\(frac)"
}

/// Three significant digits, as GNU dd prints rates and sizes ("1.2", "61.7", "118").
func significant3(_ value: Double) -> String {
    if value >= 100 { return fixed(value, 0) }
    if value >= 10 { return fixed(value, 1) }
    return fixed(value, 2)
}
