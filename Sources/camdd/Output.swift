#if canImport(Glibc)
import Glibc
#endif

/// camdd(8) reports with warnx: "camdd: message".
func warn(_ message: String) {
    let text = message.hasPrefix("camdd: ") || message.hasPrefix("(") ? message : "camdd: " + message
    writeStandardError(text.hasSuffix("\n") ? text : text + "\n")
}

func writeStandardError(_ s: String) { writeAll(2, s) }

func writeAll(_ fd: Int32, _ s: String) {
    var bytes = Array(s.utf8)
    var off = 0
    while off < bytes.count {
        let n = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress! + off, $0.count - off) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return }
        off += n
    }
}
