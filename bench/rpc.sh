#!/bin/bash
# JSON-RPC round trip against the floor, side by side in one run, for 1 and
# 4 clients, strict request/response (depth 1) and pipelined (depth 16):
#
#   echo    bench/line-echo.c: a raw line echo server, no parsing (the floor)
#   rpc     build/bench/rpc-server: the rpc/ server with a trivial
#           compute.vm.status (the protocol layer's own cost)
#   mvmd    build/bin/mvmd answering compute.vm.status on a VM it created
#           (protocol + the real method), when mvmd is built; started with
#           $MVMD_BENCH_ARGS (default --rpc-socket SOCK --state-dir DIR
#           --console-dir DIR --log-level warning)
#
# Goal: the protocol layer's p50 round trip <= 1.3x the echo's.
# SECONDS_PER_RUN (default 2) per measurement.
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

"$B/rpc-server" "$dir/rpc.sock" & pids+=($!)
wait_socket "$dir/rpc.sock"

have_mvmd=0
vm=""
if [ -x "$BUILD/bin/mvmd" ]; then
	args=${MVMD_BENCH_ARGS:---rpc-socket $dir/mvmd.sock --state-dir $dir/state --console-dir $dir/console --log-level warning}
	# shellcheck disable=SC2086
	"$BUILD/bin/mvmd" $args >"$dir/mvmd.log" 2>&1 & mpid=$!
	pids+=($mpid)
	if wait_socket "$dir/mvmd.sock"; then
		out=$("$B/rpc-bench" -s "$dir/mvmd.sock" -1 -r '{"jsonrpc":"2.0","method":"compute.vm.create","params":{"name":"bench","memory_mib":16},"id":1}' || true)
		vm=$(sed -n 's/^{"jsonrpc":"2.0","result":{"id":"\([^"]*\)".*/\1/p' <<<"$out")
		if [ -n "$vm" ]; then
			have_mvmd=1
		else
			echo "note: mvmd could not create a VM: $out"
		fi
	else
		echo "note: mvmd did not start with args '$args':"
		tail -n 5 "$dir/mvmd.log" || true
	fi
fi

req() { echo "{\"jsonrpc\":\"2.0\",\"method\":\"compute.vm.status\",\"params\":{\"id\":\"$1\"},\"id\":1}"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }

echo "request: $(req vm-1) (echo and rpc); mvmd: the same for VM ${vm:-none}; ${T}s per run"
printf '%-4s %-5s | %-19s | %-19s %-6s | %-19s %-6s\n' "" "" "echo" "rpc (protocol)" "" "mvmd" ""
printf '%-4s %-5s | %9s %9s | %9s %9s %6s | %9s %9s %6s\n' conn depth \
	"p50 us" "answer/s" "p50 us" "answer/s" "p50 x" "p50 us" "answer/s" "p50 x"
worst=0
for c in 1 4; do
	for d in 1 16; do
		read -r e50 _ eps < <("$B/rpc-bench" -q -s "$dir/echo.sock" -c $c -d $d -t "$T" -r "$(req vm-1)")
		read -r r50 _ rps < <("$B/rpc-bench" -q -s "$dir/rpc.sock" -c $c -d $d -t "$T" -r "$(req vm-1)")
		m50=- mps=- mx=-
		if [ $have_mvmd = 1 ]; then
			read -r m50 _ mps < <("$B/rpc-bench" -q -s "$dir/mvmd.sock" -c $c -d $d -t "$T" -r "$(req "$vm")")
			mx=$(ratio "$m50" "$e50")
		fi
		rx=$(ratio "$r50" "$e50")
		printf '%-4s %-5s | %9s %9s | %9s %9s %6s | %9s %9s %6s\n' $c $d "$e50" "$eps" "$r50" "$rps" "$rx" "$m50" "$mps" "$mx"
		[ "$d" = 1 ] && worst=$(awk -v a="${rx%x}" -v w="$worst" 'BEGIN { print (a > w) ? a : w }')
	done
done
echo "(p50 x = p50 round trip / echo's p50, measured in the same run)"
echo "protocol layer, request/response: worst p50 ratio ${worst}x (goal <= 1.3x)"
