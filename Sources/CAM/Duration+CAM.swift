/// Time in CAM's API is `Duration`; on the I/O path it is whole nanoseconds in a UInt64
/// (`CCB.timeoutNanoseconds`, `camMonotonicNanoseconds`), converted once where it comes in.
extension Duration {
    /// Whole nanoseconds, rounded up (a time-out never ends early); 0 for zero and negative
    /// durations, UInt64.max (584 years) for anything longer.
    package var nanosecondsRoundedUp: UInt64 {
        let (seconds, attoseconds) = components
        if seconds < 0 || (seconds == 0 && attoseconds <= 0) { return 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        let fraction = UInt64((attoseconds + 999_999_999) / 1_000_000_000)
        if overflow || whole > UInt64.max - fraction { return .max }
        return whole + fraction
    }

    /// For messages: "15 s", "1.5 s", "250 ms", "20 µs".
    package var camDescription: String { Duration.camDescription(nanoseconds: nanosecondsRoundedUp) }

    /// `camDescription` of a time kept in nanoseconds.
    package static func camDescription(nanoseconds ns: UInt64) -> String {
        func number(_ n: UInt64, _ unit: UInt64) -> String {
            n % unit == 0 ? "\(n / unit)" : "\(Double(n) / Double(unit))"
        }
        if ns >= 1_000_000_000 { return number(ns, 1_000_000_000) + " s" }
        if ns >= 1_000_000 { return number(ns, 1_000_000) + " ms" }
        if ns >= 1_000 { return number(ns, 1_000) + " µs" }
        return "\(ns) ns"
    }
}
