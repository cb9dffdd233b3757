#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import CAMDD

// Signals first, before any thread exists: SIGINT, SIGTERM and SIGUSR1 are blocked here and
// in every thread started later (the CAM workers, the SIMs, the copy), and read through a
// signalfd by the copy's controlling loop.
let copySignals = try? CopySignals()

// The common command line skips ArgumentParser's set-up (see Invocation.quickParse).
if let invocation = Invocation.quickParse(Array(CommandLine.arguments.dropFirst())) {
    do {
        try invocation.run()
        exit(0)
    } catch let e as ExitCode {
        exit(e.rawValue)
    } catch {
        warn("\(error)")
        exit(1)
    }
}
Camdd.main()
