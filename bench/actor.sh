#!/bin/bash
# Actors (docs/actors.md): compute.vm.send round trip to an actor that
# answers at once against the same run's raw Unix-socket line echo
# (bench/line-echo.c), actor to actor through an interface, and
# messages/s to one actor with 1 and 4 connections (bench/actor.c).
# The exits per message are the guest's calls, by construction one
# (docs/actors.md, "How it runs"). RUNS (2000).
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
[ -w /dev/kvm ] || { echo "SKIP: /dev/kvm is missing"; exit 77; }
dir=$(mktemp -d /tmp/mvmd-bench-XXXXXX)
trap 'kill $pid $epid 2>/dev/null; wait $pid $epid 2>/dev/null; rm -rf "$dir"' EXIT
"$BUILD/bin/mvmd" --rpc-socket "$dir/rpc.sock" --state-dir "$dir/state" --console-dir "$dir/console" \
	--log-level warning 2>"$dir/mvmd.log" &
pid=$!
"$BUILD/bench/line-echo" "$dir/echo.sock" &
epid=$!
for _ in $(seq 100); do [ -S "$dir/rpc.sock" ] && [ -S "$dir/echo.sock" ] && break; sleep 0.05; done
"$BUILD/bench/actor" -s "$dir/rpc.sock" -e "$dir/echo.sock" -m "$PWD/$BUILD/wasm-programs/wl-actor.wasm" -n "${RUNS:-2000}" |
	grep -v '='
