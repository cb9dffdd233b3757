#ifndef CLIBISCSI_SHIM_H
#define CLIBISCSI_SHIM_H
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>
#include <sys/eventfd.h>

// Swift's Glibc module does not bring in <sys/eventfd.h>; the session's service thread is woken
// through one.
static inline int camiscsi_eventfd_nonblocking(void) {
    return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

// libiscsi hands this array to writev/readv as it is.
_Static_assert(sizeof(struct scsi_iovec) == 2 * sizeof(void *), "scsi_iovec is struct iovec");
#endif
