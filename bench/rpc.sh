#!/bin/bash
# JSON-RPC round trip against the floor: a raw line echo server
# (bench/line-echo.c) and the RPC server, side by side in one run, for 1
# and 4 clients, strict request/response and pipelined (depth 16).
#
# The RPC server is build/bin/mvmd answering compute.vm.status on a VM it
# created, when mvmd exists and starts with $MVMD_BENCH_ARGS (default:
# --socket SOCK --state-dir DIR --log-level warning); otherwise
# build/bench/rpc-server (the rpc/ server with a trivial compute.vm.status).
#
# Goal: RPC p50 round trip <= 1.3x the echo's. SECONDS_PER_RUN (default 2).
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
B=$BUILD/bench
T=${SECONDS_PER_RUN:-2}
for p in line-echo rpc-bench rpc-server; do
	[ -x "$B/$p" ] || { echo "SKIP: $B/$p not built (make all)"; exit 77; }
done

dir=$(mktemp -d /tmp/mvm-rpc-bench.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT

wait_socket() {
	for _ in $(seq 100); do [ -S "$1" ] && return 0; sleep 0.05; done
	return 1
}

"$B/line-echo" "$dir/echo.sock" & pids+=($!)
wait_socket "$dir/echo.sock"

server=""
vm=vm-1
if [ -x "$BUILD/bin/mvmd" ]; then
	args=${MVMD_BENCH_ARGS:---socket $dir/rpc.sock --state-dir $dir/state --log-level warning}
	# shellcheck disable=SC2086
	"$BUILD/bin/mvmd" $args >"$dir/mvmd.log" 2>&1 & mpid=$!
	if wait_socket "$dir/rpc.sock"; then
		pids+=($mpid)
		out=$("$B/rpc-bench" -s "$dir/rpc.sock" -1 -r '{"jsonrpc":"2.0","method":"compute.vm.create","params":{"name":"bench","memory_mib":16},"id":1}' || true)
		id=$(sed -n 's/.*"result":{[^}]*"id":"\([^"]*\)".*/\1/p' <<<"$out")
		if [ -n "$id" ]; then
			vm=$id
			server="mvmd (compute.vm.status on VM $vm)"
		else
			echo "note: mvmd could not create a VM ($out); using rpc-server"
			kill "$mpid" 2>/dev/null || true
		fi
	else
		echo "note: mvmd did not start with args '$args' (see below); using rpc-server"
		tail -n 5 "$dir/mvmd.log" || true
		kill "$mpid" 2>/dev/null || true
	fi
fi
if [ -z "$server" ]; then
	rm -f "$dir/rpc.sock"
	"$B/rpc-server" "$dir/rpc.sock" & pids+=($!)
	wait_socket "$dir/rpc.sock"
	server="rpc-server (rpc/ with a trivial compute.vm.status)"
fi

req="{\"jsonrpc\":\"2.0\",\"method\":\"compute.vm.status\",\"params\":{\"id\":\"$vm\"},\"id\":1}"
echo "request: $req"
echo "server:  $server; echo: line-echo; ${T}s per run"
printf '%-8s %-6s | %10s %10s %10s | %10s %10s %10s | %8s %8s\n' clients depth \
	"echo p50" "echo p99" "echo/s" "rpc p50" "rpc p99" "rpc/s" "p50 x" "tput x"
worst=0
for c in 1 4; do
	for d in 1 16; do
		read -r e50 e99 eps < <("$B/rpc-bench" -q -s "$dir/echo.sock" -c $c -d $d -t "$T" -r "$req")
		read -r r50 r99 rps < <("$B/rpc-bench" -q -s "$dir/rpc.sock" -c $c -d $d -t "$T" -r "$req")
		ratio=$(awk -v a="$r50" -v b="$e50" 'BEGIN { printf "%.2f", a / b }')
		tput=$(awk -v a="$eps" -v b="$rps" 'BEGIN { printf "%.2f", a / b }')
		printf '%-8s %-6s | %10s %10s %10s | %10s %10s %10s | %8s %8s\n' $c $d \
			"$e50" "$e99" "$eps" "$r50" "$r99" "$rps" "${ratio}x" "${tput}x"
		worst=$(awk -v a="$ratio" -v w="$worst" 'BEGIN { print (a > w) ? a : w }')
	done
done
echo "(round trips in microseconds; p50 x = rpc p50 / echo p50, tput x = echo/s / rpc/s)"
echo "worst p50 ratio: ${worst}x (goal <= 1.3x)"
