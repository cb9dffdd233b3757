#!/usr/bin/env bash
# camdd reading a scsi_debug disk through the Linux sg SIM to /dev/null, against sg3_utils on
# the same disk in the same VM run (scripts/vm/run-in-vm): sg_dd (one command at a time) at
# depth 1, and sgp_dd thr=N (N threads with one command each) at depth N. Same transfer size
# for all (BS_KB per command: camdd bs=, sg_dd/sgp_dd bs=512 bpt=). Target: camdd at least as
# fast as the faster of the two.
#
# Rates are each tool's own timing of its copy (camdd "seconds elapsed", sg_dd/sgp_dd time=1),
# so process start-up under the emulated CPU is left out; MB = 2^20. Best of RUNS, the tools
# taking turns. Build first:
#   swift build -c release --static-swift-stdlib --product camdd
#   SIZE_MB=512 BS_KB=64 DEPTHS="4 16" RUNS=3 NDELAY=0 scripts/bench/sg-read.sh
# CAMDD=path picks another camdd; VM_ARGS adds run-in-vm options.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SIZE_MB=${SIZE_MB:-512}
BS_KB=${BS_KB:-64}
DEPTHS=${DEPTHS:-4 16}
RUNS=${RUNS:-3}
NDELAY=${NDELAY:-0}

if [[ ${1:-} != --in-vm ]]; then
    CAMDD=$(realpath "${CAMDD:-$ROOT/.build/release/camdd}")
    [[ -x $CAMDD ]] || { echo "no camdd at $CAMDD (swift build -c release --static-swift-stdlib --product camdd, or set CAMDD=)" >&2; exit 1; }
    # delay=0 with ndelay: scsi_debug completes each command ndelay ns later from a timer
    # (0: at once, in the submitting thread).
    # shellcheck disable=SC2086 # VM_ARGS is split on purpose
    exec "$ROOT/scripts/vm/run-in-vm" --scsi-debug "dev_size_mb=$SIZE_MB delay=0 ndelay=$NDELAY max_queue=128" \
        --memory $((SIZE_MB + 768)) --timeout 1800 ${VM_ARGS:-} \
        --env "CAMDD=$CAMDD" --env "SIZE_MB=$SIZE_MB" --env "BS_KB=$BS_KB" --env "DEPTHS=$DEPTHS" \
        --env "RUNS=$RUNS" --env "NDELAY=$NDELAY" \
        -- bash "$ROOT/scripts/bench/sg-read.sh" --in-vm
fi

# --- in the guest ---------------------------------------------------------------------------
dev=""
for d in /sys/class/scsi_generic/sg*; do
    if [[ $(cat "$d/device/model" 2>/dev/null) == scsi_debug* ]]; then dev=/dev/$(basename "$d"); break; fi
done
[[ -n $dev ]] || { echo "no scsi_debug sg device" >&2; exit 1; }
sg_turs -n 3 "$dev" >/dev/null 2>&1 || true # past the power-on UNIT ATTENTION
bytes=$((SIZE_MB << 20))
# A tool that hangs fails its measurement instead of the whole run.
TOOL_TIMEOUT=$((SIZE_MB / 2 + 60))
bpt=$((BS_KB * 2))

# Each prints its rate in MiB/s from the tool's own copy time, or "fail".
camdd_rate() { # depth
    local out
    out=$(timeout "$TOOL_TIMEOUT" "$CAMDD" -i "pass=$dev,bs=${BS_KB}k,depth=$1" -o file=/dev/null 2>&1) ||
        { echo fail; echo "camdd depth $1 failed: $out" >&2; return; }
    awk -v n="$bytes" '/ seconds elapsed$/ { printf "%.1f", n / 1048576 / $1 }' <<<"$out"
}
# sg_dd / sgp_dd time=1: "time to transfer data: 1.23 secs" / "time to transfer data was 1.23 secs".
sg3_rate() { # command...
    local out
    out=$(timeout "$TOOL_TIMEOUT" "$@" 2>&1) || { echo fail; echo "$* failed: $out" >&2; return; }
    awk -v n="$bytes" '/time to transfer data/ {
        for (i = 1; i <= NF; i++) if ($(i + 1) ~ /^secs/) { printf "%.1f", n / 1048576 / $i; exit } }' <<<"$out"
}
best() { # old new
    awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || a == "fail") print b; else if (b == "fail") print a; else print (b > a ? b : a) }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0 && a + 0 > 0) printf "%.2f", a / b; else print "-" }'; }

declare -A R=()
note() { # key rate: keeps the best, and shows each measurement as it comes
    echo "  $1: $2" >&2
    R[$1]=$(best "${R[$1]:-}" "$2")
}
for run in $(seq "$RUNS"); do
    echo "run $run of $RUNS" >&2
    note camdd1 "$(camdd_rate 1)"
    note sg_dd "$(sg3_rate sg_dd if="$dev" of=/dev/null bs=512 bpt=$bpt time=1)"
    # For reference only: sgm_dd, sg_dd through the driver's mmap-ed reserved buffer (no copy
    # to user memory), one command at a time.
    note sgm_dd "$(sg3_rate sgm_dd if="$dev" of=/dev/null bs=512 bpt=$bpt time=1)"
    for d in $DEPTHS; do
        note "camdd$d" "$(camdd_rate "$d")"
        # sgp_dd's threads share one sg descriptor, which takes 16 commands (EDOM beyond).
        note "sgp$d" "$(sg3_rate sgp_dd if="$dev" of=/dev/null bs=512 bpt=$bpt thr="$((d > 16 ? 16 : d))" time=1)"
    done
done

echo "scsi_debug $SIZE_MB MiB (ndelay=$NDELAY) on $dev to /dev/null, ${BS_KB} KiB per command, best of $RUNS; MiB/s"
echo "kernel $(uname -r), $(nproc) CPUs under QEMU TCG; camdd: $CAMDD"
printf '%-8s %10s %10s %10s %14s %14s\n' depth camdd sg_dd sgp_dd camdd/sg_dd camdd/sgp_dd
printf '%-8s %10s %10s %10s %14s %14s\n' 1 "${R[camdd1]}" "${R[sg_dd]}" - "$(ratio "${R[camdd1]}" "${R[sg_dd]}")" -
for d in $DEPTHS; do
    printf '%-8s %10s %10s %10s %14s %14s\n' "$d" "${R[camdd$d]}" "${R[sg_dd]}" "${R[sgp$d]}" \
        "$(ratio "${R[camdd$d]}" "${R[sg_dd]}")" "$(ratio "${R[camdd$d]}" "${R[sgp$d]}")"
done
echo "sgm_dd (mmap-ed, no copy to user memory, for reference): ${R[sgm_dd]}"
echo "(sg_dd is one command at a time, so it stands against every depth; sgp_dd thr=N against depth N,"
echo " thr=16 above 16: its threads share one sg descriptor, which takes 16 commands)"
