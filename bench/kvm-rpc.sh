#!/bin/bash
# Micro-VM cold start through mvmd's RPC against the raw KVM floor, in one
# run: create+start of a guest that exits at once, timed to its Stopped
# event (bench/kvm-rpc.c), and the floor's create-to-first-exit
# (bench/kvm-floor.c), p50/p99 and the ratio; VMs per second with 2
# clients; MemAvailable per idle VM.
# RUNS (200), RATE_RUNS (400), CLIENTS (2), IDLE (200).
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
[ -w /dev/kvm ] || { echo "SKIP: /dev/kvm is missing"; exit 77; }
. bench/lib/mvmd.sh
bench_mvmd_start --max-vms 20000 --allow-custom-guests

floor=$("$BUILD/bench/kvm-floor" -n "${RUNS:-200}" -w 1 -c 1 -i 0)
echo "$floor" | grep -E '^(kvm start|floor:)'
out=$("$BUILD/bench/kvm-rpc" -s "$dir/rpc.sock" -g "$PWD/$BUILD/guest/tests/exitcode" -n "${RUNS:-200}" \
	-c "${CLIENTS:-2}" -r "${RATE_RUNS:-400}" -i "${IDLE:-200}")
echo "$out" | grep -v '='
f50=$(echo "$floor" | awk '/^floor: create/ {print $(NF-1)}')
r50=$(echo "$out" | sed -n 's/^rpc_p50_us=//p')
awk -v r="$r50" -v f="$f50" 'BEGIN { printf "ratio RPC cold start / raw KVM floor, p50: %.1fx (goal <= 1.5x)\n", r / f }'
