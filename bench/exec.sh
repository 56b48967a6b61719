#!/bin/bash
# compute.vm.exec's path on a micro-VM against one hypercall exit, in one
# run (bench/exec-rt.c): p50/p99 of an mvm.echo round trip over the VM's
# hybrid vsock socket, the same as a multiple of one guest-timed hypercall
# round trip (goal: <= 4), VM exits per exec, and the whole JSON-RPC
# compute.vm.exec through a real mvmd; the same for a tiny Wasm module run
# by hash (build/wasm-programs/wl-hi.wasm, a fresh instance per exec).
# RUNS (500), HYPERCALLS (20000), WASM (the module).
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export MVM_BUILD_DIR=${MVM_BUILD_DIR:-$PWD/$BUILD}
B=$BUILD/bench/exec-rt
[ -x "$B" ] || { echo "SKIP: $B not built (make all)"; exit 77; }
[ -w /dev/kvm ] || { echo "SKIP: /dev/kvm is missing"; exit 77; }
. bench/lib/mvmd.sh
bench_mvmd_start
W=${WASM:-$BUILD/wasm-programs/wl-hi.wasm}
[ -r "$W" ] || { echo "SKIP: $W not built (make all)"; exit 77; }
"$B" -n "${RUNS:-500}" -h "${HYPERCALLS:-20000}" -s "$dir/rpc.sock" -w "$W"
