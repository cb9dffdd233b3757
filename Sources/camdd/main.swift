import CAMDD

// Signals first, before any thread exists: SIGINT, SIGTERM and SIGUSR1 are blocked here and
// in every thread started later (the CAM workers, the SIMs, the copy), and read through a
// signalfd by the copy's controlling loop.
let copySignals = try? CopySignals()

Camdd.main()
