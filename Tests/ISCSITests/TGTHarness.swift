#if canImport(Glibc)
import Glibc
#endif
import CAM
import Testing

/// A private tgtd for one test suite, run through scripts/tgt/tgt-harness: its own port on
/// 127.0.0.1 and its own control socket, stopped (and its folder removed) by `stop`, or by the
/// harness's watchdog when this process dies first.
final class TGTHarness: @unchecked Sendable {
    // Every field is set in init and only read afterwards.
    let directory: String
    let port: Int
    let pid: Int32
    private static let script: String = {
        // Tests/ISCSITests/TGTHarness.swift -> the package root.
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/") + "/scripts/tgt/tgt-harness"
    }()

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// True when tgtd is installed (the suites skip themselves otherwise).
    static var available: Bool {
        access("/usr/sbin/tgtd", X_OK) == 0 || access("/usr/bin/tgtd", X_OK) == 0
    }

    init() throws {
        let out = try TGTHarness.run(["start", "--parent", String(getpid()), "--lifetime", "900"])
        var values: [String: String] = [:]
        for line in out.split(separator: "\n") {
            let kv = line.split(separator: "=", maxSplits: 1)
            if kv.count == 2 { values[String(kv[0])] = String(kv[1]) }
        }
        guard let d = values["TGT_HARNESS_DIR"], let p = values["TGT_PORT"].flatMap({ Int($0) }),
              let pid = values["TGT_PID"].flatMap({ Int32($0) }) else {
            throw Failure(description: "tgt-harness start printed: \(out)")
        }
        directory = d
        port = p
        self.pid = pid
    }

    deinit { stop() }

    /// Adds a disk LUN (the target is made when new); returns the target id.
    @discardableResult
    func addDisk(_ iqn: String, lun: Int, size: String = "64M") throws -> Int {
        let out = try run(["add-disk", iqn, String(lun), "", size])
        return Int(out.trimmingCharacters()) ?? 0
    }

    /// Adds a tape drive LUN with a cartridge of `megabytes` (tgt's ssc backing store).
    @discardableResult
    func addTape(_ iqn: String, lun: Int, megabytes: Int = 32) throws -> Int {
        let out = try run(["add-tape", iqn, String(lun), String(megabytes)])
        return Int(out.trimmingCharacters()) ?? 0
    }

    func addCHAP(_ iqn: String, user: String, password: String, outgoing: Bool = false) throws {
        _ = try run(["add-chap", iqn, user, password] + (outgoing ? ["--outgoing"] : []))
    }

    func deleteLUN(_ iqn: String, lun: Int) throws {
        _ = try run(["delete-lun", iqn, String(lun)])
    }

    func pause() throws { _ = try run(["pause"]) }
    func resume() throws { _ = try run(["resume"]) }
    func kill() throws { _ = try run(["kill"]) }
    func restart() throws { _ = try run(["restart"]) }

    private var stopped = false
    func stop() {
        guard !stopped else { return }
        stopped = true
        _ = try? run(["stop"])
    }

    /// "iscsi://127.0.0.1:PORT/IQN/LUN" with optional credentials.
    func url(_ iqn: String, lun: Int, user: String? = nil, password: String? = nil) -> String {
        var creds = ""
        if let user { creds = user + (password.map { "%" + $0 } ?? "") + "@" }
        return "iscsi://\(creds)127.0.0.1:\(port)/\(iqn)/\(lun)"
    }

    private func run(_ args: [String]) throws -> String {
        try TGTHarness.run(["-d", directory] + args)
    }

    /// Runs the script with `args`, returning its standard output; throws with its standard
    /// error when it fails.
    static func run(_ args: [String]) throws -> String {
        try runProgram("/bin/bash", [script] + args)
    }
}

/// Runs a program, capturing standard output and error; throws when it exits non-zero.
func runProgram(_ path: String, _ args: [String], environment: [String: String] = [:]) throws -> String {
    let r = try runProgramStatus(path, args, environment: environment)
    guard r.status == 0 else {
        throw TGTHarness.Failure(description: "\(path) \(args.first ?? "") failed (\(r.status)): \(r.error)")
    }
    return r.output
}

/// One program at a time: suites run in parallel, and a pipe made for one child must not leak
/// into another (tgtd would hold it open, and the first reader would wait forever).
private let spawnLock = CAMLock()

/// Runs a program; returns its exit status, standard output and standard error.
func runProgramStatus(_ path: String, _ args: [String], environment: [String: String] = [:]) throws
    -> (status: Int32, output: String, error: String)
{
    spawnLock.lock()
    defer { spawnLock.unlock() }
    var outPipe: [Int32] = [0, 0]
    var errPipe: [Int32] = [0, 0]
    guard pipe(&outPipe) == 0, pipe(&errPipe) == 0 else { throw TGTHarness.Failure(description: "pipe failed") }
    // Close-on-exec, against other threads' children (libiscsi's sockets are not ours to fix).
    for fd in outPipe + errPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
    posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
    // Only descriptors 1 and 2 may keep the pipes open: tgtd and the harness's watchdog
    // outlive the script, and an inherited write end would keep us from seeing the end.
    for fd in [outPipe[0], errPipe[0], outPipe[1], errPipe[1]] {
        posix_spawn_file_actions_addclose(&actions, fd)
    }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)

    var env: [String] = []
    var i = 0
    while let e = environ[i] {
        let s = String(cString: e)
        let name = String(s.prefix(while: { $0 != "=" }))
        if environment[name] == nil { env.append(s) }
        i += 1
    }
    for (k, v) in environment { env.append("\(k)=\(v)") }

    let argv = ([path] + args).map { strdup($0) } + [nil]
    let envp = env.map { strdup($0) } + [nil]
    defer {
        argv.forEach { free($0) }
        envp.forEach { free($0) }
    }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, path, &actions, nil, argv, envp)
    close(outPipe[1])
    close(errPipe[1])
    guard rc == 0 else {
        close(outPipe[0]); close(errPipe[0])
        throw TGTHarness.Failure(description: "posix_spawn \(path): \(rc)")
    }
    // Read both pipes to the end (stderr is small; read stdout first, then stderr).
    func readAll(_ fd: Int32) -> String {
        var data: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, 65536) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            data += buf[0..<n]
        }
        close(fd)
        return String(decoding: data, as: UTF8.self)
    }
    let output = readAll(outPipe[0])
    let error = readAll(errPipe[0])
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let exit = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    return (exit, output, error)
}

extension String {
    func trimmingCharacters() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
