#ifndef CCAMDD_H
#define CCAMDD_H
// What Swift's Glibc module does not bring in for camdd's engine: epoll, eventfd, signalfd,
// the block-device ioctls and O_DIRECT (a GNU extension behind _GNU_SOURCE).
#include <stdint.h>
#include <sys/types.h>

/// epoll_create1(EPOLL_CLOEXEC).
int ccamdd_epoll_create(void);
/// Adds `fd` for readability, or writability when `writable` is non-zero (level-triggered),
/// with `token` coming back in events.
int ccamdd_epoll_add(int epfd, int fd, uint64_t token, int writable);
/// Waits for up to `max` events; their tokens land in `tokens`. Returns the count or -1.
int ccamdd_epoll_wait(int epfd, uint64_t *tokens, int max, int timeout_ms);

/// eventfd(2) with EFD_CLOEXEC | EFD_NONBLOCK.
int ccamdd_eventfd(void);

/// Blocks SIGINT, SIGTERM, SIGUSR1 (and SIGINFO where it exists) in the calling thread and
/// the threads it starts later; returns a signalfd for them (SFD_CLOEXEC | SFD_NONBLOCK).
int ccamdd_signalfd_for_copy(void);
/// Reads one signal from the signalfd: the signal number, 0 when none, -1 on error.
int ccamdd_signalfd_read(int fd);
/// Whether `signo` is one that asks for the statistics (SIGUSR1, SIGINFO).
int ccamdd_is_status_signal(int signo);

/// BLKSSZGET: the logical sector size of a block device.
int ccamdd_block_sector_size(int fd, uint32_t *size);
/// BLKGETSIZE64: the size of a block device in bytes.
int ccamdd_block_size_bytes(int fd, uint64_t *size);

/// O_DIRECT, for open(2).
int ccamdd_o_direct(void);

#endif
