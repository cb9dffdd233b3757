#!/bin/sh
# Starts a private tgtd on 127.0.0.1, exports one LUN backed by a sparse file, captures the
# raw bytes of the commands the SCSI module parses (scsi-capture) and what libiscsi's own
# tools print for the same LUN, then stops tgtd. Output: capture.txt next to this script.
#
#   scripts/capture/run.sh [PORT] [CONTROL_PORT] [SIZE_MIB]
set -eu
cd "$(dirname "$0")"
PORT=${1:-13263}
CTL=${2:-23}
SIZE=${3:-64}
IQN=iqn.2026-11.test:cap
BACKING=$(mktemp /tmp/scsi-capture.XXXXXX)
BACKING2=$(mktemp /tmp/scsi-capture.XXXXXX)
OUT=capture.txt

./build.sh
truncate -s "${SIZE}M" "$BACKING"
truncate -s 32M "$BACKING2"
tgtd -f -C "$CTL" --iscsi portal=127.0.0.1:$PORT >/tmp/scsi-capture-tgtd.log 2>&1 &
TGTD=$!
# tgtd ignores SIGTERM while it has targets: take it down through its control channel.
cleanup() {
    tgtadm -C "$CTL" --lld iscsi --op delete --mode target --tid 1 --force >/dev/null 2>&1 || true
    tgtadm -C "$CTL" --op delete --mode system --force >/dev/null 2>&1 || true
    sleep 0.5
    kill "$TGTD" 2>/dev/null || true
    wait "$TGTD" 2>/dev/null || true
    rm -f "$BACKING" "$BACKING2"
}
trap cleanup EXIT INT TERM
for i in 1 2 3 4 5 6 7 8 9 10; do
    tgtadm -C "$CTL" --lld iscsi --op show --mode sys >/dev/null 2>&1 && break
    sleep 0.3
done
tgtadm -C "$CTL" --lld iscsi --op new --mode target --tid 1 -T $IQN
tgtadm -C "$CTL" --lld iscsi --op new --mode logicalunit --tid 1 --lun 1 -b "$BACKING"
# LUN 2: 4096-byte blocks, thin provisioned, descriptor-format sense.
tgtadm -C "$CTL" --lld iscsi --op new --mode logicalunit --tid 1 --lun 2 -b "$BACKING2" --blocksize 4096
tgtadm -C "$CTL" --lld iscsi --op update --mode logicalunit --tid 1 --lun 2 \
    --params thin_provisioning=1,sense_format=1
tgtadm -C "$CTL" --lld iscsi --op bind --mode target --tid 1 -I ALL

{
    echo "# tgtd: $(tgtd -V 2>&1 | head -1); libiscsi $(pkg-config --modversion libiscsi)"
    for LUN in 1 2; do
        URL=iscsi://127.0.0.1:$PORT/$IQN/$LUN
        echo "# LUN $LUN: $URL"
        ./scsi-capture 127.0.0.1:$PORT $IQN $LUN | sed "s/^/LUN$LUN /"
        echo "## LUN$LUN iscsi-inq"; iscsi-inq "$URL"
        # iscsi-inq takes the page code in decimal: 0x00 0x80 0x83 0xb0 0xb1 0xb2
        for p in 0 128 131 176 177 178; do
            echo "## LUN$LUN iscsi-inq -e 1 -c $p"; iscsi-inq -e 1 -c $p "$URL" || true
        done
        echo "## LUN$LUN iscsi-readcapacity16"; iscsi-readcapacity16 "$URL"
    done
    echo "## tgtadm show target"; tgtadm -C "$CTL" --lld iscsi --op show --mode target
} >"$OUT" 2>&1
echo "wrote $(pwd)/$OUT"
