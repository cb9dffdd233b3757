#ifndef CLIBISCSI_SHIM_H
#define CLIBISCSI_SHIM_H
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>
#include <errno.h>
#include <time.h>
#include <stdint.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

// The session's eventfd and the epoll set pollers watch come from CAMSystem (EventFD, Epoll).

// CLOCK_MONOTONIC_COARSE: the kernel's last tick (a few ms old), read without the time source.
// For command deadlines, checked every 100 ms anyway, and the pollers' last-seen stamp: on a
// virtual machine the precise clock costs tens of nanoseconds per command on the I/O path.
static inline uint64_t camiscsi_coarse_nanoseconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

// TCP_CORK on or off: PDUs written while corked leave as full segments when it is taken off.
static inline int camiscsi_set_cork(int fd, int on) {
    return setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on));
}

// libiscsi hands this array to writev/readv as it is.
_Static_assert(sizeof(struct scsi_iovec) == 2 * sizeof(void *), "scsi_iovec is struct iovec");
#endif
