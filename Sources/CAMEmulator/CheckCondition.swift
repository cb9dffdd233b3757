import SCSI

/// A command ended in CHECK CONDITION: the sense (built by the SCSI module's `SenseBuilder`,
/// a small value, so failing a command allocates nothing), and the bytes moved before it failed.
struct CheckCondition: Error {
    var sense: SenseBuilder
    var transferred: Int

    init(_ sense: SenseBuilder, transferred: Int = 0) {
        self.sense = sense
        self.transferred = transferred
    }

    init(_ key: SenseKey, _ code: AdditionalSenseCode, information: UInt64? = nil, transferred: Int = 0) {
        self.init(SenseBuilder(key: key, code, information: information), transferred: transferred)
    }
}
