import CAM
import SCSI

extension EmulatedDisk {
    /// Standard INQUIRY data (SPC-5 6.7.2): a direct-access device claiming SPC-5, with
    /// version descriptors for SAM-5, SPC-5 and SBC-4.
    func standardInquiry() -> [UInt8] {
        StandardInquiry.encode(vendor: configuration.vendor, product: configuration.product,
                               revision: configuration.revision, versionDescriptors: [0x00A0, 0x05C0, 0x0600])
    }

    static let supportedVPDPages: [UInt8] = [
        VPDPage.supportedPages, VPDPage.unitSerialNumber, VPDPage.deviceIdentification,
        VPDPage.blockLimits, VPDPage.blockDeviceCharacteristics, VPDPage.logicalBlockProvisioning,
    ]

    /// A VPD page (SPC-5 7.7, SBC-4 6.6), or nil when the page is not supported.
    func vitalProductData(_ page: UInt8) -> [UInt8]? {
        switch page {
        case VPDPage.supportedPages:
            return SupportedVPDPages.encode(Self.supportedVPDPages)
        case VPDPage.unitSerialNumber:
            return UnitSerialNumber.encode(serialNumber)
        case VPDPage.deviceIdentification:
            return DeviceIdentification.encode([
                .naa(naaIdentifier),
                .t10VendorID(vendor: configuration.vendor, product: configuration.product, serialNumber: serialNumber),
            ])
        case VPDPage.blockLimits:
            // WSNZ: WRITE SAME with zero blocks is refused. Unmapping frees whole RAM chunks.
            let transfer = UInt32(clamping: maxTransferBlocks)
            return BlockLimits.encode(
                writeSameNonZero: true, optimalTransferLengthGranularity: 1, maximumTransferLength: transfer,
                optimalTransferLength: transfer, maximumUnmapLBACount: UInt32(clamping: Self.maxUnmapBlocks),
                maximumUnmapBlockDescriptorCount: UInt32(clamping: Self.maxUnmapDescriptors),
                optimalUnmapGranularity: UInt32(max(1, RAMStore.chunkSize / sectorSize)), unmapGranularityAlignment: 0)
        case VPDPage.blockDeviceCharacteristics:
            return BlockDeviceCharacteristics.encode(mediumRotationRate: 1) // non-rotating
        case VPDPage.logicalBlockProvisioning:
            // UNMAP and WRITE SAME(16) with UNMAP; unmapped blocks read as zeros; thin.
            return LogicalBlockProvisioning.encode(unmapSupported: true, writeSame16UnmapSupported: true,
                                                   readZeroes: 1, provisioningType: 2)
        default:
            return nil
        }
    }
}

extension TargetSlot {
    /// REPORT LUNS (SPC-5 6.33), answered by the target whatever LUN it was sent to.
    func reportLUNsLocked(_ ccb: CCB, _ cdb: CDB) throws(CheckCondition) -> Int {
        let select = cdb[2]
        guard select <= 2 else { throw CheckCondition(.invalidFieldInCDB(byte: 2)) }
        // Select 1 asks for well-known LUNs only; this target has none.
        let luns = select == 1 ? [] : disks.compactMap { LogicalUnitNumber(number: $0.lun) }
        return DataPhase.send(ccb, ReportLUNsData.encode(luns), allocation: cdb.allocationLength ?? 0)
    }

    /// A command to a LUN this target does not have (SPC-5 6.7.2, 4.6.2): INQUIRY answers with
    /// peripheral qualifier 3, REPORT LUNS with the list, REQUEST SENSE with LOGICAL UNIT NOT
    /// SUPPORTED as data, anything else with it as CHECK CONDITION.
    func runWithoutLUNLocked(_ ccb: CCB) {
        let cdb = ccb.cdb
        let op = cdb.opcode
        let length = Int(CommandTable.cdbLength[Int(op)])
        let notSupported = SenseBuilder(key: .illegalRequest, .logicalUnitNotSupported)
        if length > 0 && cdb.count >= length {
            switch SCSIOpcode(op) {
            case .inquiry where cdb[1] & 0x01 == 0:
                let data = StandardInquiry.encode(type: .unknown, qualifier: .notSupported, vendor: "", product: "", revision: "")
                let moved = DataPhase.send(ccb, data, allocation: cdb.allocationLength ?? 0)
                ccb.complete(status: .requestComplete, scsiStatus: .good, residual: ccb.data.length - moved)
                return
            case .reportLUNs:
                do {
                    let moved = try reportLUNsLocked(ccb, cdb)
                    ccb.complete(status: .requestComplete, scsiStatus: .good, residual: ccb.data.length - moved)
                } catch {
                    TargetSlot.fail(ccb, error, descriptor: false)
                }
                return
            case .requestSense:
                let moved = DataPhase.sendSense(ccb, notSupported, descriptor: cdb[1] & 0x01 != 0, allocation: cdb.allocationLength ?? 0)
                ccb.complete(status: .requestComplete, scsiStatus: .good, residual: ccb.data.length - moved)
                return
            default:
                break
            }
        }
        TargetSlot.fail(ccb, CheckCondition(notSupported), descriptor: false)
    }

    /// CHECK CONDITION with autosense (unless the CCB turned autosense off).
    static func fail(_ ccb: CCB, _ check: CheckCondition, descriptor: Bool) {
        ccb.complete(status: .scsiStatusError, scsiStatus: .checkCondition,
                     residual: ccb.data.length - check.transferred)
        if ccb.flags.contains(.disableAutosense) {
            ccb.senseLength = 0
        } else {
            ccb.senseLength = check.sense.write(descriptor ? .descriptor : .fixed, into: ccb.senseBuffer)
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
        let requestedAction = UInt16(cdb.bigEndian(at: 4, width: 2))
        let data: [UInt8]
        switch options {
        case 0:
            data = SupportedOperationCodes.encode(commands.map {
                CommandDescriptor(opcode: $0.opcode.rawValue, serviceAction: $0.serviceAction.map(UInt16.init),
                                  cdbLength: $0.cdbLength, nominalTimeout: rctd ? 0 : nil, recommendedTimeout: rctd ? 0 : nil)
            })
        case 1, 2, 3:
            let hasActions = hasServiceActions(requested)
            if options == 1 && hasActions { throw CheckCondition(.invalidFieldInCDB(byte: 3)) }
            if options == 2 && !hasActions && cdbLength[Int(requested)] != 0 {
                throw CheckCondition(.invalidFieldInCDB(byte: 3))
            }
            if let c = find(requested, serviceAction: hasActions ? requestedAction : nil) {
                data = OneCommandSupport.encode(support: 3, usageData: c.usage, timeouts: rctd ? (0, 0) : nil)
            } else {
                data = OneCommandSupport.encode(support: 1)
            }
        default:
            throw CheckCondition(.invalidFieldInCDB(byte: 2, bit: 2))
        }
        return DataPhase.send(ccb, data, allocation: cdb.allocationLength ?? 0)
    }
}
