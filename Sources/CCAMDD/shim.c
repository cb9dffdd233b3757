#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <linux/fs.h>
#include <unistd.h>
#include "CCAMDD.h"

int ccamdd_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int ccamdd_epoll_add(int epfd, int fd, uint64_t token, int writable) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = writable ? EPOLLOUT : EPOLLIN;
    ev.data.u64 = token;
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

int ccamdd_epoll_wait(int epfd, uint64_t *tokens, int max, int timeout_ms) {
    // At most 8 descriptors per loop in camdd: a stack array keeps the wait allocation-free.
    struct epoll_event evs[8];
    if (max > 8) max = 8;
    int n = epoll_wait(epfd, evs, max, timeout_ms);
    for (int i = 0; i < n; i++) tokens[i] = evs[i].data.u64;
    return n;
}

int ccamdd_eventfd(void) { return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); }

static void copy_signals(sigset_t *set) {
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGUSR1);
#ifdef SIGINFO
    sigaddset(set, SIGINFO);
#endif
}

int ccamdd_signalfd_for_copy(void) {
    sigset_t set;
    copy_signals(&set);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) return -1;
    return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

int ccamdd_signalfd_read(int fd) {
    struct signalfd_siginfo si;
    ssize_t n = read(fd, &si, sizeof si);
    if (n == (ssize_t)sizeof si) return (int)si.ssi_signo;
    if (n < 0 && errno == EAGAIN) return 0;
    return -1;
}

int ccamdd_is_status_signal(int signo) {
#ifdef SIGINFO
    if (signo == SIGINFO) return 1;
#endif
    return signo == SIGUSR1;
}

int ccamdd_block_sector_size(int fd, uint32_t *size) {
    int s = 0;
    int rc = ioctl(fd, BLKSSZGET, &s);
    if (rc == 0) *size = (uint32_t)s;
    return rc;
}

int ccamdd_block_size_bytes(int fd, uint64_t *size) { return ioctl(fd, BLKGETSIZE64, size); }

int ccamdd_o_direct(void) { return O_DIRECT; }
