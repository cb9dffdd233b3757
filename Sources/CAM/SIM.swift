/// One target a SIM reports when the XPT scans its bus.
package struct SIMTarget: Sendable, Equatable {
    /// The target number on the bus.
    package var target: Int
    /// The LUNs, when the SIM knows them (sg: the kernel does). nil: the XPT asks the target
    /// with REPORT LUNS and falls back to LUN 0.
    package var luns: [UInt64]?
    package init(target: Int, luns: [UInt64]? = nil) {
        self.target = target
        self.luns = luns
    }
}

/// A SCSI interface module: one way to reach devices (CAM's SIM, `struct cam_sim`), as an
/// application sees it: something to hand to `XPT.register` and to ask about its bus.
///
/// The SIMs are this package's (`EmulatorSIM`, `LinuxSGSIM`, `ISCSISIM`): what the XPT calls
/// to drive one is `CAMSIMDriver`, which is `package`, because a SIM completes CCBs through
/// `CAMBus.complete`, which is `package` too. A type outside the package cannot be a SIM.
public protocol CAMSIM: AnyObject, Sendable {
    /// XPT_PATH_INQ for this SIM's bus (the XPT fills in the bus number).
    var pathInquiry: PathInquiry { get }

    /// What a person calls the device at `path` ("/dev/sg2", a masked iSCSI URL, "emu:disk").
    func deviceName(at path: CAMPath) -> String

    /// What the last scan found but could not reach, one line each, and why (an iSCSI target
    /// that refused the login). Tools print them; the scan goes on without those.
    var scanProblems: [String] { get }
}

extension CAMSIM {
    public var scanProblems: [String] { [] }
}

/// What the XPT calls to drive a SIM (the `sim_action` side of `struct cam_sim`).
///
/// The contract: the XPT calls `start` with a CCB and never waits; the SIM completes the CCB
/// later, on any thread, through `CAMBus.complete`. A SIM owns its own I/O threads. The XPT
/// calls `start` with at most `pathInquiry.commandSlots` CCBs started per device.
package protocol CAMSIMDriver: CAMSIM {
    /// Called once by `XPT.register` before anything else: keep the bus to complete CCBs on.
    func attached(to bus: CAMBus)

    /// The targets on the bus now (XPT_SCAN_BUS). May block briefly (a discovery login).
    func discover() throws(CAMError) -> [SIMTarget]

    /// Starts an XPT_SCSI_IO or XPT_RESET_DEV CCB at `path`. Must not block on I/O.
    func start(_ ccb: CCB, at path: CAMPath)

    /// Asks the device to abort a started CCB (XPT_ABORT). Returns false when the transport
    /// cannot; when true, the CCB completes later (as aborted, or normally if it won the race).
    func abort(_ ccb: CCB, at path: CAMPath) -> Bool

    /// The bus is going away: stop threads; complete what is outstanding with device-not-there.
    func shutdown()
}

extension CAMSIMDriver {
    package func abort(_ ccb: CCB, at path: CAMPath) -> Bool { false }
    package func shutdown() {}
}

/// A SIM whose completions the application's own thread can harvest: CAM's `sim_poll`, the
/// routine FreeBSD calls to run a SIM without its interrupt. Here it takes the hand-over from a
/// SIM thread to the application thread out of the I/O path, the cost that dominates at queue
/// depth 1 on a busy or emulated CPU (a thread wake-up is tens to hundreds of microseconds).
///
/// While polling is on at a path, the SIM's own threads leave that device's completions alone
/// and `poll` is the only way they are taken; the XPT calls `startPolling` when the first
/// handle on the device asks and `stopPolling` after the last one stops or closes. (An
/// application turns polling on with `PassHandle.startPolling`.)
package protocol CAMPollingSIM: CAMSIMDriver {
    /// Polling starts at `path`. Returns the descriptors that become readable when `poll` has
    /// something to harvest (they stay valid until `stopPolling`), or nil when this device
    /// cannot be polled (then nothing changes).
    func startPolling(at path: CAMPath) -> [Int32]?

    /// Polling ends at `path`: the SIM's threads take the device's completions again,
    /// including any that finished since the last `poll`.
    func stopPolling(at path: CAMPath)

    /// Takes whatever the device at `path` has finished and completes those CCBs through
    /// `CAMBus.complete` on the calling thread. Never blocks for I/O. Returns how many CCBs
    /// it completed. May be called from several threads at once.
    @discardableResult
    func poll(at path: CAMPath) -> Int
}

/// Memory a device moves data in and out of with no copy between kernel and user memory.
/// pass(4)'s to-do 1 ("a way to do unmapped I/O on multiple buffers ... would allow eliminating
/// the copy we currently do for data"); on Linux sg it is a descriptor's mmap-ed reserved
/// buffer (SG_FLAG_MMAP_IO). The memory is valid while the object lives. An application gets
/// them from `PassHandle.deviceBuffers`.
public protocol CAMDeviceBuffer: AnyObject, Sendable {
    /// The buffer, as many bytes as were asked for.
    var bytes: UnsafeMutableRawBufferPointer { get }
}

/// A SIM that can hand out device buffers. A CCB whose data is `.buffer` starting at one of
/// them (at most its size) moves no data through a copy; any other CCB takes the ordinary
/// path, so using them is never required for correctness.
package protocol CAMDeviceBufferSIM: CAMSIMDriver {
    /// Up to `count` buffers of `size` bytes for the device at `path`. Fewer (even none) when
    /// the device has no more to give. Ask before polling starts on the device.
    func deviceBuffers(at path: CAMPath, count: Int, size: Int) throws(CAMError) -> [any CAMDeviceBuffer]
}
