#!/bin/bash
# compute.vm.run of hello.wasm with and without a reuse_key against the
# raw KVM floor, and a 16 MiB guest restored from a snapshot against the
# same floor, in one run (bench/oneshot.c, bench/kvm-floor.c): p50s and
# their ratios, runs/s with CLIENTS clients and CPU per run (mvmd and its
# workers). RUNS (200), RATE_RUNS (1000), CLIENTS (2), RESTORES (100).
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export MVM_BUILD_DIR=${MVM_BUILD_DIR:-$PWD/$BUILD}
[ -w /dev/kvm ] || { echo "SKIP: /dev/kvm is missing"; exit 77; }
. bench/lib/mvmd.sh
bench_mvmd_start

floor=$("$BUILD/bench/kvm-floor" -n "${RUNS:-200}" -w 1 -c 1 -i 0 -r "${RESTORES:-100}")
echo "$floor" | grep -E '^(kvm start|floor: create|restore|floor, interleaved|ratio restore)'
out=$("$BUILD/bench/oneshot" -s "$dir/rpc.sock" -m "$PWD/$BUILD/wasm-programs/wl-hello.wasm" -p "$pid" \
	-n "${RUNS:-200}" -c "${CLIENTS:-2}" -r "${RATE_RUNS:-1000}")
echo "$out" | grep -v '='
f50=$(echo "$floor" | awk '/^floor: create/ {print $(NF-1)}')
k50=$(echo "$out" | sed -n 's/^reuse_p50_us=//p')
n50=$(echo "$out" | sed -n 's/^nokey_p50_us=//p')
awk -v k="$k50" -v f="$f50" 'BEGIN { printf "ratio run with a reuse_key / raw KVM floor, p50: %.2fx (goal <= 1.0x)\n", k / f }'
awk -v k="$n50" -v f="$f50" 'BEGIN { printf "ratio run without a key / raw KVM floor, p50: %.2fx (goal <= 2x)\n", k / f }'
