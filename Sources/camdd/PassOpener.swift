import CAM
import CAMDD

/// Opens `-i`/`-o` endpoints: files directly, pass devices through the shared device
/// specifier parser (emu:disk..., /dev/sgN, iscsi://..., passN, B:T:L).
final class PassOpener {

    func open(_ options: EndpointOptions, role: EndpointRole, settings: IOSettings) throws(CAMDDError) -> Endpoint {
        switch options.kind {
        case .file:
            return try Endpoint.file(options, role: role)
        case .pass:
            throw CAMDDError(.openFailed, "cannot open pass=\(options.name): interim build without device specifiers")
        }
    }

    /// Stops the SIMs' and CAM's threads.
    func shutdown() {}
}
