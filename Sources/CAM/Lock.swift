#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A mutual-exclusion lock on `pthread_mutex_t`, as swift-nio's `NIOLock`.
///
/// Not `Synchronization.Mutex`: the thread sanitizer of this toolchain cannot see that lock on
/// Linux and reports false races (STYLE.md).
package final class CAMLock: @unchecked Sendable {
    // The mutex lives at a stable heap address for the lock's lifetime; all access goes through
    // pthread calls, which are thread-safe by definition. That is what makes this Sendable.
    @usableFromInline
    let mutex: UnsafeMutablePointer<pthread_mutex_t>

    package init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        let rc = pthread_mutex_init(mutex, nil)
        precondition(rc == 0, "pthread_mutex_init failed: \(rc)")
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    @inlinable
    package func lock() { pthread_mutex_lock(mutex) }

    @inlinable
    package func unlock() { pthread_mutex_unlock(mutex) }

    @inlinable
    package func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }
}

/// A condition variable paired with a `CAMLock`.
package final class CAMCondition: @unchecked Sendable {
    // Same reasoning as CAMLock: stable storage, accessed only through pthread calls.
    let cond: UnsafeMutablePointer<pthread_cond_t>

    package init() {
        cond = .allocate(capacity: 1)
        cond.initialize(to: pthread_cond_t())
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        #if os(Linux)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        #endif
        pthread_cond_init(cond, &attr)
        pthread_condattr_destroy(&attr)
    }

    deinit {
        pthread_cond_destroy(cond)
        cond.deinitialize(count: 1)
        cond.deallocate()
    }

    /// Waits; the caller holds `lock`.
    package func wait(_ lock: CAMLock) { pthread_cond_wait(cond, lock.mutex) }

    /// Waits at most `nanoseconds`; the caller holds `lock`. Returns false on time-out.
    @discardableResult
    package func wait(_ lock: CAMLock, timeoutNanoseconds: UInt64) -> Bool {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let total = UInt64(now.tv_nsec) + timeoutNanoseconds % 1_000_000_000
        var deadline = timespec()
        deadline.tv_sec = now.tv_sec + Int(timeoutNanoseconds / 1_000_000_000) + Int(total / 1_000_000_000)
        deadline.tv_nsec = Int(total % 1_000_000_000)
        return pthread_cond_timedwait(cond, lock.mutex, &deadline) == 0
    }

    package func signal() { pthread_cond_signal(cond) }
    package func broadcast() { pthread_cond_broadcast(cond) }
}

/// A value guarded by its own `CAMLock`, as swift-nio's `NIOLockedValueBox`.
package final class CAMLockedBox<Value>: @unchecked Sendable {
    // `value` is only touched inside `withLock`, under `lock`.
    private let lock = CAMLock()
    private var value: Value

    package init(_ value: Value) { self.value = value }

    package func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}

/// Monotonic time in nanoseconds (CLOCK_MONOTONIC, vDSO: no system call).
@inlinable
package func camMonotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}
