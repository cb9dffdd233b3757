#!/usr/bin/env bash
# Peak RSS of camdd at depth 8, bs 1 MiB (/usr/bin/time -v). Target: under 64 MiB.
#   SIZE_MB=1024 scripts/bench/camdd-rss.sh
source "$(dirname "$0")/camdd-common.sh"
SIZE_MB=${SIZE_MB:-1024}
DIR=${BENCH_DIR:-/tmp/camdd-bench}
mkdir -p "$DIR"
SRC=$DIR/rss-src.bin
[ -s "$SRC" ] || head -c "${SIZE_MB}M" /dev/urandom > "$SRC"

rss() {
    /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }'
}
printf '%-58s %10s\n' "case (bs=1m)" "peak MiB"
printf '%-58s %10s\n' "emu RAM disk (depth 8) -> /dev/null" \
    "$(rss "$CAMDD" -i pass=emu:disk:size=${SIZE_MB}m,bs=1m,depth=8 -o file=/dev/null,bs=1m)"
printf '%-58s %10s\n' "file -> file" \
    "$(rss "$CAMDD" -i file="$SRC",bs=1m -o file="$DIR/rss-dst.bin",bs=1m)"
printf '%-58s %10s\n' "emu disk -> emu disk, both depth 8" \
    "$(rss "$CAMDD" -i pass=emu:disk:size=${SIZE_MB}m,bs=1m,depth=8 -o pass=emu:disk:size=${SIZE_MB}m:file=$DIR/rss-img,bs=1m,depth=8)"
rm -f "$DIR/rss-dst.bin" "$DIR/rss-img"
