import CAM
import Testing

@Suite("CAMError codes")
struct ErrorCodeTests {
    @Test("each code keeps its spelling, and a spelling gives back its code")
    func spellings() {
        let codes: [(CAMError.Code, String)] = [
            (.dataTooLong, "data-too-long"), (.xptOnlyFunction, "xpt-only-function"),
            (.badDataDescriptor, "bad-data-descriptor"), (.badCDB, "bad-cdb"), (.handleClosed, "handle-closed"),
            (.deviceGone, "device-gone"), (.noSuchDevice, "no-such-device"), (.ccbBusy, "ccb-busy"),
            (.invalidRequest, "invalid-request"), (.systemCall, "system-call"), (.simFailure, "sim-failure"),
            (.unsupported, "unsupported"),
        ]
        for (code, text) in codes {
            #expect(code.rawValue == text)
            #expect(CAMError.Code(rawValue: text) == code)
            #expect("\(code)" == text)
        }
        #expect(Set(codes.map(\.0)).count == codes.count, "no two codes alike")
    }

    @Test("a switch over codes takes a code it does not know by its default")
    func unknownCode() {
        // A code a later release may add: callers' switches already have a default for it.
        let later = CAMError(CAMError.Code(rawValue: "added-later"), "x")
        let handled: String
        switch later.code {
        case .deviceGone, .noSuchDevice: handled = "gone"
        default: handled = "other"
        }
        #expect(handled == "other")
        #expect(later.code != .unsupported)
    }
}
