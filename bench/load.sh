#!/bin/bash
# mvmd under many clients (bench/load.c): CLIENTS (256) connections, each
# sending REQUESTS (1000; the issue's campaign figure is REQUESTS=10000)
# requests one at a time, a mix of reads (vm.status, node.info, vm.list)
# and create/remove (WRITES percent, default 10; every create and remove
# fsyncs, so they set the pace: WRITES=0 measures reads alone). Reports
# errors (goal 0), p50/p99 latency, and mvmd's RSS and fd count before
# and after (goal: flat).
#
# Then the floor, in the same run: the same clients send the same lines to
# bench/line-echo (a raw Unix socket line echo, one thread, no parsing)
# and take each echoed line as the answer. FLOOR=0 skips it.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
for p in load line-echo; do
	[ -x "$BUILD/bench/$p" ] || { echo "SKIP: $BUILD/bench/$p not built (make all)"; exit 77; }
done
dir=$(mktemp -d /tmp/mvmd-load-XXXXXX)
pid=
trap '[ -z "$pid" ] || { kill $pid 2>/dev/null; wait $pid 2>/dev/null || true; }; rm -rf "$dir"' EXIT
args=(-c "${CLIENTS:-256}" -n "${REQUESTS:-1000}" -w "${WRITES:-10}")
# No warm pool: its workers come and go on their own and would blur the
# fd and RSS figures; nothing here starts a VM.
"$BUILD/bin/mvmd" --rpc-socket "$dir/rpc.sock" --state-dir "$dir/state" --console-dir "$dir/console" \
	--kvm-pool 0 --log-level warning 2>"$dir/mvmd.log" &
pid=$!
for _ in $(seq 100); do [ -S "$dir/rpc.sock" ] && break; sleep 0.05; done
rc=0
"$BUILD/bench/load" -s "$dir/rpc.sock" -p "$pid" "${args[@]}" | grep -v '=' || rc=$?
kill $pid; wait $pid 2>/dev/null || true
pid=
[ "${FLOOR:-1}" = 0 ] && exit $rc
"$BUILD/bench/line-echo" "$dir/echo.sock" &
pid=$!
for _ in $(seq 100); do [ -S "$dir/echo.sock" ] && break; sleep 0.05; done
"$BUILD/bench/load" -e -s "$dir/echo.sock" -p "$pid" "${args[@]}" | grep -v '='
exit $rc
