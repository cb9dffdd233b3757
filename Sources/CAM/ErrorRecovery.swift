import SCSI

/// What CAM does with a failed CCB that asked for recovery (CAM_PASS_ERR_RECOVER), as
/// FreeBSD's cam_periph_error does for the cases a pass user can count on.
enum RecoveryAction: Equatable {
    case none
    case retryNow
    case retryAfter(nanoseconds: UInt64)
}

enum ErrorRecovery {
    /// The action for a completed CCB; `.none` when it succeeded or no retry can help.
    static func action(for ccb: CCB) -> RecoveryAction {
        switch ccb.status {
        case .requestComplete, .deviceNotThere, .selectionTimeout, .noHBA, .requestAborted,
             .requestInvalid, .pathInvalid, .requestTooBig, .functionNotAvailable, .luInvalid, .tidInvalid:
            return .none
        case .scsiStatusError:
            return scsiStatusAction(ccb)
        case .busy, .resourceUnavailable:
            return .retryAfter(nanoseconds: 10_000_000)
        case .requeueRequest, .scsiBusReset, .bdrSent, .unexpectedBusFree, .uncorrectableParity,
             .completedWithError, .scsiITNexusLost, .sequenceFail, .commandTimeout,
             .requestTerminated, .unrecoverableHBAError, .autosenseFailed, .dataRunError:
            return .retryNow
        default:
            return .none
        }
    }

    /// Whether `status` says the device was reset or its I_T nexus lost: the device reports
    /// that once more, as a UNIT ATTENTION, to the next command that reaches it.
    static func isReset(_ status: CAMStatus) -> Bool {
        status == .scsiITNexusLost || status == .scsiBusReset || status == .bdrSent
    }

    /// Whether the CCB ended with the UNIT ATTENTION of a reset (ASC 29h: power on, reset,
    /// bus device reset, I_T nexus loss, ...).
    static func reportsReset(_ ccb: CCB) -> Bool {
        guard ccb.status == .scsiStatusError, ccb.scsiStatus == .checkCondition, ccb.senseLength > 0 else { return false }
        let sense = SenseData(ccb.sense)
        return sense.senseKey == .unitAttention && sense.asc == 0x29
    }

    private static func scsiStatusAction(_ ccb: CCB) -> RecoveryAction {
        switch ccb.scsiStatus {
        case .busy:
            return .retryAfter(nanoseconds: 10_000_000)
        case .taskSetFull:
            // Clears as soon as another command of ours completes; a short pause avoids a storm.
            return .retryAfter(nanoseconds: 500_000)
        case .checkCondition, .commandTerminated:
            guard ccb.senseLength > 0 else { return .retryNow }
            let sense = SenseData(ccb.sense)
            switch sense.senseKey {
            case .unitAttention:
                return .retryNow
            case .notReady:
                // 04/01: becoming ready; 04/07 operation in progress; 04/0A asymmetric access transition.
                if sense.asc == 0x04, let q = sense.ascq, [0x01, 0x07, 0x0A].contains(q) {
                    return .retryAfter(nanoseconds: 100_000_000)
                }
                return .none
            case .abortedCommand:
                return .retryNow
            default:
                return .none
            }
        default:
            return .none
        }
    }
}
