#ifndef CCAM_H
#define CCAM_H
// What Swift's Glibc module does not bring in: <sys/eventfd.h> and pthread_setname_np
// (a GNU extension behind _GNU_SOURCE).
#include <stdint.h>

/// eventfd(2) with EFD_CLOEXEC | EFD_NONBLOCK.
int ccam_eventfd_nonblocking(unsigned int initval);

/// pthread_setname_np(3) on the calling thread; the kernel keeps 15 bytes.
int ccam_set_thread_name(const char *name);

#endif
