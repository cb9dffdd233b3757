import SCSI

// libFuzzer target: the parsers of device responses (standard INQUIRY, the VPD pages, mode
// parameters, READ CAPACITY, REPORT LUNS, REPORT SUPPORTED OPERATION CODES, the UNMAP list)
// and the CDB decoder. Every parser gets every input: a page is recognized by its own bytes,
// so seeds of one kind grow into the others. Nothing may trap.

/// libFuzzer's entry point (called once per input).
@_cdecl("LLVMFuzzerTestOneInput")
public func parserFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: data == nil ? 0 : size))
    parseInquiry(bytes)
    parseVPD(bytes)
    parseModeParameters(bytes)
    parseCapacityAndLUNs(bytes)
    decodeCDB(bytes)
    return 0
}

func parseInquiry(_ b: [UInt8]) {
    guard let i = StandardInquiry(b) else { return }
    _ = (i.peripheralQualifier.description, i.peripheralDeviceType.name, i.removable, i.version)
    _ = (i.responseDataFormat, i.additionalLength, i.tpgs, i.protect, i.commandQueuing)
    _ = (i.vendor, i.product, i.revision, i.vendorSpecific, i.versionDescriptors)
    _ = (i.versionName, i.scsiRevisionText, i.identification)
}

func parseVPD(_ b: [UInt8]) {
    if let h = VPDHeader(b) { _ = (h.pageLength, VPDPage.name(h.pageCode)) }
    _ = SupportedVPDPages(b)?.pages.map { VPDPage.name($0) }
    _ = UnitSerialNumber(b).map { ($0.serialNumber, $0.rawSerialNumber) }
    if let d = DeviceIdentification(b) {
        for x in d.designators {
            _ = (x.description, x.text, x.typeName, x.codeSetName, x.associationName)
            _ = (x.naa, x.relativeTargetPort, x.targetPortGroup, x.logicalUnitGroup)
        }
        _ = d.preferredLogicalUnitDesignator?.description
    }
    if let l = BlockLimits(b) {
        _ = (l.writeSameNonZero, l.maximumCompareAndWriteLength, l.optimalTransferLengthGranularity)
        _ = (l.maximumTransferLength, l.optimalTransferLength, l.maximumPrefetchLength)
        _ = (l.maximumUnmapLBACount, l.maximumUnmapBlockDescriptorCount, l.optimalUnmapGranularity)
        _ = (l.unmapGranularityAlignmentValid, l.unmapGranularityAlignment, l.maximumWriteSameLength)
        _ = (l.maximumAtomicTransferLength, l.atomicAlignment, l.atomicTransferLengthGranularity)
        _ = (l.maximumAtomicTransferLengthWithAtomicBoundary, l.maximumAtomicBoundarySize)
    }
    _ = BlockDeviceCharacteristics(b)
    _ = LogicalBlockProvisioning(b)
}

func parseModeParameters(_ b: [UInt8]) {
    for ten in [false, true] {
        if let h = ModeParameterHeader(b, tenByte: ten) { _ = (h.writeProtected, h.dpoFUASupported) }
        for select in [false, true] {
            guard let m = ModeParameters(b, tenByte: ten, forModeSelect: select) else { continue }
            for d in m.blockDescriptors { _ = (d.bytes(long: false), d.bytes(long: true)) }
            for p in m.pages {
                _ = (p.code, p.subpage, p.parametersSaveable, p.pageLength, p.parameters, p.name)
                if let c = CachingModePage(p) { exercise(c) }
                if let c = ControlModePage(p) { exercise(c) }
            }
            _ = (m.cachingPage, m.controlPage)
            // What was parsed encodes, and the encoding parses again.
            if let e = m.encode(forModeSelect: select) { _ = ModeParameters(e, tenByte: ten, forModeSelect: select) }
        }
    }
}

func exercise(_ c: CachingModePage) {
    _ = (c.initiatorControl, c.abortPrefetch, c.cachingAnalysisPermitted, c.discontinuity, c.size)
    _ = (c.writeCacheEnabled, c.multiplicationFactor, c.readCacheDisabled)
    _ = (c.demandReadRetentionPriority, c.writeRetentionPriority, c.disablePrefetchTransferLength)
    _ = (c.minimumPrefetch, c.maximumPrefetch, c.maximumPrefetchCeiling, c.forceSequentialWrite)
    _ = (c.logicalBlockCacheSegmentSize, c.disableReadAhead, c.nonVolatileCacheDisabled)
    _ = (c.numberOfCacheSegments, c.cacheSegmentSize, c.page)
}

func exercise(_ c: ControlModePage) {
    _ = (c.taskSetType, c.taskManagementFunctionsOnly, c.disableProtectionCheckIfZero, c.descriptorSense)
    _ = (c.globalLoggingTargetSaveDisable, c.reportLogExceptionCondition, c.queueAlgorithmModifier)
    _ = (c.noUnitAttentionOnRelease, c.queueErrorManagement, c.reportACheck, c.unitAttentionInterlocksControl)
    _ = (c.softwareWriteProtect, c.applicationTagOwner, c.taskAbortedStatus, c.autoloadMode)
    _ = (c.busyTimeoutPeriod, c.extendedSelfTestCompletionTime, c.page)
}

func parseCapacityAndLUNs(_ b: [UInt8]) {
    if let c = ReadCapacity10(b) { _ = (c.needsReadCapacity16, c.blockCount, c.byteCount, c.bytes) }
    if let c = ReadCapacity16(b) { _ = (c.blockCount, c.byteCount, c.physicalBlockLength, c.bytes) }
    if let r = ReportLUNsData(b) {
        _ = (r.isTruncated, r.numbers)
        for l in r.luns { _ = (l.description, l.addressMethod, l.isSingleLevel, l.isWellKnown, l.bytes) }
        _ = ReportLUNsData.encode(r.luns)
    }
    _ = LogicalUnitNumber(bytes: b).description
    if let s = SupportedOperationCodes(b) {
        for c in s.commands { _ = (c.name, c.cdbLength, c.nominalTimeout, c.recommendedTimeout) }
        _ = SupportedOperationCodes.encode(s.commands)
        if let first = s.commands.first { _ = s.supports(first.opcode, serviceAction: first.serviceAction) }
    }
    if let o = OneCommandSupport(b) {
        _ = (o.isSupported, o.timeoutsPresent)
        _ = OneCommandSupport.encode(support: o.support, usageData: o.usageData)
    }
    if let ranges = UnmapParameterList.decode(b) { _ = UnmapParameterList.bytes(ranges) }
}

func decodeCDB(_ b: [UInt8]) {
    guard let cdb = CDB(b.prefix(CDB.capacity)) else { return }
    _ = (cdb.description, cdb.commandName, cdb.serviceAction, cdb.allocationLength)
    _ = (cdb.readWriteFields, cdb.fua, cdb.dpo, cdb.protectionField, cdb.blockCountOffset, cdb.blockRange)
    for blockSize in [512, 4096] { _ = cdb.dataTransfer(blockSize: blockSize)?.length }
}
