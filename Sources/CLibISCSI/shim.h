#ifndef CLIBISCSI_SHIM_H
#define CLIBISCSI_SHIM_H
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>
#include <sys/eventfd.h>
#include <sys/epoll.h>
#include <errno.h>
#include <time.h>
#include <stdint.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

// Swift's Glibc module does not bring in <sys/eventfd.h>; the session's service thread is woken
// through one.
static inline int camiscsi_eventfd_nonblocking(void) {
    return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

// Polled completion: an epoll set holding the session's socket is the one descriptor a polling
// caller watches; the socket inside it changes across reconnects, the set does not. Swift does
// not import `struct epoll_event` (packed) well, hence these.
static inline int camiscsi_epoll_create(void) {
    return epoll_create1(EPOLL_CLOEXEC);
}

// Adds `fd` (add != 0) or changes its events: always readable/hang-up, writable when `out`.
static inline int camiscsi_epoll_watch(int epfd, int fd, int add, int out) {
    struct epoll_event ev;
    ev.events = EPOLLIN | EPOLLRDHUP | (out ? EPOLLOUT : 0);
    ev.data.u64 = 0;
    return epoll_ctl(epfd, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev);
}

static inline int camiscsi_epoll_forget(int epfd, int fd) {
    struct epoll_event ev = {0};
    return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &ev);
}

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
