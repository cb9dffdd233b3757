#!/usr/bin/env bash
# An emulated RAM disk to /dev/null at bs=1m, against this machine's single-thread memcpy
# bandwidth measured in the same run (camdd --memcpy-bench). Target: at least 80% of memcpy.
# Two disks: a RAM disk never written (the SIM fills zeros), and a disk kept in a file on
# tmpfs, filled with random data first (the SIM copies real data from the page cache).
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
ram=$(best_seconds "$CAMDD" -i pass=emu:disk:size=${SIZE_MB}m,bs=1m,depth=$DEPTH -o file=/dev/null,bs=1m)
filed=$(best_seconds "$CAMDD" -i pass=emu:disk:size=${SIZE_MB}m:file=$IMG,bs=1m,depth=$DEPTH -o file=/dev/null,bs=1m)
printf '%-44s %10s MB/s\n' "memcpy, one thread, 1 MiB copies" "$memcpy"
printf '%-44s %10s MB/s  %s of memcpy\n' "camdd emu RAM disk -> /dev/null, bs=1m d=$DEPTH" "$(mbs $BYTES "$ram")" \
    "$(awk -v a="$(mbs $BYTES "$ram")" -v m="$memcpy" 'BEGIN { printf "%.0f%%", 100 * a / m }')"
printf '%-44s %10s MB/s  %s of memcpy\n' "camdd emu disk on tmpfs -> /dev/null" "$(mbs $BYTES "$filed")" \
    "$(awk -v a="$(mbs $BYTES "$filed")" -v m="$memcpy" 'BEGIN { printf "%.0f%%", 100 * a / m }')"
echo "(${SIZE_MB} MiB, best of $RUNS, process start-up included)"
