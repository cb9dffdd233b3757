import CAM

/// How an sg completion becomes a CAM status, in one place (what FreeBSD's SIMs do in their
/// done routines, for the Linux midlayer's host and driver bytes).
public enum SGStatusMapping {
    /// The CAM status for a completed sg command.
    ///
    /// - DID_OK: the SCSI status decides (GOOD is CAM_REQ_CMP, anything else
    ///   CAM_SCSI_STATUS_ERROR with the status and sense kept), unless the driver byte says
    ///   time-out (CAM_CMD_TIMEOUT) or error (CAM_REQ_CMP_ERR).
    /// - DID_NO_CONNECT: CAM_SEL_TIMEOUT, the device did not answer; CAM_DEV_NOT_THERE once
    ///   the SIM knows the device was removed. DID_BAD_TARGET: CAM_DEV_NOT_THERE.
    /// - DID_TIME_OUT: CAM_CMD_TIMEOUT. DID_ABORT, DID_RESET: CAM_REQ_ABORTED.
    /// - DID_ERROR and everything else: CAM_REQ_CMP_ERR; the raw bytes stay in the CCB's
    ///   transport detail for printing.
    /// - Once the device is being removed, any host status but DID_OK and DID_TIME_OUT is
    ///   CAM_DEV_NOT_THERE: commands caught by a removal come back as DID_NO_CONNECT or
    ///   DID_ERROR (scsi_debug does the latter), and what failed them is that the device went.
    public static func camStatus(hostStatus: UInt16, driverStatus: UInt16, scsiStatus: UInt8,
                                 deviceRemoved: Bool = false) -> CAMStatus {
        if deviceRemoved && hostStatus != SGHostStatus.ok && hostStatus != SGHostStatus.timeOut {
            return .deviceNotThere
        }
        switch hostStatus {
        case SGHostStatus.ok:
            switch driverStatus & 0x0F {
            case SGDriverStatus.timeout:
                return .commandTimeout
            case SGDriverStatus.ok, SGDriverStatus.sense:
                return scsiStatus == 0 ? .requestComplete : .scsiStatusError
            default:
                return scsiStatus == 0 ? .completedWithError : .scsiStatusError
            }
        case SGHostStatus.noConnect:
            return .selectionTimeout
        case SGHostStatus.badTarget:
            return .deviceNotThere
        case SGHostStatus.timeOut:
            return .commandTimeout
        case SGHostStatus.abort, SGHostStatus.reset:
            return .requestAborted
        default:
            return .completedWithError
        }
    }

    /// True when the host and driver bytes are worth keeping for printing.
    @inlinable
    public static func hasTransportNoise(hostStatus: UInt16, driverStatus: UInt16) -> Bool {
        hostStatus != SGHostStatus.ok
            || (driverStatus & 0x0F != SGDriverStatus.ok && driverStatus & 0x0F != SGDriverStatus.sense)
    }

    /// The raw bytes as a CCB keeps them ("sg: host DID_TIME_OUT, driver DRIVER_OK").
    public static func transportDetail(hostStatus: UInt16, driverStatus: UInt16) -> TransportDetail {
        TransportDetail(
            hostStatus: hostStatus, driverStatus: driverStatus,
            text: "sg: host \(SGHostStatus.name(hostStatus)), driver \(SGDriverStatus.name(driverStatus))")
    }

    /// The CAM status for a system call that failed while starting a command.
    static func camStatus(startError e: LinuxSGError) -> CAMStatus {
        switch e.code {
        case .deviceGone: return .deviceNotThere
        case .queueFull: return .requeueRequest
        case .invalidRequest, .permissionDenied, .notSGDevice: return .requestInvalid
        default: return .completedWithError  // .systemCall, and codes added later
        }
    }
}

extension CAMError {
    /// The CAM error for a failure of this module, keeping its message and errno.
    init(_ e: LinuxSGError) {
        let code: CAMError.Code
        switch e.code {
        case .permissionDenied: code = .simFailure
        case .deviceGone, .notSGDevice: code = .noSuchDevice
        case .queueFull, .invalidRequest: code = .invalidRequest
        default: code = .systemCall  // .systemCall, and codes added later
        }
        self.init(code, e.message, errno: e.errno)
    }
}
