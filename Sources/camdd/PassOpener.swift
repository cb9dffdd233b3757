import CAM
import CAMDD
import CAMISCSI
import CAMSpecifier

/// Opens `-i`/`-o` endpoints: files directly, pass devices through the shared device
/// specifier parser (emu:disk..., /dev/sgN, iscsi://..., passN, B:T:L).
final class PassOpener {
    private var opener: DeviceOpener?
    private let buses: [String]

    init(buses: [String] = []) { self.buses = buses }

    func open(_ options: EndpointOptions, role: EndpointRole, settings: IOSettings) throws(CAMDDError) -> Endpoint {
        switch options.kind {
        case .file:
            return try Endpoint.file(options, role: role)
        case .pass:
            let o = opener ?? DeviceOpener(buses: buses)
            opener = o
            let handle: PassHandle
            do {
                handle = try o.open(options.name)
            } catch {
                // The name may be an iSCSI URL with a CHAP password in it: never print that.
                throw CAMDDError(.openFailed, "cannot open pass=\(ISCSIURL.maskedForMessage(options.name)): \(error)")
            }
            return try Endpoint.pass(handle, options: options, role: role, settings: settings)
        }
    }

    /// Stops the SIMs' and CAM's threads.
    func shutdown() { opener?.xpt.shutdown() }
}
