// Raw bytes captured from a real iSCSI target: tgt 1.0.85 (tgtd), read with libiscsi 1.19.0 by
// scripts/capture/scsi-capture (run through scripts/capture/run.sh; the full log, with what
// iscsi-inq and iscsi-readcapacity16 print for the same LUNs, is scripts/capture/capture.txt).
//
// LUN 1: 64 MiB backing file, 512-byte blocks, default settings (fixed-format sense).
// LUN 2: 32 MiB backing file, --blocksize 4096, thin_provisioning=1, sense_format=1
//        (descriptor-format sense).

func hex(_ s: String) -> [UInt8] {
    s.split(separator: " ").map { UInt8($0, radix: 16)! }
}

enum TGT {
    /// LUN 1: iscsi_inquiry_sync(evpd 0, 255).
    static let lun1Inquiry = hex(
        "00 00 05 12 3d 00 00 02 49 45 54 20 20 20 20 20 56 49 52 54 55 41 4c 2d 44 49 53 4b 20 20 20 20 " +
        "30 30 30 31 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 04 c0 09 60 03 00 " +
        "00 00"
    )
    /// LUN 1: INQUIRY EVPD page 0x00.
    static let lun1Vpd00 = hex("00 00 00 06 00 80 83 b0 b1 b2")
    /// LUN 1: INQUIRY EVPD page 0x80.
    static let lun1Vpd80 = hex(
        "00 80 00 24 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 " +
        "20 20 62 65 61 66 31 31"
    )
    /// LUN 1: INQUIRY EVPD page 0x83.
    static let lun1Vpd83 = hex(
        "00 83 00 48 02 01 00 24 49 45 54 20 20 20 20 20 30 30 30 31 30 30 30 31 00 00 00 00 00 00 00 00 " +
        "00 00 00 00 00 00 00 00 00 00 00 00 01 03 00 08 30 00 00 01 00 00 00 01 01 03 00 10 60 00 00 00 " +
        "00 00 00 00 0e 00 00 00 00 01 00 01"
    )
    /// LUN 1: INQUIRY EVPD page 0xB0.
    static let lun1Vpdb0 = hex(
        "00 b0 00 3c 00 80 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 " +
        "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
    )
    /// LUN 1: INQUIRY EVPD page 0xB1.
    static let lun1Vpdb1 = hex(
        "00 b1 00 40 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 " +
        "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 " +
        "00 00 00 00"
    )
    /// LUN 1: INQUIRY EVPD page 0xB2.
    static let lun1Vpdb2 = hex("00 b2 00 04 00 00 00 00")
    /// LUN 1: iscsi_readcapacity10_sync.
    static let lun1Readcap10 = hex("00 01 ff ff 00 00 02 00")
    /// LUN 1: iscsi_readcapacity16_sync.
    static let lun1Readcap16 = hex("00 00 00 00 00 01 ff ff 00 00 02 00 00 03 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00")
    /// LUN 1: iscsi_reportluns_sync(report 0, 4096).
    static let lun1Reportluns = hex("00 00 00 18 00 00 00 00 00 00 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 02 00 00 00 00 00 00")
    /// LUN 1: MODE SENSE(6) page 0x3F, current.
    static let lun1Modesense6All = hex(
        "69 00 10 08 00 00 00 00 00 00 02 00 00 00 02 0e 80 80 00 0a 00 00 00 00 00 00 00 00 00 00 08 12 " +
        "14 00 ff ff 00 00 ff ff ff ff 80 14 00 00 00 00 00 00 0a 0a 02 10 00 00 00 00 00 00 02 00 4a 01 " +
        "00 1c 04 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 1c 0a " +
        "08 00 00 00 00 00 00 00 00 00"
    )
    /// LUN 1: MODE SENSE(6) page 0x08.
    static let lun1Modesense6Caching = hex("1f 00 10 08 00 00 00 00 00 00 02 00 08 12 14 00 ff ff 00 00 ff ff ff ff 80 14 00 00 00 00 00 00")
    /// LUN 1: MODE SENSE(6) page 0x0A.
    static let lun1Modesense6Control = hex("17 00 10 08 00 00 00 00 00 00 02 00 0a 0a 02 10 00 00 00 00 00 00 02 00")
    /// LUN 1: MODE SENSE(6) page 0x08, DBD.
    static let lun1Modesense6CachingDbd = hex("17 00 10 00 08 12 14 00 ff ff 00 00 ff ff ff ff 80 14 00 00 00 00 00 00")
    /// LUN 1: MODE SENSE(10) page 0x3F.
    static let lun1Modesense10All = hex(
        "00 6c 00 10 00 00 00 08 00 00 00 00 00 00 02 00 00 00 02 0e 80 80 00 0a 00 00 00 00 00 00 00 00 " +
        "00 00 08 12 14 00 ff ff 00 00 ff ff ff ff 80 14 00 00 00 00 00 00 0a 0a 02 10 00 00 00 00 00 00 " +
        "02 00 4a 01 00 1c 04 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 " +
        "00 00 1c 0a 08 00 00 00 00 00 00 00 00 00"
    )
    /// LUN 1: REPORT SUPPORTED OPERATION CODES, all.
    static let lun1Rsoc = hex(
        "00 00 01 90 00 00 00 00 00 00 00 06 03 00 00 00 00 00 00 06 04 00 00 00 00 00 00 06 08 00 00 00 " +
        "00 00 00 06 0a 00 00 00 00 00 00 06 12 00 00 00 00 00 00 06 15 00 00 00 00 00 00 06 16 00 00 00 " +
        "00 00 00 06 17 00 00 00 00 00 00 06 1a 00 00 00 00 00 00 06 1b 00 00 00 00 00 00 06 1d 00 00 00 " +
        "00 00 00 06 1e 00 00 00 00 00 00 06 25 00 00 00 00 00 00 0a 28 00 00 00 00 00 00 0a 2a 00 00 00 " +
        "00 00 00 0a 2e 00 00 00 00 00 00 0a 2f 00 00 00 00 00 00 0a 34 00 00 00 00 00 00 0a 35 00 00 00 " +
        "00 00 00 0a 41 00 00 00 00 00 00 0a 42 00 00 00 00 00 00 0a 55 00 00 00 00 00 00 0a 5a 00 00 00 " +
        "00 00 00 0a 5e 00 00 00 00 01 00 0a 5e 00 00 01 00 01 00 0a 5e 00 00 02 00 01 00 0a 5f 00 00 00 " +
        "00 01 00 0a 5f 00 00 01 00 01 00 0a 5f 00 00 02 00 01 00 0a 5f 00 00 03 00 01 00 0a 5f 00 00 04 " +
        "00 01 00 0a 5f 00 00 06 00 01 00 0a 5f 00 00 07 00 01 00 0a 88 00 00 00 00 00 00 10 8a 00 00 00 " +
        "00 00 00 10 8b 00 00 00 00 00 00 10 8e 00 00 00 00 00 00 10 8f 00 00 00 00 00 00 10 90 00 00 00 " +
        "00 00 00 10 91 00 00 00 00 00 00 10 93 00 00 00 00 00 00 10 9e 00 00 10 00 01 00 10 9e 00 00 12 " +
        "00 01 00 10 a0 00 00 00 00 00 00 0c a3 00 00 0c 00 01 00 0c a8 00 00 00 00 00 00 0c aa 00 00 00 " +
        "00 00 00 0c ae 00 00 00 00 00 00 0c af 00 00 00 00 00 00 0c"
    )
    /// LUN 1: sense of READ(10) 28 00 7f ff ff f0 00 00 01 00.
    static let lun1Read10PastEnd = hex("70 00 05 00 00 00 00 0a 00 00 00 00 21 00 00 00 00 00")
    /// LUN 1: sense of READ(16) at LBA 0x100000000.
    static let lun1Read16PastEnd = hex("70 00 05 00 00 00 00 0a 00 00 00 00 21 00 00 00 00 00")
    /// LUN 1: sense of opcode 0x02.
    static let lun1BadOpcode = hex("70 00 05 00 00 00 00 0a 00 00 00 00 20 00 00 00 00 00")
    /// LUN 1: sense of INQUIRY 12 00 83 00 ff 00 (page without EVPD).
    static let lun1InquiryBadField = hex("70 00 05 00 00 00 00 0a 00 00 00 00 24 00 00 00 00 00")
    /// LUN 1: sense of MODE SENSE(6) page 0x2E.
    static let lun1ModesenseBadPage = hex("70 00 05 00 00 00 00 0a 00 00 00 00 24 00 00 00 00 00")
    /// LUN 1: REQUEST SENSE data after the errors.
    static let lun1RequestSense = hex("70 00 00 00 00 00 00 0a 00 00 00 00 00 00 00 00 00 00")
    /// LUN 2: iscsi_inquiry_sync(evpd 0, 255).
    static let lun2Inquiry = hex(
        "00 00 05 12 3d 00 00 02 49 45 54 20 20 20 20 20 56 49 52 54 55 41 4c 2d 44 49 53 4b 20 20 20 20 " +
        "30 30 30 31 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 04 c0 09 60 03 00 " +
        "00 00"
    )
    /// LUN 2: INQUIRY EVPD page 0x00.
    static let lun2Vpd00 = hex("00 00 00 06 00 80 83 b0 b1 b2")
    /// LUN 2: INQUIRY EVPD page 0x80.
    static let lun2Vpd80 = hex(
        "00 80 00 24 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 " +
        "20 20 62 65 61 66 31 32"
    )
    /// LUN 2: INQUIRY EVPD page 0x83.
    static let lun2Vpd83 = hex(
        "00 83 00 48 02 01 00 24 49 45 54 20 20 20 20 20 30 30 30 31 30 30 30 32 00 00 00 00 00 00 00 00 " +
        "00 00 00 00 00 00 00 00 00 00 00 00 01 03 00 08 30 00 00 01 00 00 00 02 01 03 00 10 60 00 00 00 " +
        "00 00 00 00 0e 00 00 00 00 01 00 02"
    )
    /// LUN 2: INQUIRY EVPD page 0xB0.
    static let lun2Vpdb0 = hex(
        "00 b0 00 3c 00 80 00 00 00 00 00 00 00 00 00 00 00 00 00 00 ff ff ff ff ff ff ff ff 00 00 00 00 " +
        "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
    )
    /// LUN 2: INQUIRY EVPD page 0xB1.
    static let lun2Vpdb1 = hex(
        "00 b1 00 40 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 " +
        "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 " +
        "00 00 00 00"
    )
    /// LUN 2: INQUIRY EVPD page 0xB2.
    static let lun2Vpdb2 = hex("00 b2 00 04 00 e4 02 00")
    /// LUN 2: iscsi_readcapacity10_sync.
    static let lun2Readcap10 = hex("00 00 1f ff 00 00 10 00")
    /// LUN 2: iscsi_readcapacity16_sync.
    static let lun2Readcap16 = hex("00 00 00 00 00 00 1f ff 00 00 10 00 00 00 c0 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00")
    /// LUN 2: iscsi_reportluns_sync(report 0, 4096).
    static let lun2Reportluns = hex("00 00 00 18 00 00 00 00 00 00 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 02 00 00 00 00 00 00")
    /// LUN 2: MODE SENSE(6) page 0x3F, current.
    static let lun2Modesense6All = hex(
        "69 00 10 08 00 00 00 00 00 00 10 00 00 00 02 0e 80 80 00 0a 00 00 00 00 00 00 00 00 00 00 08 12 " +
        "14 00 ff ff 00 00 ff ff ff ff 80 14 00 00 00 00 00 00 0a 0a 02 10 00 00 00 00 00 00 02 00 4a 01 " +
        "00 1c 04 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 1c 0a " +
        "08 00 00 00 00 00 00 00 00 00"
    )
    /// LUN 2: MODE SENSE(6) page 0x08.
    static let lun2Modesense6Caching = hex("1f 00 10 08 00 00 00 00 00 00 10 00 08 12 14 00 ff ff 00 00 ff ff ff ff 80 14 00 00 00 00 00 00")
    /// LUN 2: MODE SENSE(6) page 0x0A.
    static let lun2Modesense6Control = hex("17 00 10 08 00 00 00 00 00 00 10 00 0a 0a 02 10 00 00 00 00 00 00 02 00")
    /// LUN 2: MODE SENSE(6) page 0x08, DBD.
    static let lun2Modesense6CachingDbd = hex("17 00 10 00 08 12 14 00 ff ff 00 00 ff ff ff ff 80 14 00 00 00 00 00 00")
    /// LUN 2: MODE SENSE(10) page 0x3F.
    static let lun2Modesense10All = hex(
        "00 6c 00 10 00 00 00 08 00 00 00 00 00 00 10 00 00 00 02 0e 80 80 00 0a 00 00 00 00 00 00 00 00 " +
        "00 00 08 12 14 00 ff ff 00 00 ff ff ff ff 80 14 00 00 00 00 00 00 0a 0a 02 10 00 00 00 00 00 00 " +
        "02 00 4a 01 00 1c 04 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 " +
        "00 00 1c 0a 08 00 00 00 00 00 00 00 00 00"
    )
    /// LUN 2: REPORT SUPPORTED OPERATION CODES, all.
    static let lun2Rsoc = hex(
        "00 00 01 90 00 00 00 00 00 00 00 06 03 00 00 00 00 00 00 06 04 00 00 00 00 00 00 06 08 00 00 00 " +
        "00 00 00 06 0a 00 00 00 00 00 00 06 12 00 00 00 00 00 00 06 15 00 00 00 00 00 00 06 16 00 00 00 " +
        "00 00 00 06 17 00 00 00 00 00 00 06 1a 00 00 00 00 00 00 06 1b 00 00 00 00 00 00 06 1d 00 00 00 " +
        "00 00 00 06 1e 00 00 00 00 00 00 06 25 00 00 00 00 00 00 0a 28 00 00 00 00 00 00 0a 2a 00 00 00 " +
        "00 00 00 0a 2e 00 00 00 00 00 00 0a 2f 00 00 00 00 00 00 0a 34 00 00 00 00 00 00 0a 35 00 00 00 " +
        "00 00 00 0a 41 00 00 00 00 00 00 0a 42 00 00 00 00 00 00 0a 55 00 00 00 00 00 00 0a 5a 00 00 00 " +
        "00 00 00 0a 5e 00 00 00 00 01 00 0a 5e 00 00 01 00 01 00 0a 5e 00 00 02 00 01 00 0a 5f 00 00 00 " +
        "00 01 00 0a 5f 00 00 01 00 01 00 0a 5f 00 00 02 00 01 00 0a 5f 00 00 03 00 01 00 0a 5f 00 00 04 " +
        "00 01 00 0a 5f 00 00 06 00 01 00 0a 5f 00 00 07 00 01 00 0a 88 00 00 00 00 00 00 10 8a 00 00 00 " +
        "00 00 00 10 8b 00 00 00 00 00 00 10 8e 00 00 00 00 00 00 10 8f 00 00 00 00 00 00 10 90 00 00 00 " +
        "00 00 00 10 91 00 00 00 00 00 00 10 93 00 00 00 00 00 00 10 9e 00 00 10 00 01 00 10 9e 00 00 12 " +
        "00 01 00 10 a0 00 00 00 00 00 00 0c a3 00 00 0c 00 01 00 0c a8 00 00 00 00 00 00 0c aa 00 00 00 " +
        "00 00 00 0c ae 00 00 00 00 00 00 0c af 00 00 00 00 00 00 0c"
    )
    /// LUN 2: sense of READ(10) 28 00 7f ff ff f0 00 00 01 00.
    static let lun2Read10PastEnd = hex("72 05 21 00 00 00 00 00")
    /// LUN 2: sense of READ(16) at LBA 0x100000000.
    static let lun2Read16PastEnd = hex("72 05 21 00 00 00 00 00")
    /// LUN 2: sense of opcode 0x02.
    static let lun2BadOpcode = hex("72 05 20 00 00 00 00 00")
    /// LUN 2: sense of INQUIRY 12 00 83 00 ff 00 (page without EVPD).
    static let lun2InquiryBadField = hex("72 05 24 00 00 00 00 00")
    /// LUN 2: sense of MODE SENSE(6) page 0x2E.
    static let lun2ModesenseBadPage = hex("72 05 24 00 00 00 00 00")
    /// LUN 2: REQUEST SENSE data after the errors.
    static let lun2RequestSense = hex("72 00 00 00 00 00 00 00")
}
