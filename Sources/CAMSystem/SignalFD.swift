#if canImport(Glibc)
import Glibc
#endif
import CCAMSystem

/// A signalfd(2) (SFD_CLOEXEC | SFD_NONBLOCK): the signals it was made for arrive as reads
/// instead of handlers, so an event loop watches them beside its other descriptors.
/// Closed when it goes (the signals stay blocked).
package struct SignalFD: ~Copyable, Sendable {
    /// For poll(2) and epoll; valid while this value lives.
    package let descriptor: Int32

    /// Blocks `signals` in the calling thread, and so in every thread it starts later, then
    /// opens a signalfd for them. Make it before any other thread exists, or those threads
    /// still take the signals with their default action.
    package init(blocking signals: [Int32], for object: @autoclosure () -> String) throws(SystemError) {
        var set = sigset_t()
        sigemptyset(&set)
        for s in signals { sigaddset(&set, s) }
        let rc = pthread_sigmask(SIG_BLOCK, &set, nil)
        if rc != 0 { throw SystemError("pthread_sigmask", errno: rc, on: object()) }
        descriptor = try Syscall.retrying("signalfd", on: object()) {
            signalfd(-1, &set, Int32(SFD_CLOEXEC) | Int32(SFD_NONBLOCK))
        }
    }

    deinit { Syscall.close(descriptor) }

    /// The next pending signal's number; nil when none is pending.
    package func next() throws(SystemError) -> Int32? {
        var info = signalfd_siginfo()
        let size = MemoryLayout<signalfd_siginfo>.size
        guard let n = try Syscall.read(descriptor, into: &info, count: size, on: "signalfd") else { return nil }
        return n == size ? Int32(bitPattern: info.ssi_signo) : nil
    }
}
