#!/bin/bash
# Actors (docs/actors.md): compute.vm.send round trip to an actor that
# answers at once against the same run's raw Unix-socket line echo
# (bench/line-echo.c) and one raw hypercall exit, actor to actor through
# an interface, messages/s to one actor with 1 and 4 connections, and
# VM exits per message from KVM's counters in debugfs (mounted here if
# it is not and we may) (bench/actor.c). RUNS (2000).
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
[ -w /dev/kvm ] || { echo "SKIP: /dev/kvm is missing"; exit 77; }
[ -d /sys/kernel/debug/kvm ] || mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null || true
dir=$(mktemp -d /tmp/mvmd-bench-XXXXXX)
trap 'kill $pid $epid 2>/dev/null; wait $pid $epid 2>/dev/null || true; rm -rf "$dir"' EXIT
"$BUILD/bin/mvmd" --rpc-socket "$dir/rpc.sock" --state-dir "$dir/state" --console-dir "$dir/console" \
	--log-level warning --allow-custom-guests 2>"$dir/mvmd.log" &
pid=$!
"$BUILD/bench/line-echo" "$dir/echo.sock" &
epid=$!
for _ in $(seq 100); do [ -S "$dir/rpc.sock" ] && [ -S "$dir/echo.sock" ] && break; sleep 0.05; done
"$BUILD/bench/actor" -s "$dir/rpc.sock" -e "$dir/echo.sock" -m "$PWD/$BUILD/wasm-programs/wl-actor.wasm" \
	-g "$PWD/$BUILD/guest/tests/rawactor" -n "${RUNS:-2000}" |
	grep -v '='
