import SCSI

// libFuzzer target: sense data decoding (SenseData and its description). Any bytes, up to
// and past the 252 SPC allows, must decode without a trap.

/// libFuzzer's entry point (called once per input).
@_cdecl("LLVMFuzzerTestOneInput")
public func senseFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size)
    exercise(SenseData(bytes), depth: 0)
    exercise(SenseData(Array(bytes)), depth: 0)
    return 0
}

/// Reads every field and every line, and follows forwarded sense data down a few levels.
func exercise(_ sense: SenseData, depth: Int) {
    _ = (sense.responseCode, sense.isRecognized, sense.isDeferred, sense.senseKey?.name)
    _ = (sense.asc, sense.ascq, sense.additionalSenseCode?.description, sense.additionalSenseCode?.shortForm)
    _ = (sense.additionalLength, sense.claimedLength, sense.isTruncated, sense.senseDataOverflow)
    _ = (sense.information, sense.commandSpecificInformation, sense.fieldReplaceableUnit)
    _ = (sense.senseKeySpecificBytes.map { [$0.0, $0.1, $0.2] }, sense.senseKeySpecific?.text)
    if let sks = sense.senseKeySpecific { _ = sks.bytes }
    _ = (sense.filemark, sense.endOfMedium, sense.incorrectLength, sense.additionalSenseBytes, sense.progress)
    _ = (sense.summary, sense.lines, sense.description)
    for d in sense.descriptors {
        _ = (d.type, d.typeName, d.additionalLength, d.isComplete)
        if depth < 4, let f = d.forwardedSense { exercise(f, depth: depth + 1) }
    }
}
