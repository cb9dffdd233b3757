#!/usr/bin/env bash
# An emulated RAM disk to /dev/null at bs=1m, against this machine's single-thread memcpy
# bandwidth measured in the same run (camdd --memcpy-bench). Target: at least 80% of memcpy.
# Three disks: a RAM disk written first in the same process (--bench-prefill, untimed), so
# the SIM copies real data out of its RAM chunks; a RAM disk never written (the SIM fills
# zeros); and a disk kept in a file on tmpfs (the SIM preadv's from the page cache).
#   SIZE_MB=1024 RUNS=3 scripts/bench/camdd-emu.sh
source "$(dirname "$0")/camdd-common.sh"
SIZE_MB=${SIZE_MB:-1024}
DEPTH=${DEPTH:-8}
SHM=${SHM_DIR:-/dev/shm}
IMG=$SHM/camdd-bench-emu.img
BYTES=$((SIZE_MB << 20))
trap 'rm -f "$IMG"' EXIT
head -c "${SIZE_MB}M" /dev/urandom > "$IMG"

memcpy=$("$CAMDD" --memcpy-bench | awk '{ print $2 }')
full=$(camdd_rate --bench-prefill -i pass=emu:disk:size=${SIZE_MB}m,bs=1m,depth=$DEPTH -o file=/dev/null,bs=1m)
ram=$(camdd_rate -i pass=emu:disk:size=${SIZE_MB}m,bs=1m,depth=$DEPTH -o file=/dev/null,bs=1m)
filed=$(camdd_rate -i pass=emu:disk:size=${SIZE_MB}m:file=$IMG,bs=1m,depth=$DEPTH -o file=/dev/null,bs=1m)
pct() { awk -v a="$1" -v m="$memcpy" 'BEGIN { printf "%.0f%%", 100 * a / m }'; }
printf '%-46s %10s MB/s\n' "memcpy, one thread, 1 MiB copies" "$memcpy"
printf '%-46s %10s MB/s  %s of memcpy\n' "emu RAM disk (written) -> /dev/null, d=$DEPTH" "$full" "$(pct "$full")"
printf '%-46s %10s MB/s  %s of memcpy\n' "emu RAM disk (unwritten) -> /dev/null, d=$DEPTH" "$ram" "$(pct "$ram")"
printf '%-46s %10s MB/s  %s of memcpy\n' "emu disk in a tmpfs file -> /dev/null, d=$DEPTH" "$filed" "$(pct "$filed")"
echo "(${SIZE_MB} MiB, bs=1m, best of $RUNS; camdd's own MB/sec, MB = 2^20)"
