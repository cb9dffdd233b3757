#!/usr/bin/env bash
# No allocation per request in steady state, shown by counting: an LD_PRELOAD interposer
# counts malloc/calloc/realloc/posix_memalign/aligned_alloc calls, and camdd copies 16 MiB
# and then 256 MiB with the same settings. The counts must be the same: every buffer, CCB
# and S/G list is allocated before the copy, none per command.
source "$(dirname "$0")/camdd-common.sh"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cat > "$WORK/count.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
static atomic_long n;
static void *(*real_malloc)(size_t), *(*real_calloc)(size_t, size_t), *(*real_realloc)(void *, size_t);
static int (*real_memalign)(void **, size_t, size_t);
static void *(*real_aligned)(size_t, size_t);
static char early[65536]; static size_t early_used;
static void *early_alloc(size_t s) { void *p = early + early_used; early_used += (s + 15) & ~15UL; return p; }
static void init(void) {
    real_malloc = dlsym(RTLD_NEXT, "malloc"); real_calloc = dlsym(RTLD_NEXT, "calloc");
    real_realloc = dlsym(RTLD_NEXT, "realloc"); real_memalign = dlsym(RTLD_NEXT, "posix_memalign");
    real_aligned = dlsym(RTLD_NEXT, "aligned_alloc");
}
void *malloc(size_t s) { if (!real_malloc) init(); n++; return real_malloc(s); }
void *calloc(size_t a, size_t b) { if (!real_calloc) { if (!real_malloc) return early_alloc(a * b); } n++; return real_calloc(a, b); }
void *realloc(void *p, size_t s) { if (!real_realloc) init(); n++; return real_realloc(p, s); }
int posix_memalign(void **p, size_t a, size_t s) { if (!real_memalign) init(); n++; return real_memalign(p, a, s); }
void *aligned_alloc(size_t a, size_t s) { if (!real_aligned) init(); n++; return real_aligned(a, s); }
void free(void *p) { static void (*real_free)(void *); if ((char *)p >= early && (char *)p < early + sizeof early) return;
    if (!real_free) real_free = dlsym(RTLD_NEXT, "free"); real_free(p); }
__attribute__((destructor)) static void report(void) {
    char b[64]; int k = snprintf(b, sizeof b, "allocations: %ld\n", (long)n); write(2, b, k);
}
C
cc -O2 -shared -fPIC -o "$WORK/count.so" "$WORK/count.c" -ldl

count() { LD_PRELOAD="$WORK/count.so" "$CAMDD" "$@" 2>&1 >/dev/null | awk '/^allocations:/ { print $2 }'; }
printf '%-58s %10s %10s\n' "case" "16 MiB" "256 MiB"
run() {
    local label=$1; shift
    printf '%-58s %10s %10s\n' "$label" "$(count "$@" -m 16m)" "$(count "$@" -m 256m)"
}
run "file -> file, 64k -> 64k" -i file=/dev/zero,bs=64k -o file=/dev/null,bs=64k
run "file -> file, 4k -> 1m (S/G reblocking)" -i file=/dev/zero,bs=4k -o file=/dev/null,bs=1m
run "emu disk -> file, 1m depth 8" -i pass=emu:disk:size=1g,bs=1m,depth=8 -o file=/dev/null,bs=1m
run "file -> emu disk, 12k -> 20k depth 16 (S/G CCBs)" -i file=/dev/zero,bs=12k -o pass=emu:disk:size=1g:file=$WORK/img,bs=20k,depth=16
run "emu disk -> emu disk, 1m -> 4k depth 32" -i pass=emu:disk:size=1g,bs=1m,depth=8 -o pass=emu:disk:size=1g:file=$WORK/img,bs=4k,depth=32
echo "(equal counts: nothing allocated per command; the counts are start-up and set-up)"
