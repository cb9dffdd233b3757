#if canImport(Glibc)
import Glibc
#endif
import CAMDD

/// One camdd run, as the command line asked for it (checked by `CamddCommand(parsing:)`).
struct Invocation {
    var inputOptions: EndpointOptions
    var outputOptions: EndpointOptions
    var buses: [String] = []
    var retryCount = 1
    var errorRecovery = false
    var maxBytes: UInt64?
    var timeout: Int?
    var verbose = false
    var progress = false
    var json = false
    var benchPrefill = false

    init(inputOptions: EndpointOptions, outputOptions: EndpointOptions) {
        self.inputOptions = inputOptions
        self.outputOptions = outputOptions
    }

    /// Copies, printing the statistics as camdd(8) does; the exit status (0, or 1 when the copy
    /// failed or could not start, said on stderr).
    func run() -> Int32 {
        var settings = IOSettings()
        settings.retryCount = retryCount
        settings.errorRecovery = errorRecovery
        if let t = timeout, t > 0 { settings.timeout = .seconds(t) }
        settings.verbose = verbose

        let opener = PassOpener(buses: buses)
        let input: Endpoint
        let output: Endpoint
        do {
            input = try opener.open(inputOptions, role: .input, settings: settings)
            for w in input.warnings { warn(w) }
            output = try opener.open(outputOptions, role: .output, settings: settings)
            for w in output.warnings { warn(w) }
        } catch {
            warn("\(error)")
            return 1
        }
        if benchPrefill, input.kind == .pass {
            do {
                try prefill(input, opener: opener, settings: settings)
            } catch {
                warn("\(error)")
                return 1
            }
        }
        let engine: CopyEngine
        do {
            engine = try CopyEngine(input: input, output: output, maxBytes: maxBytes, settings: settings)
        } catch {
            warn("\(error)")
            return 1
        }
        engine.summarizesLatency = json
        let progress = progress
        var progressShown = false
        let result: CopyResult
        do {
            result = try engine.run(
                signals: copySignals, progressInterval: progress ? .seconds(1) : nil,
                onStatus: { stats in
                    if progressShown { writeStandardError("\n"); progressShown = false }
                    writeStandardError(stats.freeBSDText)
                },
                onProgress: { stats in
                    writeStandardError("\r" + stats.progressLine + "   ")
                    progressShown = true
                })
        } catch {
            warn("\(error)")
            return 1
        }
        if progress {
            writeStandardError((progressShown ? "\r" : "") + result.statistics.progressLine + "   \n")
        }
        writeStandardError(result.statistics.freeBSDText)
        if json {
            let line = result.statistics.json(outcome: result.outcome.rawValue, message: result.error) + "\n"
            writeAll(1, line)
        }
        input.close()
        output.close()
        opener.shutdown()
        return result.outcome == .completed ? 0 : 1
    }
}

/// Writes zeros over the whole of `input`'s device through a second handle, untimed.
func prefill(_ input: Endpoint, opener: PassOpener, settings: IOSettings) throws(CAMDDError) {
    var o = EndpointOptions(kind: .pass, name: input.options.name)
    o.blockSize = UInt64(input.blockSize)
    o.depth = input.depth
    let target = try opener.open(o, role: .output, settings: settings)
    let zero = try Endpoint.file(EndpointOptions(kind: .file, name: "/dev/zero"), role: .input)
    let e = try CopyEngine(input: zero, output: target, maxBytes: target.capacity, settings: settings, report: { _ in })
    _ = try e.run(signals: nil)
    target.close()
    zero.close()
}

