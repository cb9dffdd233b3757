#if canImport(Glibc)
import Glibc
#endif
import CCAMSystem

/// The block-device ioctls of <linux/fs.h>, whose numbers Swift cannot import (they are
/// _IO/_IOR macros).
package enum BlockDevice {
    /// BLKSSZGET: the logical sector size of the block device open on `fd`.
    package static func logicalBlockSize(_ fd: Int32, on object: @autoclosure () -> String) throws(SystemError) -> UInt32 {
        var size: Int32 = 0
        _ = try Syscall.ioctl(fd, CCAMSystem_BLKSSZGET, "BLKSSZGET", &size, on: object())
        return UInt32(bitPattern: size)
    }

    /// BLKGETSIZE64: the size in bytes of the block device open on `fd`.
    package static func byteCount(_ fd: Int32, on object: @autoclosure () -> String) throws(SystemError) -> UInt64 {
        var size: UInt64 = 0
        _ = try Syscall.ioctl(fd, CCAMSystem_BLKGETSIZE64, "BLKGETSIZE64", &size, on: object())
        return size
    }
}

/// open(2) flags Swift's Glibc module leaves out.
package enum OpenFlags {
    /// O_DIRECT (behind _GNU_SOURCE): I/O straight between the device and the caller's
    /// aligned buffers, bypassing the page cache.
    package static let direct = CCAMSystem_O_DIRECT
}
