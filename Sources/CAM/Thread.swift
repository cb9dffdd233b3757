#if canImport(Glibc)
import Glibc
#endif
import CAMSystem

/// A joinable OS thread for SIM service loops and completion workers.
///
/// CAM's I/O threads are long-lived and block in epoll or on condition variables, which is why
/// they are plain pthreads and not tasks of the Swift concurrency pool.
package final class CAMThread: @unchecked Sendable {
    // `handle` is written once in `init` before the thread can be joined, and read by `join`.
    private var handle = pthread_t()
    private var joined = false
    private let joinLock = CAMLock()

    private final class Box {
        let body: () -> Void
        let name: String
        init(_ name: String, _ body: @escaping () -> Void) { self.name = name; self.body = body }
    }

    /// Starts `body` on a new thread named `name` (at most 15 bytes are shown by the kernel).
    package init(name: String, _ body: @escaping @Sendable () -> Void) {
        let box = Unmanaged.passRetained(Box(name, body))
        let rc = pthread_create(&handle, nil, { arg in
            let box = Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue()
            #if os(Linux)
            setCurrentThreadName(box.name)
            #endif
            box.body()
            return nil
        }, box.toOpaque())
        precondition(rc == 0, "pthread_create failed: \(rc)")
    }

    /// Waits for the thread to end. Safe to call more than once. Called from the thread
    /// itself (the last reference to a transport let go on one of its own threads), it
    /// detaches the thread instead: it ends when its loop returns.
    package func join() {
        joinLock.lock()
        defer { joinLock.unlock() }
        guard !joined else { return }
        joined = true
        if pthread_equal(handle, pthread_self()) != 0 {
            pthread_detach(handle)
            return
        }
        pthread_join(handle, nil)
    }
}
