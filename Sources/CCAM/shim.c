#define _GNU_SOURCE
#include <pthread.h>
#include <sys/eventfd.h>
#include "CCAM.h"

int ccam_eventfd_nonblocking(unsigned int initval) {
    return eventfd(initval, EFD_CLOEXEC | EFD_NONBLOCK);
}

int ccam_set_thread_name(const char *name) {
    return pthread_setname_np(pthread_self(), name);
}
