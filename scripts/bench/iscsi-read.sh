#!/usr/bin/env bash
# camdd against libiscsi's iscsi-perf on the same tgtd LUN, in one run: sequential reads at
# 1 MiB and 4 KiB transfers with the same queue depth, then camdd's write throughput to the
# same LUN. One private tgtd (scripts/tgt/tgt-harness), its backing file on tmpfs so that the
# disk is not the limit; it is stopped at the end. Target: camdd >= iscsi-perf.
#   swift build -c release --static-swift-stdlib --product camdd
#   DEPTH=16 SECONDS_PER_RUN=2 LUN_MB=4096 RUNS=5 scripts/bench/iscsi-read.sh
# Prints MB/s (MB = 2^20) and IOPS of both (best of RUNS), the ratio of the bests and the mean of
# the per-pair ratios (> 1: camdd faster). The LUN should hold about SECONDS_PER_RUN of reading
# at 1 MiB, so that camdd's copy lasts about as long as iscsi-perf's run (camdd copies the LUN
# once at most; iscsi-perf wraps around).
source "$(dirname "$0")/camdd-common.sh"
command -v iscsi-perf >/dev/null || { echo "iscsi-perf not found (Debian package libiscsi-bin)" >&2; exit 1; }
DEPTH=${DEPTH:-16}
SECS=${SECONDS_PER_RUN:-2}
LUN_MB=${LUN_MB:-4096}
SHM=${SHM_DIR:-/dev/shm}
HARNESS=$ROOT/scripts/tgt/tgt-harness
IQN=iqn.2024-01.org.swiftcam:bench

backing=$(mktemp "$SHM/iscsi-bench.XXXXXX")
eval "$("$HARNESS" start --parent $$ --lifetime 1800)"
export TGT_HARNESS_DIR
cleanup() { "$HARNESS" stop >/dev/null 2>&1 || true; rm -f "$backing"; }
trap cleanup EXIT
# A fully written backing file: reads of a sparse hole cost tgtd nothing and flatter both.
dd if=/dev/urandom of="$backing" bs=1M count="$LUN_MB" status=none
"$HARNESS" add-disk "$IQN" 1 "$backing" "${LUN_MB}M" >/dev/null
URL="iscsi://127.0.0.1:$TGT_PORT/$IQN/1"
LUN_BYTES=$((LUN_MB << 20))

# perf_once BLOCKS: iscsi-perf's final average IOPS at DEPTH for $SECS seconds.
perf_once() {
    iscsi-perf -m "$DEPTH" -b "$1" -t "$SECS" "$URL" 2>&1 | tr '\r' '\n' |
        awk '/iops average/ { for (i = 1; i <= NF; i++) if ($i == "average") v = $(i + 1) } END { print v + 0 }'
}
# camdd_once ARGS...: the MB/sec camdd printed (the copy only).
camdd_once() { "$CAMDD" "$@" 2>&1 >/dev/null | awk '/ MB\/sec$/ { print $1 + 0 }'; }
max() { awk -v a="$1" -v b="$2" 'BEGIN { print (a > b) ? a : b }'; }

echo "tgtd on 127.0.0.1:$TGT_PORT, LUN ${LUN_MB} MiB on $SHM; depth $DEPTH; iscsi-perf ${SECS} s; best of $RUNS, the two tools alternating"
echo "camdd: $CAMDD"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-22s %6s %11s %9s %11s %9s %7s %11s\n' "case" "xfer" "perf MB/s" "perf IOPS" "camdd MB/s" "camdd IOPS" "ratio" "mean ratio"
for xfer in 1m 4k; do
    case $xfer in 1m) bytes=$((1 << 20)) ;; 4k) bytes=4096 ;; esac
    blocks=$((bytes / 512))
    # The runs alternate (iscsi-perf, camdd, iscsi-perf, ...): on a shared machine the load
    # changes by the second, and it should hit both tools alike. camdd copies a fixed amount:
    # about $SECS seconds' worth at iscsi-perf's last rate, the whole LUN at most.
    p=0 c=0 rsum=0
    for _ in $(seq "$RUNS"); do
        r=$(perf_once "$blocks")
        p=$(max "$r" "$p")
        want=$(awk -v i="$r" -v b="$bytes" -v s="$SECS" -v l="$LUN_BYTES" 'BEGIN { n = int(i * s) * b; if (n > l || n <= 0) n = l; printf "%.0f", n }')
        m=$(camdd_once -i pass="$URL",bs=$xfer,depth=$DEPTH -o file=/dev/null -m "$want")
        c=$(max "$m" "$c")
        rsum=$(awk -v s="$rsum" -v m="$m" -v i="$r" -v b="$bytes" 'BEGIN { print s + (i > 0 ? m * 1048576 / b / i : 0) }')
    done
    pm=$(awk -v i="$p" -v b="$bytes" 'BEGIN { printf "%.1f", i * b / 1048576 }')
    ci=$(awk -v m="$c" -v b="$bytes" 'BEGIN { printf "%.0f", m * 1048576 / b }')
    mr=$(awk -v s="$rsum" -v n="$RUNS" 'BEGIN { printf "%.3f", s / n }')
    printf '%-22s %6s %11s %9s %11s %9s %7s %11s\n' "read -> /dev/null" $xfer "$pm" "$p" "$c" "$ci" "$(ratio "$c" "$pm")" "$mr"
done
# camdd with its own pass defaults (bs = min(maxio, 1 MiB), depth 6) against the 1 MiB row.
c=$(camdd_rate -i pass="$URL" -o file=/dev/null)
printf '%-22s %6s %11s %9s %11s %9s %7s\n' "read, camdd defaults" 1m "-" "-" "$c" "$(awk -v m="$c" 'BEGIN { printf "%.0f", m }')" "-"
for xfer in 1m 4k; do
    case $xfer in 1m) bytes=$((1 << 20)) ;; 4k) bytes=4096 ;; esac
    want=$LUN_BYTES
    [ "$xfer" = 4k ] && want=$((LUN_BYTES / 4))
    c=$(camdd_rate -i file=/dev/zero,bs=$xfer -o pass="$URL",bs=$xfer,depth=$DEPTH -m "$want")
    ci=$(awk -v m="$c" -v b="$bytes" 'BEGIN { printf "%.0f", m * 1048576 / b }')
    printf '%-22s %6s %11s %9s %11s %9s %7s\n' "/dev/zero -> write" $xfer "-" "-" "$c" "$ci" "-"
done
echo "(ratio = best camdd MB/s / best iscsi-perf MB/s; mean ratio = mean over the alternating pairs; camdd's rate is the copy only, as it prints it)"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
