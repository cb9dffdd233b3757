#!/bin/sh
# Builds scsi-capture against the system libiscsi (apt: libiscsi-dev).
set -e
cd "$(dirname "$0")"
cc -std=c99 -Wall -Wextra -O1 -o scsi-capture scsi-capture.c $(pkg-config --cflags --libs libiscsi)
