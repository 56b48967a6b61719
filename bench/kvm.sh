#!/bin/bash
# kvm backend start-up against the raw KVM floor (bench/kvm-floor.c), in
# one run: p50/p99 of create-to-first-exit vs spawning mvm-vmm to its exit,
# their ratio, VMs per second, the memory/CPU of idle VMs, and a 16 MiB
# guest restored from a snapshot to Running against the floor.
# RUNS (200), WORKER_RUNS (100), CONCURRENCY (2: the machine has 2 cores), IDLE (20), RESTORES (100).
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export MVM_BUILD_DIR=${MVM_BUILD_DIR:-$PWD/$BUILD}
B=$BUILD/bench/kvm-floor
[ -x "$B" ] || { echo "SKIP: $B not built (make all)"; exit 77; }
[ -w /dev/kvm ] || { echo "SKIP: /dev/kvm is missing"; exit 77; }
exec "$B" -n "${RUNS:-200}" -w "${WORKER_RUNS:-100}" -c "${CONCURRENCY:-2}" -i "${IDLE:-20}" -r "${RESTORES:-100}"
