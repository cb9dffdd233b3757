import CCAMSystem

/// Names the calling thread (pthread_setname_np(3)), as `top -H` and debuggers show it. The
/// kernel keeps 15 bytes; longer names are cut there.
package func setCurrentThreadName(_ name: String) {
    var cut = Substring(name)
    while cut.utf8.count > 15 { cut = cut.dropLast() }
    _ = CCAMSystem_set_thread_name(String(cut))
}
