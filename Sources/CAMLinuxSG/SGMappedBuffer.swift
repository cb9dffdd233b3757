#if canImport(Glibc)
import Glibc
#endif

/// Memory an sg descriptor moves data through with no copy (its reserved buffer, mmap-ed;
/// SG_FLAG_MMAP_IO): made by `LinuxSGSIM.mappedBuffers`. Unmapped when it goes; from then on
/// the SIM no longer sends commands in that memory to its descriptor.
public final class SGMappedBuffer: @unchecked Sendable {
    // @unchecked: `route` is set once by the SIM before the buffer is handed out; the memory
    // is the caller's to use as any buffer.
    /// The buffer, `size` bytes as asked for (the mapping itself is whole pages).
    public let bytes: UnsafeMutableRawBufferPointer
    private let mapping: UnsafeMutableRawBufferPointer
    /// The unit and mapped index that route commands here, forgotten at deinit.
    var route: (unit: SGUnit, index: Int)?

    init(base: UnsafeMutableRawPointer, length: Int, size: Int) {
        mapping = UnsafeMutableRawBufferPointer(start: base, count: length)
        bytes = UnsafeMutableRawBufferPointer(start: base, count: size)
    }

    deinit {
        // Forget first: a command in this memory after the unmapping must not go to the
        // descriptor, whose buffer no longer backs it.
        if let route { route.unit.forgetMapping(route.index) }
        munmap(mapping.baseAddress, mapping.count)
    }
}

import CAM

extension SGMappedBuffer: CAMDeviceBuffer {}

extension LinuxSGSIM: CAMDeviceBufferSIM {
    /// CAM's device buffers are this SIM's mapped buffers (`mappedBuffers`).
    package func deviceBuffers(at path: CAMPath, count: Int, size: Int) throws(CAMError) -> [any CAMDeviceBuffer] {
        do {
            return try mappedBuffers(at: path, count: count, size: size)
        } catch {
            throw CAMError(error.code == .deviceGone ? .deviceGone : .simFailure, error.message)
        }
    }
}
