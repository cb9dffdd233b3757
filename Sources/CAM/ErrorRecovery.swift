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
    ///
    /// Beyond cam_periph_error: on a sequential-access device (a tape) a command that moves the
    /// medium (READ, WRITE, WRITE FILEMARKS, SPACE, ...) is retried only when the failure shows
    /// that it did not run (busy, task set full, a unit attention, becoming ready). After a lost
    /// connection, a time-out or a reset nobody knows whether it ran, and running it again
    /// would write a block twice or skip one; the failure goes back to the caller, who knows
    /// where the tape should be. A disk's READ or WRITE goes to the same LBA again: harmless.
    static func action(for ccb: CCB) -> RecoveryAction {
        let action = statusAction(ccb)
        if action != .none && !certainlyNotRun(ccb) && movesTheMedium(ccb) { return .none }
        return action
    }

    /// Whether the failure says the device did not perform the command.
    static func certainlyNotRun(_ ccb: CCB) -> Bool {
        switch ccb.status {
        case .busy, .resourceUnavailable, .requeueRequest:
            return true
        case .scsiStatusError:
            switch ccb.scsiStatus {
            case .busy, .taskSetFull:
                return true
            case .checkCondition:
                guard ccb.senseLength > 0 else { return false }
                // SAM-5 5.14: a command that reports a unit attention is not performed; nor is
                // one refused because the unit is becoming ready.
                let key = SenseData(ccb.sense).senseKey
                return key == .unitAttention || key == .notReady
            default:
                return false
            }
        default:
            return false
        }
    }

    /// Whether running the CCB's command again may leave a sequential-access device somewhere
    /// else than running it once: anything but the commands that do not move the medium or
    /// move it to an absolute place.
    static func movesTheMedium(_ ccb: CCB) -> Bool {
        guard ccb.cdb.count > 0, let record = ccb.device,
              StandardInquiry(record.inquiry)?.peripheralDeviceType == .sequentialAccess else { return false }
        return !positionNeutralOnTape.contains(ccb.cdb.opcode)
    }

    /// SPC and SSC commands that leave a tape where it is, or send it to an absolute position
    /// (REWIND, LOCATE, LOAD UNLOAD): safe to repeat.
    static let positionNeutralOnTape: Set<UInt8> = [
        0x00, // TEST UNIT READY
        0x01, // REWIND
        0x03, // REQUEST SENSE
        0x05, // READ BLOCK LIMITS
        0x12, // INQUIRY
        0x15, // MODE SELECT (6)
        0x1A, // MODE SENSE (6)
        0x1B, // LOAD UNLOAD
        0x1C, // RECEIVE DIAGNOSTIC RESULTS
        0x1E, // PREVENT ALLOW MEDIUM REMOVAL
        0x2B, // LOCATE (10)
        0x34, // READ POSITION
        0x44, // REPORT DENSITY SUPPORT
        0x4D, // LOG SENSE
        0x55, // MODE SELECT (10)
        0x5A, // MODE SENSE (10)
        0x92, // LOCATE (16)
        0xA0, // REPORT LUNS
        0xA3, // MAINTENANCE IN (REPORT SUPPORTED OPERATION CODES, ...)
    ]

    private static func statusAction(_ ccb: CCB) -> RecoveryAction {
        switch ccb.status {
        case .requestComplete, .deviceNotThere, .selectionTimeout, .noHBA, .requestAborted,
             .requestInvalid, .pathInvalid, .requestTooBig, .functionNotAvailable, .lunInvalid, .targetIDInvalid:
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
