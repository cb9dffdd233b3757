#if canImport(Glibc)
import Glibc
#endif
import CAMDD

// Signals first, before any thread exists: SIGINT, SIGTERM and SIGUSR1 are blocked here and
// in every thread started later (the CAM workers, the SIMs, the copy), and read through a
// signalfd by the copy's controlling loop.
let copySignals = try? CopySignals()

// One parser for every command line (Options.swift says why it is not ArgumentParser).
do {
    switch try CamddCommand(parsing: Array(CommandLine.arguments.dropFirst())) {
    case .copy(let invocation):
        exit(invocation.run())
    case .help:
        writeAll(1, Help.text)
    case .memcpyBench:
        MemcpyBench.run()
    }
    exit(0)
} catch {
    // As camdd(8): the problem, then the usage; EX_USAGE.
    writeStandardError("camdd: \(error)\n" + Help.usage + "See 'camdd --help' for more information.\n")
    exit(64)
}
