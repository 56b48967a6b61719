#!/bin/bash
# Hello-world Wasm workload cold start through mvmd's RPC against the raw
# KVM floor, in one run (bench/workload.c, bench/kvm-floor.c): p50/p99, the
# ratio, where the time goes (worker alone with a trivial guest, worker
# alone with the Wasm workload, RPC; the VM's own transitions), and VMs/s
# for RATE_RUNS back-to-back runs with CLIENTS clients.
# RUNS (200), RATE_RUNS (1000), CLIENTS (2).
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
[ -w /dev/kvm ] || { echo "SKIP: /dev/kvm is missing"; exit 77; }
. bench/lib/mvmd.sh
bench_mvmd_start

floor=$("$BUILD/bench/kvm-floor" -n "${RUNS:-200}" -w 1 -c 1 -i 0)
echo "$floor" | grep -E '^(kvm start|floor: create)'
out=$("$BUILD/bench/workload" -s "$dir/rpc.sock" -m "$PWD/$BUILD/wasm-programs/wl-hello.wasm" \
	-v "$PWD/$BUILD/bin/mvm-vmm" -g "$PWD/$BUILD/guest/mvm-guest" -e "$PWD/$BUILD/guest/tests/exitcode" \
	-n "${RUNS:-200}" -c "${CLIENTS:-2}" -r "${RATE_RUNS:-1000}" -p "$pid")
echo "$out" | grep -v '='
f50=$(echo "$floor" | awk '/^floor: create/ {print $(NF-1)}')
r50=$(echo "$out" | sed -n 's/^rpc_p50_us=//p')
d50=$(echo "$out" | sed -n 's/^durable_p50_us=//p')
awk -v r="$r50" -v f="$f50" 'BEGIN { printf "ratio Wasm workload cold start through RPC / raw KVM floor, p50: %.1fx (goal <= 1.5x)\n", r / f }'
# A create and a workload's end are each one durable write (docs/design.md §4):
# no start through mvmd can beat the KVM floor plus those two.
awk -v r="$r50" -v f="$f50" -v d="$d50" 'BEGIN { printf "ratio to the KVM floor plus the two durable state writes a VM'"'"'s life needs (%.0f us), p50: %.1fx\n", f + 2 * d, r / (f + 2 * d) }'
