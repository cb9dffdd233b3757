#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <linux/fs.h>
#include "CCAMSystem.h"

const unsigned long CCAMSystem_BLKSSZGET = BLKSSZGET;
const unsigned long CCAMSystem_BLKGETSIZE64 = BLKGETSIZE64;
const int CCAMSystem_O_DIRECT = O_DIRECT;

int CCAMSystem_set_thread_name(const char *name) {
    return pthread_setname_np(pthread_self(), name);
}

// struct epoll_event is packed on x86-64 (12 bytes, data at offset 4) and not on aarch64 (16,
// data at 8); Swift imports it with the C layout, and Epoll hands arrays of it to the kernel.
#if defined(__x86_64__)
_Static_assert(sizeof(struct epoll_event) == 12, "epoll_event is packed on x86-64");
_Static_assert(offsetof(struct epoll_event, data) == 4, "epoll_event.data at 4 on x86-64");
#elif defined(__aarch64__)
_Static_assert(sizeof(struct epoll_event) == 16, "epoll_event is 16 bytes on aarch64");
_Static_assert(offsetof(struct epoll_event, data) == 8, "epoll_event.data at 8 on aarch64");
#endif
// SignalFD reads whole records of this size.
_Static_assert(sizeof(struct signalfd_siginfo) == 128, "signalfd_siginfo is 128 bytes");

// glibc's <scsi/sg.h> is a copy of the kernel's, maintained apart from it. The v3 interface
// passes these structures through read(), write() and ioctl() by size, so a drift would
// corrupt memory silently: pin the x86-64/aarch64 LP64 layout the kernel uses.
#if defined(__LP64__)
_Static_assert(sizeof(struct sg_io_hdr) == 88, "sg_io_hdr is 88 bytes in the kernel's ABI");
_Static_assert(offsetof(struct sg_io_hdr, dxferp) == 16, "sg_io_hdr.dxferp at 16");
_Static_assert(offsetof(struct sg_io_hdr, pack_id) == 48, "sg_io_hdr.pack_id at 48");
_Static_assert(offsetof(struct sg_io_hdr, usr_ptr) == 56, "sg_io_hdr.usr_ptr at 56");
_Static_assert(offsetof(struct sg_io_hdr, status) == 64, "sg_io_hdr.status at 64");
_Static_assert(offsetof(struct sg_io_hdr, resid) == 72, "sg_io_hdr.resid at 72");
_Static_assert(offsetof(struct sg_io_hdr, info) == 80, "sg_io_hdr.info at 80");
_Static_assert(sizeof(struct sg_iovec) == 16, "sg_iovec is 16 bytes");
_Static_assert(sizeof(struct sg_req_info) == 24, "sg_req_info is 24 bytes");
_Static_assert(offsetof(struct sg_req_info, usr_ptr) == 8, "sg_req_info.usr_ptr at 8");
#endif
_Static_assert(sizeof(struct sg_scsi_id) == 32, "sg_scsi_id is 32 bytes");

const unsigned long CCAMSystem_sizeof_sg_io_hdr = sizeof(struct sg_io_hdr);
const unsigned long CCAMSystem_sizeof_sg_req_info = sizeof(struct sg_req_info);
const unsigned long CCAMSystem_sizeof_sg_scsi_id = sizeof(struct sg_scsi_id);
