/*
 * scsi-capture: prints the raw bytes a real iSCSI target returns for the commands the
 * SCSI module parses, so that Tests/SCSITests can check our parsers against a real device.
 *
 * Usage: scsi-capture PORTAL TARGET-IQN LUN
 *   e.g. scsi-capture 127.0.0.1:3261 iqn.2026-11.test:cap 1
 *
 * Each line is "NAME status=S len=N: HEX..." where HEX is the data-in buffer for a good
 * status, or the raw sense bytes for CHECK CONDITION (libiscsi keeps the iSCSI sense data
 * segment, a 2-byte length followed by the sense bytes, in task->datain).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

static void hex(const unsigned char *p, int n)
{
	for (int i = 0; i < n; i++)
		printf("%s%02x", i ? " " : "", p[i]);
	printf("\n");
}

/* Prints the task's data, or the sense bytes when it ended in CHECK CONDITION. */
static void report(struct iscsi_context *iscsi, const char *name, struct scsi_task *task)
{
	if (task == NULL) {
		printf("%s error: %s\n", name, iscsi_get_error(iscsi));
		return;
	}
	if (task->status == SCSI_STATUS_CHECK_CONDITION && task->datain.size >= 2) {
		int slen = (task->datain.data[0] << 8) | task->datain.data[1];
		if (slen > task->datain.size - 2)
			slen = task->datain.size - 2;
		printf("%s status=%d sense len=%d: ", name, task->status, slen);
		hex(task->datain.data + 2, slen);
	} else {
		printf("%s status=%d len=%d: ", name, task->status, task->datain.size);
		hex(task->datain.data, task->datain.size);
	}
	scsi_free_scsi_task(task);
}

/* Sends a CDB given as bytes, with a data-in buffer of `len` bytes (0: no data). */
static struct scsi_task *raw(struct iscsi_context *iscsi, int lun, const unsigned char *cdb,
			     int cdblen, int len)
{
	struct scsi_task *task = scsi_create_task(cdblen, (unsigned char *)cdb,
						  len ? SCSI_XFER_READ : SCSI_XFER_NONE, len);
	if (task == NULL)
		return NULL;
	if (iscsi_scsi_command_sync(iscsi, lun, task, NULL) == NULL) {
		scsi_free_scsi_task(task);
		return NULL;
	}
	return task;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s PORTAL TARGET-IQN LUN\n", argv[0]);
		return 2;
	}
	const char *portal = argv[1];
	int lun = atoi(argv[3]);
	struct iscsi_context *iscsi = iscsi_create_context("iqn.2026-11.test:capture");
	if (iscsi == NULL)
		return 1;
	iscsi_set_targetname(iscsi, argv[2]);
	iscsi_set_session_type(iscsi, ISCSI_SESSION_NORMAL);
	iscsi_set_header_digest(iscsi, ISCSI_HEADER_DIGEST_NONE);
	if (iscsi_full_connect_sync(iscsi, portal, lun) != 0) {
		fprintf(stderr, "connect: %s\n", iscsi_get_error(iscsi));
		return 1;
	}

	/* The first command after login may meet a UNIT ATTENTION: capture it too. */
	report(iscsi, "TUR", iscsi_testunitready_sync(iscsi, lun));
	report(iscsi, "TUR2", iscsi_testunitready_sync(iscsi, lun));

	report(iscsi, "INQUIRY", iscsi_inquiry_sync(iscsi, lun, 0, 0, 255));
	report(iscsi, "VPD00", iscsi_inquiry_sync(iscsi, lun, 1, 0x00, 255));
	report(iscsi, "VPD80", iscsi_inquiry_sync(iscsi, lun, 1, 0x80, 255));
	report(iscsi, "VPD83", iscsi_inquiry_sync(iscsi, lun, 1, 0x83, 255));
	report(iscsi, "VPDB0", iscsi_inquiry_sync(iscsi, lun, 1, 0xB0, 255));
	report(iscsi, "VPDB1", iscsi_inquiry_sync(iscsi, lun, 1, 0xB1, 255));
	report(iscsi, "VPDB2", iscsi_inquiry_sync(iscsi, lun, 1, 0xB2, 255));

	report(iscsi, "READCAP10", iscsi_readcapacity10_sync(iscsi, lun, 0, 0));
	report(iscsi, "READCAP16", iscsi_readcapacity16_sync(iscsi, lun));
	report(iscsi, "REPORTLUNS", iscsi_reportluns_sync(iscsi, 0, 4096));

	report(iscsi, "MODESENSE6_ALL", iscsi_modesense6_sync(iscsi, lun, 0, SCSI_MODESENSE_PC_CURRENT, 0x3F, 0, 255));
	report(iscsi, "MODESENSE6_CACHING", iscsi_modesense6_sync(iscsi, lun, 0, SCSI_MODESENSE_PC_CURRENT, 0x08, 0, 255));
	report(iscsi, "MODESENSE6_CONTROL", iscsi_modesense6_sync(iscsi, lun, 0, SCSI_MODESENSE_PC_CURRENT, 0x0A, 0, 255));
	report(iscsi, "MODESENSE6_CACHING_DBD", iscsi_modesense6_sync(iscsi, lun, 1, SCSI_MODESENSE_PC_CURRENT, 0x08, 0, 255));
	report(iscsi, "MODESENSE10_ALL", iscsi_modesense10_sync(iscsi, lun, 0, 0, SCSI_MODESENSE_PC_CURRENT, 0x3F, 0, 255));

	report(iscsi, "RSOC", iscsi_report_supported_opcodes_sync(iscsi, lun, 0, 0, 0, 0, 4096));

	/* Commands that fail, for real sense bytes. */
	{
		/* READ(10) at an LBA past the end of the LUN. */
		const unsigned char cdb[10] = { 0x28, 0, 0x7f, 0xff, 0xff, 0xf0, 0, 0, 1, 0 };
		report(iscsi, "READ10_PAST_END", raw(iscsi, lun, cdb, 10, 512));
	}
	{
		/* READ(16) at an LBA past the end of the LUN. */
		const unsigned char cdb[16] = { 0x88, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0 };
		report(iscsi, "READ16_PAST_END", raw(iscsi, lun, cdb, 16, 4096));
	}
	{
		/* An opcode no block device implements. */
		const unsigned char cdb[6] = { 0x02, 0, 0, 0, 0, 0 };
		report(iscsi, "BAD_OPCODE", raw(iscsi, lun, cdb, 6, 0));
	}
	{
		/* INQUIRY with a page code but no EVPD: INVALID FIELD IN CDB. */
		const unsigned char cdb[6] = { 0x12, 0, 0x83, 0, 0xff, 0 };
		report(iscsi, "INQUIRY_BAD_FIELD", raw(iscsi, lun, cdb, 6, 255));
	}
	{
		/* MODE SENSE(6) of a page the target does not have. */
		const unsigned char cdb[6] = { 0x1a, 0, 0x2e, 0, 0xff, 0 };
		report(iscsi, "MODESENSE_BAD_PAGE", raw(iscsi, lun, cdb, 6, 255));
	}
	report(iscsi, "REQUEST_SENSE", raw(iscsi, lun, (const unsigned char[]){ 0x03, 0, 0, 0, 252, 0 }, 6, 252));

	iscsi_logout_sync(iscsi);
	iscsi_destroy_context(iscsi);
	return 0;
}
