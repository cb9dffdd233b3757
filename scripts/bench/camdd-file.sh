#!/usr/bin/env bash
# camdd against GNU dd, same block size, same run: a regular file (in the page cache) to
# /dev/null, and a file to a file. Target: camdd at least as fast as dd. camdd runs at its
# defaults (one read at a time, as dd), and file -> /dev/null also with depth=2.
#   SIZE_MB=1024 RUNS=3 BENCH_DIR=/tmp/camdd-bench scripts/bench/camdd-file.sh
source "$(dirname "$0")/camdd-common.sh"
SIZE_MB=${SIZE_MB:-1024}
DIR=${BENCH_DIR:-/tmp/camdd-bench}
mkdir -p "$DIR"
SRC=$DIR/src.bin
DST=$DIR/dst.bin
if [ ! -s "$SRC" ] || [ "$(stat -c %s "$SRC")" -ne $((SIZE_MB << 20)) ]; then
    head -c "${SIZE_MB}M" /dev/urandom > "$SRC"
fi
BYTES=$(stat -c %s "$SRC")
cat "$SRC" > /dev/null
cp "$SRC" "$DST"   # both tools overwrite an existing file in place

printf '%-22s %6s %12s %12s %7s\n' "case" "bs" "dd MB/s" "camdd MB/s" "ratio"
for bs in 64k 1m; do
    d=$(best_seconds dd if="$SRC" of=/dev/null bs=${bs^^} status=none)
    c=$(best_seconds "$CAMDD" -i file="$SRC",bs=$bs -o file=/dev/null,bs=$bs)
    printf '%-22s %6s %12s %12s %7s\n' "file -> /dev/null" $bs "$(mbs "$BYTES" "$d")" "$(mbs "$BYTES" "$c")" "$(ratio "$d" "$c")"
    # camdd with two reads in flight (depth=2 on a file input; dd has no such thing).
    c2=$(best_seconds "$CAMDD" -i file="$SRC",bs=$bs,depth=2 -o file=/dev/null,bs=$bs)
    printf '%-22s %6s %12s %12s %7s\n' "  camdd depth=2" $bs "$(mbs "$BYTES" "$d")" "$(mbs "$BYTES" "$c2")" "$(ratio "$d" "$c2")"
    d=$(best_seconds dd if="$SRC" of="$DST" bs=${bs^^} conv=notrunc status=none)
    c=$(best_seconds "$CAMDD" -i file="$SRC",bs=$bs -o file="$DST",bs=$bs)
    printf '%-22s %6s %12s %12s %7s\n' "file -> file" $bs "$(mbs "$BYTES" "$d")" "$(mbs "$BYTES" "$c")" "$(ratio "$d" "$c")"
done
echo "(ratio = dd time / camdd time; > 1 means camdd is faster; ${SIZE_MB} MiB, best of $RUNS)"
