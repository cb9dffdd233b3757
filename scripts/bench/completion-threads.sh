#!/usr/bin/env bash
# Direct completion (on the SIM's own thread, FreeBSD's xpt_done_direct) against CAM's
# completion threads (cam_doneq, hashed by bus:target:lun) for each SIM: 8 devices on one bus,
# one reader per device (cam-bench --devices), total MiB/s, IOPS and CPU seconds per GiB read
# (getrusage of the cam-bench process: every thread, user+sys). CAM_COMPLETION=direct|threads
# forces the mode; the two take turns within each run so drifting machine load hits both.
# Issue 10 item 4; results and the recommendation in docs/completion-threads.md.
#
#   swift build -c release --static-swift-stdlib --product cam-bench
#   scripts/bench/completion-threads.sh                  # every SIM
#   SIMS="emu iscsi" RUNS=5 SECONDS_PER_RUN=5 CASES="4k:4 64k:4 4k:16" scripts/bench/completion-threads.sh
#
# SIMS: emu (8 RAM disks, 50 us fixed latency, on this machine), sg (scsi_debug num_tgts=8 in
# the VM of scripts/vm/run-in-vm, ndelay=NDELAY ns), iscsi (a private tgtd on 127.0.0.1 with
# 8 LUNs, scripts/tgt/tgt-harness). CASES: block size:depth per device. CAM_BENCH=path picks
# another cam-bench; VM_ARGS adds run-in-vm options. Prints one table: best and median of RUNS.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SIMS=${SIMS:-emu sg iscsi}
RUNS=${RUNS:-5}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
CASES=${CASES:-4k:4 64k:4 4k:16}
DEVICES=${DEVICES:-8}
NDELAY=${NDELAY:-20000}
CAM_BENCH=$(realpath "${CAM_BENCH:-$ROOT/.build/release/cam-bench}")

# The measurements of one SIM, alternating modes; prints cam-bench's `result` lines, each
# prefixed with "SIM BS:DEPTH ".
measure() { # sim bus
    local sim=$1 bus=$2 run c bs depth mode line
    for run in $(seq "$RUNS"); do
        echo "run $run of $RUNS ($sim)" >&2
        for c in $CASES; do
            bs=${c%:*} depth=${c#*:}
            for mode in direct threads; do
                line=$(CAM_COMPLETION=$mode "$CAM_BENCH" --devices "$DEVICES" --bus "$bus" --bs "$bs" \
                    --depth "$depth" --seconds "$SECONDS_PER_RUN" | grep '^result ') ||
                    { echo "cam-bench $mode $bs:$depth on $bus failed" >&2; continue; }
                echo "  $mode $bs:$depth ${line#result }" >&2
                echo "$sim $bs:$depth ${line#result }"
            done
        done
    done
}

if [[ ${1:-} == --in-vm ]]; then
    # In the guest: every sg device is a scsi_debug target on one host.
    for d in /sys/class/scsi_generic/sg*; do sg_turs -n 2 "/dev/$(basename "$d")" >/dev/null 2>&1 || true; done
    echo "guest: kernel $(uname -r), $(nproc) CPUs under QEMU TCG, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
    measure sg sg
    exit 0
fi

[[ -x $CAM_BENCH ]] || { echo "no cam-bench at $CAM_BENCH (swift build -c release --static-swift-stdlib --product cam-bench, or set CAM_BENCH=)" >&2; exit 1; }
results=$(mktemp)
tgt_dir=""
cleanup() {
    rm -f "$results"
    if [[ -n $tgt_dir ]]; then "$ROOT/scripts/tgt/tgt-harness" -d "$tgt_dir" stop >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

for sim in $SIMS; do
    case $sim in
    emu)
        measure emu emu >>"$results"
        ;;
    sg)
        # shellcheck disable=SC2086 # VM_ARGS is split on purpose
        "$ROOT/scripts/vm/run-in-vm" --scsi-debug "num_tgts=$DEVICES dev_size_mb=64 max_queue=64 delay=0 ndelay=$NDELAY" \
            --timeout 3600 ${VM_ARGS:-} --env "CAM_BENCH=$CAM_BENCH" --env "RUNS=$RUNS" \
            --env "SECONDS_PER_RUN=$SECONDS_PER_RUN" --env "CASES=$CASES" --env "DEVICES=$DEVICES" \
            -- bash "$ROOT/scripts/bench/completion-threads.sh" --in-vm |
            while IFS= read -r line; do
                case $line in
                "sg "*) echo "$line" >>"$results" ;;
                *) echo "$line" >&2 ;; # the guest's progress (its stderr comes back on stdout)
                esac
            done
        ;;
    iscsi)
        eval "$("$ROOT/scripts/tgt/tgt-harness" start --parent $$ --lifetime 3600)"
        tgt_dir=$TGT_HARNESS_DIR
        for lun in $(seq "$DEVICES"); do
            "$ROOT/scripts/tgt/tgt-harness" -d "$tgt_dir" add-disk iqn.2025-01.org.swiftcam:completion "$lun" "" 64M >/dev/null
        done
        measure iscsi "iscsi://127.0.0.1:$TGT_PORT" >>"$results"
        "$ROOT/scripts/tgt/tgt-harness" -d "$tgt_dir" stop >/dev/null
        tgt_dir=""
        ;;
    *) echo "unknown SIM '$sim' (emu, sg or iscsi)" >&2; exit 2 ;;
    esac
done

echo "cam-bench --devices $DEVICES, one reader per device, READ(10), ${SECONDS_PER_RUN} s per run, $RUNS runs, modes alternating"
echo "host: $(nproc) CPUs, load average $load_before before, $(cut -d' ' -f1-3 /proc/loadavg) after; MiB = 2^20"
echo "CPU s/GiB: user+sys of the cam-bench process (all its threads) per GiB read; best = lowest"
awk '
function sortn(a, n,   i, j, t) { for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t } }
function median(a, n) { sortn(a, n); return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
{
    key = $1 " " $2 " " substr($3, length("completion=") + 1)
    if (!(key in n)) order[++keys] = key
    k = ++n[key]
    for (i = 4; i <= NF; i++) { split($i, kv, "="); v[key, kv[1], k] = kv[2] }
}
END {
    printf "%-6s %-7s %-8s %10s %10s %10s %10s %10s %10s %5s\n", "SIM", "bs:depth", "mode", "MiB/s best", "median", "IOPS med", "CPU s/GiB", "median", "CPU s", "runs"
    for (q = 1; q <= keys; q++) {
        key = order[q]; m = n[key]
        for (k = 1; k <= m; k++) { r[k] = v[key, "mibps", k]; c[k] = v[key, "cpu_per_gib", k]; o[k] = v[key, "iops", k]; s[k] = v[key, "cpu", k] }
        sortn(r, m); best = r[m]; mr = median(r, m)
        sortn(c, m); bestc = c[1]; mc = median(c, m)
        mo = median(o, m); ms = median(s, m)
        split(key, f, " ")
        printf "%-6s %-7s %-8s %10.1f %10.1f %10d %10.3f %10.3f %10.2f %5d\n", f[1], f[2], f[3], best, mr, mo, bestc, mc, ms, m
    }
}' "$results"
