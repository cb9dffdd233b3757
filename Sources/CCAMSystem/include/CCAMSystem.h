#ifndef CCAMSYSTEM_H
#define CCAMSYSTEM_H
// The one C shim of SwiftCAM: what Swift's Glibc module does not bring in, for CAMSystem's
// wrappers and the SIMs. Everything here is Linux's and prefixed with the module's name.
//
// Headers Swift's Glibc module does not include, imported through this module:
// <sys/epoll.h>, <sys/eventfd.h>, <sys/signalfd.h> for the event loops (CAMSystem), and
// <scsi/sg.h> for the sg SIM: glibc's copy declares sg_io_hdr, sg_iovec, sg_scsi_id,
// sg_req_info and the ioctl numbers (SG_IO, SG_GET_VERSION_NUM, SG_SET_RESERVED_SIZE,
// SG_GET_SCSI_ID, SG_GET_NUM_WAITING, SG_SET_COMMAND_Q, SG_SET_FORCE_PACK_ID,
// SG_GET_REQUEST_TABLE, SG_SCSI_RESET...). What glibc's copy lacks (it is older than the
// kernel's) and what the kernel keeps out of user headers is below, with the kernel's values.
// <sys/fsuid.h> (setfsuid) is for the sg tests, which open devices as another user.
#include <stdint.h>
#include <scsi/sg.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/fsuid.h>
#include <sys/signalfd.h>

// MARK: what Swift cannot import: function-like macros and _GNU_SOURCE names

/// BLKSSZGET (<linux/fs.h>, an _IO macro): the logical sector size of a block device (int).
extern const unsigned long CCAMSystem_BLKSSZGET;
/// BLKGETSIZE64 (<linux/fs.h>, an _IOR macro): the size of a block device in bytes (uint64_t).
extern const unsigned long CCAMSystem_BLKGETSIZE64;
/// O_DIRECT, for open(2) and fcntl(F_SETFL) (behind _GNU_SOURCE).
extern const int CCAMSystem_O_DIRECT;

/// pthread_setname_np(3) on the calling thread (a GNU extension); the kernel keeps 15 bytes.
int CCAMSystem_set_thread_name(const char *name);

// MARK: the sg driver (CAMLinuxSG)

// sg_io_hdr.flags the kernel's <scsi/sg.h> has and glibc's does not.
/// Request the driver's mmap-ed reserve buffer for the data (SG_FLAG_MMAP_IO).
#define CCAMSYSTEM_SG_FLAG_MMAP_IO 0x4
/// Queue the command at the tail of the device's queue. The driver's default is the head
/// (blk_execute_rq_nowait with at_head), which starves earlier commands under load.
#define CCAMSYSTEM_SG_FLAG_Q_AT_TAIL 0x10
/// Queue at the head explicitly (the default, named for clarity).
#define CCAMSYSTEM_SG_FLAG_Q_AT_HEAD 0x20
/// No copy between kernel buffers and user space (SG_FLAG_NO_DXFER; glibc has it too).
#define CCAMSYSTEM_SG_FLAG_NO_DXFER 0x10000

// SG_SCSI_RESET arguments: glibc lacks TARGET and NO_ESCALATE.
#define CCAMSYSTEM_SG_SCSI_RESET_NOTHING 0
#define CCAMSYSTEM_SG_SCSI_RESET_DEVICE 1
#define CCAMSYSTEM_SG_SCSI_RESET_BUS 2
#define CCAMSYSTEM_SG_SCSI_RESET_HOST 3
#define CCAMSYSTEM_SG_SCSI_RESET_TARGET 4
/// Or-ed into the others: do exactly that reset, do not escalate to a larger one.
#define CCAMSYSTEM_SG_SCSI_RESET_NO_ESCALATE 0x100

/// Number of open file descriptors on the device (SG_GET_ACCESS_COUNT).
#define CCAMSYSTEM_SG_GET_ACCESS_COUNT 0x2289
/// Commands one file descriptor may have outstanding; write() fails with EDOM beyond.
#define CCAMSYSTEM_SG_MAX_QUEUE 16
/// sg_io_hdr.interface_id for the v3 interface.
#define CCAMSYSTEM_SG_INTERFACE_ID 'S'
/// Rows SG_GET_REQUEST_TABLE fills: the ioctl's argument must have room for this many.
#define CCAMSYSTEM_SG_REQUEST_TABLE_ROWS 16

// sg_io_hdr.host_status: the host byte of the SCSI midlayer's result (the kernel's
// enum host_status in <scsi/scsi_status.h>, not in any user header).
#define CCAMSYSTEM_DID_OK 0x00
#define CCAMSYSTEM_DID_NO_CONNECT 0x01
#define CCAMSYSTEM_DID_BUS_BUSY 0x02
#define CCAMSYSTEM_DID_TIME_OUT 0x03
#define CCAMSYSTEM_DID_BAD_TARGET 0x04
#define CCAMSYSTEM_DID_ABORT 0x05
#define CCAMSYSTEM_DID_PARITY 0x06
#define CCAMSYSTEM_DID_ERROR 0x07
#define CCAMSYSTEM_DID_RESET 0x08
#define CCAMSYSTEM_DID_BAD_INTR 0x09
#define CCAMSYSTEM_DID_PASSTHROUGH 0x0a
#define CCAMSYSTEM_DID_SOFT_ERROR 0x0b
#define CCAMSYSTEM_DID_IMM_RETRY 0x0c
#define CCAMSYSTEM_DID_REQUEUE 0x0d
#define CCAMSYSTEM_DID_TRANSPORT_DISRUPTED 0x0e
#define CCAMSYSTEM_DID_TRANSPORT_FAILFAST 0x0f
#define CCAMSYSTEM_DID_TARGET_FAILURE 0x10
#define CCAMSYSTEM_DID_NEXUS_FAILURE 0x11
#define CCAMSYSTEM_DID_ALLOC_FAILURE 0x12
#define CCAMSYSTEM_DID_MEDIUM_ERROR 0x13
#define CCAMSYSTEM_DID_TRANSPORT_MARGINAL 0x14

// sg_io_hdr.driver_status: the driver byte (low nibble) and, in old kernels, suggestions
// (high nibble). Seen on 6.1: DRIVER_SENSE with sense data; a time-out is DID_TIME_OUT with
// DRIVER_OK, so the host byte is what to look at.
#define CCAMSYSTEM_DRIVER_OK 0x00
#define CCAMSYSTEM_DRIVER_BUSY 0x01
#define CCAMSYSTEM_DRIVER_SOFT 0x02
#define CCAMSYSTEM_DRIVER_MEDIA 0x03
#define CCAMSYSTEM_DRIVER_ERROR 0x04
#define CCAMSYSTEM_DRIVER_INVALID 0x05
#define CCAMSYSTEM_DRIVER_TIMEOUT 0x06
#define CCAMSYSTEM_DRIVER_HARD 0x07
#define CCAMSYSTEM_DRIVER_SENSE 0x08
#define CCAMSYSTEM_DRIVER_MASK 0x0f

/// sg's own default command time-out when sg_io_hdr.timeout is 0 is the device's (the block
/// queue's rq_timeout, /sys/class/scsi_device/H:C:T:L/device/timeout, 30 s by default):
/// 0 does not mean "no time-out". UINT_MAX is as good as none (MAX_JIFFY_OFFSET).
#define CCAMSYSTEM_TIMEOUT_DEVICE_DEFAULT 0u
#define CCAMSYSTEM_TIMEOUT_NONE 0xffffffffu

/// Sizes of the kernel's structures, for a check from Swift that glibc's declarations match
/// (shim.c pins them with _Static_assert).
extern const unsigned long CCAMSystem_sizeof_sg_io_hdr;
extern const unsigned long CCAMSystem_sizeof_sg_req_info;
extern const unsigned long CCAMSystem_sizeof_sg_scsi_id;

#endif
