#if canImport(Glibc)
import Glibc
#endif
import SCSI

/// One SCSI generic device as sysfs describes it (`/sys/class/scsi_generic/sgN`).
public struct SGDeviceInfo: Sendable, Equatable, CustomStringConvertible {
    /// "sg2".
    public var name: String
    /// "/dev/sg2".
    public var devicePath: String { "/dev/" + name }
    /// The N of sgN.
    public var index: Int
    /// H:C:T:L: the kernel's host (`scsi_host` number), channel, target, LUN.
    public var host: Int
    public var channel: Int
    public var target: Int
    public var lun: UInt64
    /// SCSI peripheral device type from sysfs (`device/type`: 0 disk, 5 CD/DVD...).
    public var type: PeripheralDeviceType
    /// T10 vendor, model and revision as the kernel read them from INQUIRY, trimmed.
    public var vendor: String
    public var model: String
    public var revision: String
    /// The midlayer's device state ("running", "offline", "blocked"...).
    public var state: String
    /// The device's default command time-out (`device/timeout`, whole seconds there): what an
    /// sg time-out of 0 means.
    public var defaultTimeout: Duration?
    /// The midlayer's queue depth for the device.
    public var queueDepth: Int?

    /// "0:0:0:0".
    public var hctl: String { "\(host):\(channel):\(target):\(lun)" }

    public var description: String {
        "\(devicePath) [\(hctl)] type \(type) \(vendor) \(model) \(revision) (\(state))"
    }
}

/// Finds sg devices through sysfs, without opening them.
public enum SGDiscovery {
    /// Where the kernel lists sg devices.
    public static let classDirectory = "/sys/class/scsi_generic"

    /// Every sg device the kernel has now, ordered by sg index. An empty list when the sg
    /// driver is not loaded (no class directory).
    public static func devices(sysfs root: String = classDirectory) -> [SGDeviceInfo] {
        names(in: root)
            .compactMap { device(named: $0, sysfs: root) }
            .sorted { $0.index < $1.index }
    }

    /// The device `sgN` ("sg3" or "/dev/sg3"), or nil when sysfs has no such device.
    public static func device(named nameOrPath: String, sysfs root: String = classDirectory) -> SGDeviceInfo? {
        let name = nameOrPath.hasPrefix("/dev/") ? String(nameOrPath.dropFirst(5)) : nameOrPath
        guard name.hasPrefix("sg"), let index = Int(name.dropFirst(2)) else { return nil }
        let base = root + "/" + name
        // device -> ../../../H:C:T:L (a link into the SCSI device's directory)
        guard let link = readLink(base + "/device"),
              let last = link.split(separator: "/").last
        else { return nil }
        let parts = last.split(separator: ":")
        guard parts.count == 4, let h = Int(parts[0]), let c = Int(parts[1]), let t = Int(parts[2]),
              let l = UInt64(parts[3])
        else { return nil }
        let dev = base + "/device/"
        return SGDeviceInfo(
            name: name, index: index, host: h, channel: c, target: t, lun: l,
            type: readFile(dev + "type").flatMap { UInt8($0) }.map(PeripheralDeviceType.init(rawValue:)) ?? .unknown,
            vendor: readFile(dev + "vendor") ?? "",
            model: readFile(dev + "model") ?? "",
            revision: readFile(dev + "rev") ?? "",
            state: readFile(dev + "state") ?? "unknown",
            defaultTimeout: readFile(dev + "timeout").flatMap { Int($0) }.map { .seconds($0) },
            queueDepth: readFile(dev + "queue_depth").flatMap { Int($0) })
    }

    /// The sg device for H:C:T:L, if there is one.
    public static func device(host: Int, channel: Int, target: Int, lun: UInt64,
                              sysfs root: String = classDirectory) -> SGDeviceInfo? {
        devices(sysfs: root).first { $0.host == host && $0.channel == channel && $0.target == target && $0.lun == lun }
    }

    /// The directory whose `scan` file re-scans host `host` ("- - -" scans everything).
    public static func hostScanFile(host: Int) -> String { "/sys/class/scsi_host/host\(host)/scan" }

    /// The file whose writing "1" deletes the SCSI device at H:C:T:L (hot removal).
    public static func deleteFile(hctl: String) -> String { "/sys/class/scsi_device/\(hctl)/device/delete" }

    /// True when the SCSI device at H:C:T:L is being removed or is gone: its midlayer state
    /// (`device/state`) is "cancel" or "deleted", or sysfs no longer has it. The midlayer sets
    /// SDEV_CANCEL first and fails what it dispatches from then on with DID_ERROR, a moment
    /// before the sg driver hangs up its descriptors.
    public static func isBeingRemoved(hctl: String) -> Bool {
        guard let state = readFile("/sys/class/scsi_device/\(hctl)/device/state") else { return true }
        return state == "cancel" || state == "deleted"
    }

    // MARK: sysfs reading

    static func names(in directory: String) -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var out: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { out.append(name) }
        }
        return out
    }

    /// A small sysfs attribute, trimmed of spaces and the newline; nil when unreadable.
    static func readFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { p -> Int in
            while true {
                let rc = read(fd, p.baseAddress, p.count)
                if rc < 0 && errno == EINTR { continue }
                return rc
            }
        }
        guard n >= 0 else { return nil }
        let s = String(decoding: buffer[0..<n], as: UTF8.self)
        return String(s.drop { $0 == " " || $0 == "\n" }.reversed().drop { $0 == " " || $0 == "\n" }.reversed())
    }

    static func readLink(_ path: String) -> String? {
        var buffer = [Int8](repeating: 0, count: 4096)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Writes `text` to a sysfs control file (delete, scan); throws naming the file.
    public static func write(_ text: String, to path: String) throws(LinuxSGError) {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        if fd < 0 { throw LinuxSGError.system("open", errno, on: path) }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        while true {
            let rc = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if rc >= 0 { return }
            let e = errno
            if e == EINTR { continue }
            throw LinuxSGError.system("write", e, on: path)
        }
    }
}
