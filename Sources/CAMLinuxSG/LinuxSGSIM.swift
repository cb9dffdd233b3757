#if canImport(Glibc)
import Glibc
#endif
import CAM
import CCAMSystem
import SCSI

/// The Linux sg SIM: every `/dev/sgN` of one Linux SCSI host and channel as one CAM bus,
/// reached through the sg driver's asynchronous v3 interface (`write` to start, `read` to
/// collect, the descriptors in epoll on the SIM's own thread), the counterpart of what
/// pass(4) does with CAMIOQUEUE/CAMIOGET on FreeBSD.
///
/// - Addresses: Linux H:C:T:L becomes bus:target:lun; the bus stands for host H, channel C.
/// - Depth: `Options.descriptorsPerDevice` descriptors per device, each taking
///   `Options.commandsPerDescriptor` commands (the driver refuses more than 16 with EDOM); the
///   XPT queues the rest in the device's queue.
/// - Commands are queued at the tail of the kernel's queue (SG_FLAG_Q_AT_TAIL), the head only
///   for CCBs flagged `.queueAtHead` or tagged head-of-queue. sg's own default is the head.
/// - Time-outs: a CCB's in milliseconds, rounded up; none (zero, `CCB.infiniteTimeout`) is sg's
///   UINT_MAX (see `SGTimeout`).
/// - Abort: sg has no per-command abort, so an abort is a LOGICAL UNIT RESET
///   (SG_SCSI_RESET_DEVICE, not escalated), which ends every command on that LUN.
/// - Removal: POLLHUP ends the device through the XPT's lost-device path; commands in flight
///   complete as the driver returns them, or as not there after `Options.removalGrace`.
/// - Polled completion (`CAMPollingSIM`, CAM's `sim_poll`): the device's sg descriptors leave
///   the SIM's epoll thread and the application's threads read them (`poll(at:)`), so a
///   command's completion needs no thread hand-over, and with a device that completes at once
///   (scsi_debug with no delay) no sleep at all: write, then read.
/// - Mapped buffers (`mappedBuffers`): memory that is an sg descriptor's mmap-ed reserved
///   buffer, so data moves between the device and it with no copy to or from user memory.
public final class LinuxSGSIM: CAMPollingSIM, @unchecked Sendable {
    // @unchecked: `units`, `bus` and `helpers` are guarded by `lock`; the rest is set in init.

    /// How the SIM drives its devices.
    public struct Options: Sendable {
        /// Descriptors opened per device (at most 64). Default 32, of 2 commands each: 64
        /// commands in the kernel per device, more than the depth at which a disk stops
        /// gaining, and up to a depth of 32 each command has a descriptor's reserved buffer
        /// to itself: any other command has its kernel buffer allocated and zeroed (under
        /// an emulated CPU that costs a third of a 64 KiB read). A reserved buffer starts at
        /// one page and grows to the transfers its descriptor is given.
        public var descriptorsPerDevice: Int = 32
        /// Commands each descriptor takes, 1 through 16 (the driver's limit). Default 2.
        public var commandsPerDescriptor: Int = 2
        /// Largest transfer of one command. Default 512 KiB: the midlayer's default
        /// max_sectors (1024), which sysfs does not show for a device without a block driver.
        public var maxIO: Int = 512 * 1024
        /// How long after a removal commands still out may take before they complete as not
        /// there.
        public var removalGrace: Duration = .seconds(2)
        public init() {}
    }

    /// Linux's SCSI host and channel of this bus.
    public let host: Int
    public let channel: Int
    public let options: Options
    public let pathInquiry: PathInquiry
    /// Target and LUN pairs this SIM is limited to (the devices named at registration), nil
    /// for every device of its host and channel. By address, not sg name: a device that is
    /// removed and comes back may get another sg number.
    let only: Set<SGAddress>?

    private let lock = CAMLock()
    private var units: [SGAddress: SGUnit] = [:] { didSet { lastUnit = nil } }
    /// The unit last looked up: the I/O path asks for one device over and over, and hashing
    /// an address costs more than comparing it.
    private var lastUnit: (address: SGAddress, unit: SGUnit)?
    private weak var bus: CAMBus?
    private var helpers: [CAMThread] = []
    private let poller: SGPoller
    /// Serializes `startPolling` and `stopPolling` (the XPT calls them per device record; two
    /// records can share a path across a removal and return).
    private let pollSwitch = CAMLock()
    /// How often a collector that finds nothing asks whether a polled device hung up.
    static let hangupCheckIntervalNanoseconds: UInt64 = 10_000_000

    /// A SIM for Linux SCSI host `host`, channel `channel`, all its devices; not yet registered.
    public convenience init(host: Int, channel: Int, options: Options = Options()) throws(CAMError) {
        try self.init(host: host, channel: channel, only: nil, options: options)
    }

    init(host: Int, channel: Int, only: Set<SGAddress>?, options: Options) throws(CAMError) {
        self.host = host
        self.channel = channel
        self.only = only
        self.options = options
        let hostDir = "/sys/class/scsi_host/host\(host)/"
        let adapter = SGDiscovery.readFile(hostDir + "proc_name") ?? "Linux SCSI host"
        pathInquiry = PathInquiry(
            maxIO: options.maxIO, commandSlots: Self.descriptorCount(options) * Self.commandsPerDescriptor(options),
            simName: "sg", simUnit: host, transport: "SCSI generic",
            maxTarget: Int(Int32.max), maxLUN: UInt64.max, hbaVendor: adapter,
            completesDirectly: true)
        do {
            poller = try SGPoller(name: "sg-sim-h\(host)")
        } catch {
            throw CAMError(error)
        }
    }

    deinit { poller.shutdown() }

    static func descriptorCount(_ o: Options) -> Int { min(64, max(1, o.descriptorsPerDevice)) }
    static func commandsPerDescriptor(_ o: Options) -> Int { min(SGDescriptor.maxOutstanding, max(1, o.commandsPerDescriptor)) }

    // MARK: registration

    /// Registers one bus per Linux SCSI host and channel among `devices` ("/dev/sg2", "sg2";
    /// nil: every sg device sysfs lists), in host, channel order; does not scan. A named
    /// device that sysfs does not know is an error.
    public static func register(on xpt: XPT, devices: [String]? = nil, options: Options = Options()) throws(CAMError) -> [CAMBus] {
        let all = SGDiscovery.devices()
        var chosen = all
        if let devices {
            chosen = []
            for d in devices {
                guard let info = SGDiscovery.device(named: d) else {
                    if access(d.hasPrefix("/") ? d : "/dev/" + d, F_OK) == 0 {
                        throw CAMError(.noSuchDevice, "\(d): not a SCSI generic device in \(SGDiscovery.classDirectory)")
                    }
                    throw CAMError(.noSuchDevice, "\(d): no such SCSI generic device (\(SGDiscovery.classDirectory) lists them; is the sg module loaded?)")
                }
                chosen.append(info)
            }
        }
        var groups: [SGHostChannel: Set<SGAddress>] = [:]
        for info in chosen {
            groups[SGHostChannel(host: info.host, channel: info.channel), default: []]
                .insert(SGAddress(target: info.target, lun: info.lun))
        }
        var buses: [CAMBus] = []
        for key in groups.keys.sorted() {
            let sim = try LinuxSGSIM(host: key.host, channel: key.channel, only: devices == nil ? nil : groups[key],
                                     options: options)
            buses.append(xpt.register(sim))
        }
        return buses
    }

    package func attached(to bus: CAMBus) {
        lock.withLock { self.bus = bus }
    }

    // MARK: discovery

    /// The targets and LUNs sysfs lists for this host and channel now. Opens each new device;
    /// a device that went away and came back is opened afresh. Throws when no device could be
    /// opened and at least one failed for lack of privilege (with the device and what is needed).
    package func discover() throws(CAMError) -> [SIMTarget] {
        let present = SGDiscovery.devices().filter {
            $0.host == host && $0.channel == channel && (only?.contains(SGAddress(target: $0.target, lun: $0.lun)) ?? true)
        }
        var firstDenied: LinuxSGError?
        var firstOtherError: LinuxSGError?
        var opened: [SGAddress: SGUnit] = [:]
        let existing = lock.withLock { units }
        for info in present {
            let address = SGAddress(target: info.target, lun: info.lun)
            if let u = existing[address], !u.isRemoved, u.info.name == info.name {
                opened[address] = u
                continue
            }
            do {
                let unit = try SGUnit(info: info, descriptors: Self.descriptorCount(options),
                                      commandsEach: Self.commandsPerDescriptor(options))
                try watch(unit, at: address)
                opened[address] = unit
            } catch {
                if error.code == .permissionDenied {
                    if firstDenied == nil { firstDenied = error }
                } else if firstOtherError == nil {
                    firstOtherError = error
                }
            }
        }
        let replaced: [SGUnit] = lock.withLock {
            let old = units.filter { opened[$0.key] !== $0.value }.map(\.value)
            units = opened
            return old
        }
        for u in replaced { retire(u) }
        if opened.isEmpty, let e = firstDenied ?? (only != nil ? firstOtherError : nil) {
            throw CAMError(e)
        }
        var byTarget: [Int: [UInt64]] = [:]
        for a in opened.keys { byTarget[a.target, default: []].append(a.lun) }
        return byTarget.keys.sorted().map { SIMTarget(target: $0, luns: byTarget[$0]!.sorted()) }
    }

    /// The unit at `path` now.
    private func unit(at path: CAMPath) -> SGUnit? {
        let address = SGAddress(target: path.target, lun: path.lun)
        lock.lock()
        defer { lock.unlock() }
        if let last = lastUnit, last.address == address { return last.unit }
        guard let u = units[address] else { return nil }
        lastUnit = (address, u)
        return u
    }

    public func deviceName(at path: CAMPath) -> String {
        let unit = unit(at: path)
        return unit?.devicePath ?? "sg(\(host):\(channel):\(path.target):\(path.lun))"
    }

    /// The sg device behind `path`, as sysfs described it when the SIM opened it.
    public func sgDevice(at path: CAMPath) -> SGDeviceInfo? {
        lock.withLock { units[SGAddress(target: path.target, lun: path.lun)]?.info }
    }

    // MARK: I/O

    package func start(_ ccb: CCB, at path: CAMPath) {
        let unit = unit(at: path)
        guard let unit else {
            finish(ccb, .deviceNotThere)
            return
        }
        switch ccb.function {
        case .scsiIO:
            startSCSI(ccb, on: unit)
        case .resetDevice:
            // An ioctl that waits for the reset: never on the caller's thread.
            runHelper("sg-reset") { [self] in
                do throws(LinuxSGError) {
                    guard let file = unit.currentFiles.first else { throw LinuxSGError(.deviceGone, "\(unit.devicePath) is gone") }
                    try file.sg.reset(.device)
                    finish(ccb, .requestComplete)
                } catch {
                    ccb.transportDetail = TransportDetail(text: error.message)
                    finish(ccb, error.code == .deviceGone ? .deviceNotThere : .completedWithError)
                }
            }
        default:
            // XPT_ATA_IO, XPT_NVME_*, XPT_SMP_IO: not carried here (ATA goes through SAT).
            ccb.transportDetail = TransportDetail(text: "\(ccb.function) is not a Linux sg SIM function")
            finish(ccb, .functionNotAvailable)
        }
    }

    private func startSCSI(_ ccb: CCB, on unit: SGUnit) {
        guard let (slot, file, growReserve, mapped) = unit.claim(ccb, length: min(ccb.data.length, options.maxIO)) else {
            finish(ccb, unit.isRemoved ? .deviceNotThere : .resourceUnavailable)
            return
        }
        // The descriptor is idle: its reserved buffer can grow (the driver refuses while a
        // command uses it, and may give less; either way the command still runs).
        if let growReserve { try? file.sg.setReservedSize(growReserve) }
        let direction: SGDirection
        switch ccb.direction {
        case .none: direction = .none
        case .in: direction = .fromDevice
        case .out: direction = .toDevice
        }
        let atHead = ccb.flags.contains(.queueAtHead) || ccb.tagAction == .headOfQueue
        let sense = ccb.flags.contains(.disableAutosense)
            ? UnsafeMutableRawBufferPointer(rebasing: ccb.senseBuffer[0..<0]) : ccb.senseBuffer
        let timeout = SGTimeout(camNanoseconds: ccb.timeoutNanoseconds)
        let failure: LinuxSGError? = ccb.cdb.withUnsafeBytes { cdb -> LinuxSGError? in
            var request = SGRequest(cdb: cdb, sense: sense, timeout: timeout, packID: slot,
                                    flags: atHead ? .queueAtHead : .queueAtTail)
            switch ccb.data {
            case .none:
                break
            case .buffer(let b):
                request.setData(b, direction: direction)
                if mapped {
                    // The data is the descriptor's reserved buffer itself: no copy either way.
                    request.header.dxferp = nil
                    request.header.flags |= SGFlags.mmapIO.rawValue
                }
            case .scatterGather(let list):
                request.setData(segments: list.buffer, totalLength: list.totalLength, direction: direction)
            }
            do throws(LinuxSGError) {
                try file.sg.start(&request)
                return nil
            } catch {
                return error
            }
        }
        guard let failure else { return }
        unit.unclaim(slot)
        ccb.transportDetail = TransportDetail(text: failure.message)
        finish(ccb, SGStatusMapping.camStatus(startError: failure))
        if failure.code == .deviceGone { lose(unit) }
    }

    /// The poller's handler for one of a unit's descriptors.
    private func handle(_ event: SGPoller.Event, on file: SGFile, of unit: SGUnit) {
        if event == .hangup {
            lose(unit)
            return
        }
        collect(file, of: unit)
        drainIfRemoved(unit)
    }

    /// Reads `file`'s completed commands and completes their CCBs on this thread, until none
    /// is ready or the descriptor has nothing more out. Returns how many. Safe from several
    /// threads at once: each read(2) hands a command to one reader only, and `readLock` keeps
    /// a reader off a unit whose commands were given up on.
    @discardableResult
    private func collect(_ file: SGFile, of unit: SGUnit) -> Int {
        var header = sg_io_hdr()
        var count = 0
        while true {
            header.interface_id = Int32(UInt8(ascii: "S"))
            header.dxfer_direction = SG_DXFER_NONE
            header.pack_id = -1
            unit.readLock.lock()
            guard unit.mayRead(file.index) else {
                unit.readLock.unlock()
                break
            }
            let got: Bool
            do {
                got = try file.sg.collect(into: &header)
            } catch {
                unit.readLock.unlock()
                // A read that fails for anything but "nothing ready" means the device is gone.
                lose(unit)
                break
            }
            let released = got ? unit.release(header.pack_id) : nil
            unit.readLock.unlock()
            guard let (ccb, wasRemoved, drained) = released else { break }
            var removed = wasRemoved
            // A transport failure may be the removal itself, reported before the hang-up
            // reaches us: the midlayer fails commands with DID_ERROR from the moment the
            // removal starts (SDEV_CANCEL), before sg hangs up. Only on this error path.
            if !removed && header.host_status != SGHostStatus.ok
                && (file.sg.isHungUp || SGDiscovery.isBeingRemoved(hctl: unit.info.hctl)) {
                lose(unit)
                removed = true
            }
            ccb.residual = max(0, Int(header.resid))
            ccb.scsiStatus = SCSIStatus(rawValue: header.status)
            ccb.senseLength = Int(header.sb_len_wr)
            if SGStatusMapping.hasTransportNoise(hostStatus: header.host_status, driverStatus: header.driver_status) {
                var detail = SGStatusMapping.transportDetail(hostStatus: header.host_status, driverStatus: header.driver_status)
                if removed { detail.text += "; \(unit.devicePath) was removed" }
                ccb.transportDetail = detail
            }
            ccb.status = SGStatusMapping.camStatus(hostStatus: header.host_status, driverStatus: header.driver_status,
                                                   scsiStatus: header.status, deviceRemoved: removed)
            complete(ccb)
            count += 1
            // Nothing else out on this descriptor: a further read would only say EAGAIN.
            if drained { break }
        }
        return count
    }

    /// After a removal: completes as not there what the grace period has run out on, and
    /// closes the descriptors once nothing is left (when polling stops, if it is on).
    private func drainIfRemoved(_ unit: SGUnit) {
        guard unit.isRemoved else { return }
        let (done, leftovers) = unit.finishDraining(now: camMonotonicNanoseconds(),
                                                    graceNanoseconds: options.removalGrace.nanosecondsRoundedUp)
        for ccb in leftovers {
            ccb.transportDetail = TransportDetail(text: "\(unit.devicePath) was removed before the command completed")
            finish(ccb, .deviceNotThere)
        }
        if done {
            // The poller stops calling; the descriptors close now, or when polling stops.
            let files = unit.currentFiles
            for f in files { poller.unregister(fd: f.sg.fd) }
            _ = unit.closeFiles(evenIfPolled: false)
        }
    }

    /// The device is gone: refuse new commands, tell the XPT (once).
    private func lose(_ unit: SGUnit) {
        let (first, polled) = unit.markRemoved(now: camMonotonicNanoseconds())
        guard first else { return }
        // A polled unit goes back to the poller as well, which sees the hang-up and finishes
        // what is left after the grace period even if nobody polls any more. Collectors and
        // the poller may then both read: each completion still goes to one of them.
        if polled { watchAgain(unit) }
        let b = lock.withLock { bus }
        b?.deviceLost(target: unit.info.target, lun: unit.info.lun)
    }

    package func abort(_ ccb: CCB, at path: CAMPath) -> Bool {
        let unit = unit(at: path)
        guard let unit, !unit.isRemoved else { return false }
        // No per-command abort in sg: the least disruptive reset, LOGICAL UNIT RESET, not
        // escalated. Every command on the LUN ends (DID_RESET: aborted), this one with them,
        // unless it completes first.
        runHelper("sg-abort") {
            _ = try? unit.currentFiles.first?.sg.reset(.device)
        }
        return true
    }

    package func shutdown() {
        poller.shutdown()
        let (all, threads): ([SGUnit], [CAMThread]) = lock.withLock {
            let u = Array(units.values)
            units = [:]
            let t = helpers
            helpers = []
            return (u, t)
        }
        for t in threads { t.join() }
        for u in all { retire(u) }
    }

    // MARK: mapped buffers

    /// `count` buffers of `size` bytes for I/O to the device at `path` with no copy between
    /// the kernel and user memory: each is a new sg descriptor's reserved buffer, mapped
    /// (mmap(2) of the descriptor, SG_FLAG_MMAP_IO). A CCB whose data is exactly one of them
    /// (`.buffer` from its start, at most its size) goes to that descriptor, one at a time;
    /// the kernel moves the data straight into (or out of) it. Anything else, or a second CCB
    /// in the same buffer, goes the usual way, copied. sg3_utils' sgm_dd does the same.
    ///
    /// Call before `startPolling` (a polled device's descriptors are fixed). The memory stays
    /// valid until the buffer goes, even after the device does. Costs a descriptor and `size`
    /// bytes of kernel memory each (up to 64 beyond the unit's general descriptors), which the
    /// unit keeps and maps again for later buffers of that size or smaller.
    public func mappedBuffers(at path: CAMPath, count: Int, size: Int) throws(LinuxSGError) -> [SGMappedBuffer] {
        guard let unit = unit(at: path) else {
            throw LinuxSGError(.deviceGone, "no sg device at \(path) on sg host \(host)")
        }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let length = max(page, (size + page - 1) / page * page)
        guard length <= options.maxIO else {
            throw LinuxSGError(.invalidRequest, "\(unit.devicePath): a mapped buffer of \(size) bytes is over the SIM's maxio \(options.maxIO)")
        }
        var out: [SGMappedBuffer] = []
        for _ in 0..<count {
            // A descriptor whose mapped buffer was let go is mapped again.
            if let (m, file, mappedSize) = unit.unusedMapping(size: length) {
                guard let base = mmap(nil, mappedSize, PROT_READ | PROT_WRITE, MAP_SHARED, file.sg.fd, 0), base != MAP_FAILED else {
                    unit.remap(m, base: nil)
                    throw LinuxSGError.system("mmap", errno, on: unit.devicePath)
                }
                let buffer = SGMappedBuffer(base: base, length: mappedSize, size: size)
                buffer.route = (unit, m)
                unit.remap(m, base: base)
                out.append(buffer)
                continue
            }
            let file = try SGFile(path: unit.devicePath, index: unit.nextFileIndex)
            try file.sg.setReservedSize(length)
            let got = try file.sg.reservedSize()
            guard got >= length else {
                throw LinuxSGError(.invalidRequest, "\(unit.devicePath): the sg driver gave a reserved buffer of \(got) bytes, not \(length)")
            }
            guard let base = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED, file.sg.fd, 0), base != MAP_FAILED else {
                throw LinuxSGError.system("mmap", errno, on: unit.devicePath)
            }
            let buffer = SGMappedBuffer(base: base, length: length, size: size)
            guard let m = unit.addMapped(file, base: base, size: length) else {
                throw LinuxSGError(.invalidRequest, "\(unit.devicePath): no mapped buffers while it is polled or removed, or beyond 128 descriptors")
            }
            buffer.route = (unit, m)
            try poller.register(fd: file.sg.fd, device: unit.devicePath) { [weak self] event in
                self?.handle(event, on: file, of: unit)
            }
            out.append(buffer)
        }
        return out
    }

    // MARK: polled completion

    /// Polling starts at `path`: the device's sg descriptors leave the SIM's epoll thread and
    /// are returned for the caller's own poll/epoll. nil for a device that is not there or
    /// is already going.
    package func startPolling(at path: CAMPath) -> [Int32]? {
        pollSwitch.lock()
        defer { pollSwitch.unlock() }
        guard let unit = unit(at: path),
              let files = unit.startPolling() else { return nil }
        // When this returns the poller's handler is not running on them and will not again.
        for f in files { poller.unregister(fd: f.sg.fd) }
        // Removed meanwhile: `lose` may have run before the descriptors left; give them back.
        if unit.isRemoved { watchAgain(unit) }
        return files.map { $0.sg.fd }
    }

    /// Polling ends at `path`: the poller takes the descriptors back, and epoll, being
    /// level-triggered, reports at once any completion that waits on them; or, for a device
    /// removed and drained while polled, they close now.
    package func stopPolling(at path: CAMPath) {
        pollSwitch.lock()
        defer { pollSwitch.unlock() }
        guard let unit = unit(at: path) else { return }
        if let toClose = unit.stopPolling() {
            for f in toClose { poller.unregister(fd: f.sg.fd) }
        } else {
            watchAgain(unit)
        }
    }

    /// Reads what the device at `path` has finished, on the calling thread (CAM's
    /// `sim_poll`). Reads only descriptors with commands out, each until it has nothing more
    /// out or nothing ready, so at depth 1 a call costs one read(2). Now and then (every
    /// `hangupCheckIntervalNanoseconds`) a call that finds nothing while commands are out
    /// asks the driver whether the device hung up, since a non-blocking read never says so.
    @discardableResult
    package func poll(at path: CAMPath) -> Int {
        // Nothing out (or not polled): nothing to read, and nothing to lose.
        guard let unit = unit(at: path), case var mask = unit.polledBusyFiles, !mask.isEmpty else { return 0 }
        var count = 0
        while let i = mask.popFirst() {
            if let f = unit.file(at: i) { count += collect(f, of: unit) }
        }
        if count == 0 {
            if unit.shouldCheckHangup(now: camMonotonicNanoseconds(), intervalNanoseconds: Self.hangupCheckIntervalNanoseconds),
               unit.currentFiles.first?.sg.isHungUp ?? false {
                lose(unit)
            }
            drainIfRemoved(unit)
        }
        return count
    }

    // MARK: helpers

    private func watch(_ unit: SGUnit, at address: SGAddress) throws(LinuxSGError) {
        for file in unit.currentFiles {
            try poller.register(fd: file.sg.fd, device: unit.devicePath) { [weak self] event in
                self?.handle(event, on: file, of: unit)
            }
        }
    }

    /// The poller takes a unit's descriptors back (those it does not have already).
    private func watchAgain(_ unit: SGUnit) {
        for file in unit.currentFiles {
            // Fails only when the poller is shut down, and then nobody collects anyway.
            try? poller.register(fd: file.sg.fd, device: unit.devicePath, ifAbsent: true) { [weak self] event in
                self?.handle(event, on: file, of: unit)
            }
        }
    }

    /// Stops polling a unit that is replaced or shut down; what it had out completes as not there.
    private func retire(_ unit: SGUnit) {
        for f in unit.closeFiles() { poller.unregister(fd: f.sg.fd) }
        for ccb in unit.abandonAll() {
            ccb.transportDetail = TransportDetail(text: "\(unit.devicePath) is no longer attached")
            finish(ccb, .deviceNotThere)
        }
    }

    private func finish(_ ccb: CCB, _ status: CAMStatus) {
        ccb.status = status
        complete(ccb)
    }

    private func complete(_ ccb: CCB) {
        // On the SIM's own thread (or the starting thread, for a refusal): process directly.
        let b = lock.withLock { bus }
        b?.complete(ccb)
    }

    private func runHelper(_ name: String, _ body: @escaping @Sendable () -> Void) {
        let t = CAMThread(name: name, body)
        lock.withLock { helpers.append(t) }
    }
}

/// Target and LUN on one bus.
struct SGAddress: Hashable, Sendable {
    var target: Int
    var lun: UInt64
}

/// A Linux SCSI host and channel: one bus.
struct SGHostChannel: Hashable, Comparable, Sendable {
    var host: Int
    var channel: Int
    static func < (a: SGHostChannel, b: SGHostChannel) -> Bool { (a.host, a.channel) < (b.host, b.channel) }
}
