#ifndef CCAMBENCHMALLOC_H
#define CCAMBENCHMALLOC_H
#include <stdint.h>
/// Calls to malloc, calloc, realloc, posix_memalign, aligned_alloc and memalign so far
/// (counted by this executable's own definitions, which interpose glibc's).
uint64_t ccambench_allocations(void);
#endif
