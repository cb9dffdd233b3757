#ifndef CCAMLINUXSG_H
#define CCAMLINUXSG_H
// The Linux sg driver's user interface as Swift needs it.
//
// glibc's <scsi/sg.h> declares sg_io_hdr, sg_iovec, sg_scsi_id, sg_req_info and the ioctl
// numbers (SG_IO, SG_GET_VERSION_NUM, SG_SET_RESERVED_SIZE, SG_GET_SCSI_ID,
// SG_GET_NUM_WAITING, SG_SET_COMMAND_Q, SG_SET_FORCE_PACK_ID, SG_GET_REQUEST_TABLE,
// SG_SCSI_RESET...), and Swift imports all of them through this module, since Swift's Glibc
// module does not include that header. What glibc's copy lacks (it is older than the
// kernel's) and what the kernel keeps out of user headers is below, with the kernel's values.
// <sys/epoll.h>, <sys/eventfd.h> and <sys/fsuid.h> are here because Swift's Glibc module does
// not bring them.
#include <scsi/sg.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/fsuid.h>

// sg_io_hdr.flags the kernel's <scsi/sg.h> has and glibc's does not.
/// Request the driver's mmap-ed reserve buffer for the data (SG_FLAG_MMAP_IO).
#define CCAMLINUXSG_SG_FLAG_MMAP_IO 0x4
/// Queue the command at the tail of the device's queue. The driver's default is the head
/// (blk_execute_rq_nowait with at_head), which starves earlier commands under load.
#define CCAMLINUXSG_SG_FLAG_Q_AT_TAIL 0x10
/// Queue at the head explicitly (the default, named for clarity).
#define CCAMLINUXSG_SG_FLAG_Q_AT_HEAD 0x20
/// No copy between kernel buffers and user space (SG_FLAG_NO_DXFER; glibc has it too).
#define CCAMLINUXSG_SG_FLAG_NO_DXFER 0x10000

// SG_SCSI_RESET arguments: glibc lacks TARGET and NO_ESCALATE.
#define CCAMLINUXSG_SG_SCSI_RESET_NOTHING 0
#define CCAMLINUXSG_SG_SCSI_RESET_DEVICE 1
#define CCAMLINUXSG_SG_SCSI_RESET_BUS 2
#define CCAMLINUXSG_SG_SCSI_RESET_HOST 3
#define CCAMLINUXSG_SG_SCSI_RESET_TARGET 4
/// Or-ed into the others: do exactly that reset, do not escalate to a larger one.
#define CCAMLINUXSG_SG_SCSI_RESET_NO_ESCALATE 0x100

/// Number of open file descriptors on the device (SG_GET_ACCESS_COUNT).
#define CCAMLINUXSG_SG_GET_ACCESS_COUNT 0x2289
/// Commands one file descriptor may have outstanding; write() fails with EDOM beyond.
#define CCAMLINUXSG_SG_MAX_QUEUE 16
/// sg_io_hdr.interface_id for the v3 interface.
#define CCAMLINUXSG_SG_INTERFACE_ID 'S'
/// Rows SG_GET_REQUEST_TABLE fills: the ioctl's argument must have room for this many.
#define CCAMLINUXSG_SG_REQUEST_TABLE_ROWS 16

// sg_io_hdr.host_status: the host byte of the SCSI midlayer's result (the kernel's
// enum host_status in <scsi/scsi_status.h>, not in any user header).
#define CCAMLINUXSG_DID_OK 0x00
#define CCAMLINUXSG_DID_NO_CONNECT 0x01
#define CCAMLINUXSG_DID_BUS_BUSY 0x02
#define CCAMLINUXSG_DID_TIME_OUT 0x03
#define CCAMLINUXSG_DID_BAD_TARGET 0x04
#define CCAMLINUXSG_DID_ABORT 0x05
#define CCAMLINUXSG_DID_PARITY 0x06
#define CCAMLINUXSG_DID_ERROR 0x07
#define CCAMLINUXSG_DID_RESET 0x08
#define CCAMLINUXSG_DID_BAD_INTR 0x09
#define CCAMLINUXSG_DID_PASSTHROUGH 0x0a
#define CCAMLINUXSG_DID_SOFT_ERROR 0x0b
#define CCAMLINUXSG_DID_IMM_RETRY 0x0c
#define CCAMLINUXSG_DID_REQUEUE 0x0d
#define CCAMLINUXSG_DID_TRANSPORT_DISRUPTED 0x0e
#define CCAMLINUXSG_DID_TRANSPORT_FAILFAST 0x0f
#define CCAMLINUXSG_DID_TARGET_FAILURE 0x10
#define CCAMLINUXSG_DID_NEXUS_FAILURE 0x11
#define CCAMLINUXSG_DID_ALLOC_FAILURE 0x12
#define CCAMLINUXSG_DID_MEDIUM_ERROR 0x13
#define CCAMLINUXSG_DID_TRANSPORT_MARGINAL 0x14

// sg_io_hdr.driver_status: the driver byte (low nibble) and, in old kernels, suggestions
// (high nibble). Seen on 6.1: DRIVER_SENSE with sense data; a time-out is DID_TIME_OUT with
// DRIVER_OK, so the host byte is what to look at.
#define CCAMLINUXSG_DRIVER_OK 0x00
#define CCAMLINUXSG_DRIVER_BUSY 0x01
#define CCAMLINUXSG_DRIVER_SOFT 0x02
#define CCAMLINUXSG_DRIVER_MEDIA 0x03
#define CCAMLINUXSG_DRIVER_ERROR 0x04
#define CCAMLINUXSG_DRIVER_INVALID 0x05
#define CCAMLINUXSG_DRIVER_TIMEOUT 0x06
#define CCAMLINUXSG_DRIVER_HARD 0x07
#define CCAMLINUXSG_DRIVER_SENSE 0x08
#define CCAMLINUXSG_DRIVER_MASK 0x0f

/// sg's own default command time-out when sg_io_hdr.timeout is 0 is the device's (the block
/// queue's rq_timeout, /sys/class/scsi_device/H:C:T:L/device/timeout, 30 s by default):
/// 0 does not mean "no time-out". UINT_MAX is as good as none (MAX_JIFFY_OFFSET).
#define CCAMLINUXSG_TIMEOUT_DEVICE_DEFAULT 0u
#define CCAMLINUXSG_TIMEOUT_NONE 0xffffffffu

/// Sizes of the kernel's structures, for a check from Swift that glibc's declarations match.
extern const unsigned long ccamlinuxsg_sizeof_sg_io_hdr;
extern const unsigned long ccamlinuxsg_sizeof_sg_req_info;
extern const unsigned long ccamlinuxsg_sizeof_sg_scsi_id;

#endif
