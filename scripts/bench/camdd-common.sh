# Shared by the camdd-*.sh benchmarks: where camdd is, and best-of-N timing.
# Build first: swift build -c release --static-swift-stdlib --product camdd
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CAMDD=${CAMDD:-$ROOT/.build/release/camdd}
RUNS=${RUNS:-3}
[ -x "$CAMDD" ] || { echo "no camdd at $CAMDD (swift build -c release --static-swift-stdlib --product camdd, or set CAMDD=)" >&2; exit 1; }

# best_seconds CMD...: the fastest of $RUNS runs, in seconds.
best_seconds() {
    local best=""
    for _ in $(seq "$RUNS"); do
        local t0 t1
        t0=$(date +%s%N)
        "$@" >/dev/null 2>&1
        t1=$(date +%s%N)
        local s
        s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", (b - a) / 1e9 }')
        if [ -z "$best" ] || awk -v x="$s" -v y="$best" 'BEGIN { exit !(x < y) }'; then best=$s; fi
    done
    echo "$best"
}

# mbs BYTES SECONDS: MB/s with MB = 2^20, as camdd prints it.
mbs() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.1f", n / 1048576 / s }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# camdd_rate ARGS...: the best "MB/sec" camdd itself printed over $RUNS runs (the copy only,
# without process start-up or device set-up).
camdd_rate() {
    local best=0
    for _ in $(seq "$RUNS"); do
        local r
        r=$("$CAMDD" "$@" 2>&1 >/dev/null | awk '/ MB\/sec$/ { print $1 }')
        best=$(awk -v a="$r" -v b="$best" 'BEGIN { print (a > b) ? a : b }')
    done
    echo "$best"
}
