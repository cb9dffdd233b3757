import CAM
import SCSI

extension EmulatedDisk {
    /// Standard INQUIRY data (SPC-5 6.7.2), 96 bytes: a direct-access device claiming SPC-5,
    /// HISUP, response format 2, command queuing, and version descriptors for SAM-5, SPC-5
    /// and SBC-4.
    func standardInquiry() -> [UInt8] {
        var d: [UInt8] = [0x00, 0x00, 0x07, 0x12, 96 - 5, 0x00, 0x00, 0x02]
        d.reserveCapacity(96)
        d.appendPadded(configuration.vendor, 8)
        d.appendPadded(configuration.product, 16)
        d.appendPadded(configuration.revision, 4)
        d += [UInt8](repeating: 0, count: 58 - 36)
        for descriptor: UInt64 in [0x00A0, 0x05C0, 0x0600] { d.appendBE(descriptor, 2) }
        d += [UInt8](repeating: 0, count: 96 - d.count)
        return d
    }

    static let supportedVPDPages: [UInt8] = [0x00, 0x80, 0x83, 0xB0, 0xB1, 0xB2]

    /// A VPD page (SPC-5 7.7, SBC-4 6.6), or nil when the page is not supported.
    func vitalProductData(_ page: UInt8) -> [UInt8]? {
        var d: [UInt8] = [0x00, page, 0, 0]
        switch page {
        case 0x00: // Supported VPD pages
            d += Self.supportedVPDPages
        case 0x80: // Unit serial number
            d.appendPadded(serialNumber, serialNumber.utf8.count)
        case 0x83: // Device identification
            // NAA IEEE Registered, binary, associated with the logical unit.
            d += [0x01, 0x03, 0x00, 0x08]
            d.appendBE(naaIdentifier, 8)
            // T10 vendor ID: vendor, product, serial, ASCII.
            let t10Length = 8 + 16 + serialNumber.utf8.count
            d += [0x02, 0x01, 0x00, UInt8(t10Length)]
            d.appendPadded(configuration.vendor, 8)
            d.appendPadded(configuration.product, 16)
            d.appendPadded(serialNumber, serialNumber.utf8.count)
        case 0xB0: // Block limits
            var p = [UInt8](repeating: 0, count: 0x3C)
            p[0] = 0x01 // WSNZ: WRITE SAME with zero blocks is refused
            p.setBE(1, at: 2, 2) // optimal transfer length granularity
            p.setBE(maxTransferBlocks, at: 4, 4)
            p.setBE(maxTransferBlocks, at: 8, 4) // optimal transfer length
            p.setBE(Self.maxUnmapBlocks, at: 16, 4)
            p.setBE(Self.maxUnmapDescriptors, at: 20, 4)
            p.setBE(UInt64(max(1, RAMStore.chunkSize / sectorSize)), at: 24, 4) // optimal unmap granularity
            p.setBE(0x8000_0000, at: 28, 4) // UGAVALID, alignment 0
            d += p
        case 0xB1: // Block device characteristics
            var p = [UInt8](repeating: 0, count: 0x3C)
            p.setBE(1, at: 0, 2) // medium rotation rate 1: non-rotating
            d += p
        case 0xB2: // Logical block provisioning
            // LBPU and LBPWS (UNMAP and WRITE SAME(16) with UNMAP), LBPRZ 1 (unmapped reads
            // zeros), provisioning type 2 (thin).
            d += [0x00, 0xC4, 0x02, 0x00]
        default:
            return nil
        }
        d.setBE(UInt64(d.count - 4), at: 2, 2)
        return d
    }
}

extension TargetSlot {
    /// REPORT LUNS (SPC-5 6.33), answered by the target whatever LUN it was sent to.
    /// Single-level LUNs: peripheral addressing below 256, flat addressing above (SAM-5 4.7).
    func reportLUNsLocked(_ ccb: CCB, _ cdb: CDB) throws(CheckCondition) -> Int {
        let select = cdb[2]
        guard select <= 2 else { throw CheckCondition(.invalidFieldInCDB(byte: 2)) }
        let allocation = Int(cdb.be(6, 4))
        // Select 1 asks for well-known LUNs only; this target has none.
        let luns = select == 1 ? [] : disks.map(\.lun)
        var d: [UInt8] = []
        d.reserveCapacity(8 + 8 * luns.count)
        d.appendBE(UInt64(8 * luns.count), 4)
        d.appendBE(0, 4)
        for lun in luns {
            if lun < 256 {
                d += [0x00, UInt8(lun)]
            } else {
                d += [0x40 | UInt8(lun >> 8), UInt8(lun & 0xFF)]
            }
            d += [0, 0, 0, 0, 0, 0]
        }
        return DataPhase.send(ccb, d, allocation: allocation)
    }

    /// A command to a LUN this target does not have (SPC-5 6.7.2, 4.6.2): INQUIRY answers with
    /// peripheral qualifier 3, REPORT LUNS with the list, REQUEST SENSE with LOGICAL UNIT NOT
    /// SUPPORTED as data, anything else with it as CHECK CONDITION.
    func runWithoutLUNLocked(_ ccb: CCB) {
        let cdb = ccb.cdb
        let op = cdb.opcode
        let length = Int(CommandTable.cdbLength[Int(op)])
        var moved = 0
        if length > 0 && cdb.count >= length {
            switch op {
            case 0x12 where cdb[1] & 0x01 == 0:
                var d: [UInt8] = [0x7F, 0x00, 0x07, 0x12, 31, 0x00, 0x00, 0x00]
                d += [UInt8](repeating: 0x20, count: 28)
                moved = DataPhase.send(ccb, d, allocation: Int(cdb.be(3, 2)))
                ccb.complete(status: .requestComplete, scsiStatus: .good, residual: ccb.data.length - moved)
                return
            case 0xA0:
                do {
                    moved = try reportLUNsLocked(ccb, cdb)
                    ccb.complete(status: .requestComplete, scsiStatus: .good, residual: ccb.data.length - moved)
                } catch {
                    TargetSlot.fail(ccb, error, descriptor: false)
                }
                return
            case 0x03:
                moved = withUnsafeTemporaryAllocation(byteCount: 64, alignment: 8) { buf in
                    let n = Sense.lunNotSupported.write(into: buf, descriptor: cdb[1] & 0x01 != 0)
                    return DataPhase.send(ccb, UnsafeRawBufferPointer(rebasing: buf[0..<n]), allocation: Int(cdb[4]))
                }
                ccb.complete(status: .requestComplete, scsiStatus: .good, residual: ccb.data.length - moved)
                return
            default:
                break
            }
        }
        TargetSlot.fail(ccb, CheckCondition(.lunNotSupported), descriptor: false)
    }

    /// CHECK CONDITION with autosense (unless the CCB turned autosense off).
    static func fail(_ ccb: CCB, _ check: CheckCondition, descriptor: Bool) {
        ccb.complete(status: .scsiStatusError, scsiStatus: .checkCondition,
                     residual: ccb.data.length - check.transferred)
        if ccb.flags.contains(.disableAutosense) {
            ccb.senseLength = 0
        } else {
            ccb.senseLength = check.sense.write(into: ccb.senseBuffer, descriptor: descriptor)
        }
    }
}

extension CommandTable {
    /// REPORT SUPPORTED OPERATION CODES (SPC-5 6.35): all commands, or one with its CDB usage
    /// map; with RCTD, a command timeouts descriptor (no timeouts specified).
    static func reportSupportedOperationCodes(_ ccb: CCB, _ cdb: CDB) throws(CheckCondition) -> Int {
        let rctd = cdb[2] & 0x80 != 0
        let options = cdb[2] & 0x07
        let requested = cdb[3]
        let requestedAction = UInt16(cdb.be(4, 2))
        let allocation = Int(cdb.be(6, 4))
        let timeouts: [UInt8] = [0x00, 0x0A, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]
        var d: [UInt8] = []
        switch options {
        case 0:
            d = [0, 0, 0, 0]
            for c in commands {
                d.append(c.opcode)
                d.append(0)
                d.appendBE(UInt64(c.serviceAction ?? 0), 2)
                d.append(0)
                d.append((rctd ? 0x02 : 0x00) | (c.serviceAction != nil ? 0x01 : 0x00))
                d.appendBE(UInt64(c.cdbLength), 2)
                if rctd { d += timeouts }
            }
            d.setBE(UInt64(d.count - 4), at: 0, 4)
        case 1, 2, 3:
            let hasActions = hasServiceActions(requested)
            if options == 1 && hasActions { throw CheckCondition(.invalidFieldInCDB(byte: 3)) }
            if options == 2 && !hasActions && CommandTable.cdbLength[Int(requested)] != 0 {
                throw CheckCondition(.invalidFieldInCDB(byte: 3))
            }
            if let c = find(requested, serviceAction: hasActions ? requestedAction : nil) {
                d = [0x00, (rctd ? 0x80 : 0x00) | 0x03]
                d.appendBE(UInt64(c.cdbLength), 2)
                d += c.usage
                if rctd { d += timeouts }
            } else {
                d = [0x00, 0x01, 0x00, 0x00] // SUPPORT 001b: not supported
            }
        default:
            throw CheckCondition(.invalidFieldInCDB(byte: 2, bit: 2))
        }
        return DataPhase.send(ccb, d, allocation: allocation)
    }
}
