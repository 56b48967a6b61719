#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# What a Linux guest pays to fetch a Wasm module by hash (docs/blob-protocol.md):
# the real blob server and the guest's client over AF_UNIX, against reading
# the file, and the guest's plain-C SHA-256 against OpenSSL's. One run,
# side by side, on a 1 MiB and a 16 MiB blob. See bench/blob-fetch.c.
#
#   BLOB_FETCH_RUNS=N   timed runs per case (default 9; median taken)
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
bin=$PWD/$BUILD/bench/blob-fetch
[ -x "$bin" ] || { echo "SKIP: $bin not built (make all)"; exit 77; }
for mib in 1 16; do
	"$bin" "$mib" "${BLOB_FETCH_RUNS:-9}"
done
