#if canImport(Glibc)
import Glibc
#endif
import CAMSystem

/// CAMSystem's wrappers for the calls this module makes on sg descriptors, with their errors
/// as `LinuxSGError` (which adds hints for the errnos sg users meet).
enum SGSystem {
    /// open(2).
    static func open(_ path: String, flags: Int32) throws(LinuxSGError) -> Int32 {
        do { return try Syscall.open(path, flags: flags) } catch { throw LinuxSGError.system(error) }
    }

    /// close(2).
    static func close(_ fd: Int32) {
        Syscall.close(fd)
    }

    /// write(2) of one whole structure; nil when the descriptor would block (EAGAIN).
    @inline(__always)
    static func write(_ fd: Int32, _ pointer: UnsafeRawPointer, _ count: Int, on device: String) throws(LinuxSGError) -> Int? {
        do { return try Syscall.write(fd, from: pointer, count: count, on: device) } catch { throw LinuxSGError.system(error) }
    }

    /// read(2); nil when nothing is ready (EAGAIN).
    @inline(__always)
    static func read(_ fd: Int32, _ pointer: UnsafeMutableRawPointer, _ count: Int, on device: String) throws(LinuxSGError) -> Int? {
        do { return try Syscall.read(fd, into: pointer, count: count, on: device) } catch { throw LinuxSGError.system(error) }
    }

    /// ioctl(2) with a pointer argument.
    static func ioctl(_ fd: Int32, _ request: Int32, _ name: String, _ argument: UnsafeMutableRawPointer,
                      on device: String) throws(LinuxSGError) -> Int32 {
        do { return try Syscall.ioctl(fd, UInt(request), name, argument, on: device) } catch { throw LinuxSGError.system(error) }
    }

    /// ioctl(2) with an integer argument passed by value.
    static func ioctl(_ fd: Int32, _ request: Int32, _ name: String, value: Int32, on device: String) throws(LinuxSGError) -> Int32 {
        do { return try Syscall.ioctl(fd, UInt(request), name, value: value, on: device) } catch { throw LinuxSGError.system(error) }
    }

    /// poll(2) of one descriptor without waiting; the revents.
    static func pollNow(_ fd: Int32, events: Int16, on device: String) throws(LinuxSGError) -> Int16 {
        do { return try PollSet.poll(fd, events: events, timeout: .zero, on: device) } catch { throw LinuxSGError.system(error) }
    }
}
