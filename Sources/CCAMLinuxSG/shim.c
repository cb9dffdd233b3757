#include <stddef.h>
#include "CCAMLinuxSG.h"

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

const unsigned long ccamlinuxsg_sizeof_sg_io_hdr = sizeof(struct sg_io_hdr);
const unsigned long ccamlinuxsg_sizeof_sg_req_info = sizeof(struct sg_req_info);
const unsigned long ccamlinuxsg_sizeof_sg_scsi_id = sizeof(struct sg_scsi_id);
