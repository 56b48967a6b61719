#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# compute.blob.put by host path against sha256sum(1) of the same file, in
# this one run: a 1 MiB and a 16 MiB Wasm module (a valid module padded
# with a custom section), each put as raw bytes and as kind "wasm"
# (validated). Every timed put stores the blob anew (it is removed,
# untimed, in between), so each includes the copy, the hash, the fsyncs
# and the rename. Files are in the page cache for both sides. openssl
# dgst -sha256 (the same libcrypto as mvmd) is shown as the hashing floor.
#
#   BLOB_BENCH_RUNS=N   timed runs per case (default 9; median taken)
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
MVMD=$PWD/$BUILD/bin/mvmd
RUNS=${BLOB_BENCH_RUNS:-9}
[ -x "$MVMD" ] || { echo "SKIP: $MVMD not built (make all)"; exit 77; }
command -v socat >/dev/null || { echo "SKIP: socat not installed"; exit 77; }

dir=$(mktemp -d /tmp/mvm-blob-bench.XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

"$MVMD" --rpc-socket "$dir/rpc.sock" --state-dir "$dir/state" --console-dir "$dir/console" \
	--log-level warning 2>"$dir/mvmd.log" &
pid=$!
for _ in $(seq 100); do [ -S "$dir/rpc.sock" ] && break; sleep 0.05; done
[ -S "$dir/rpc.sock" ] || { echo "mvmd did not start:"; cat "$dir/mvmd.log"; exit 1; }

# One connection for the whole run: no per-request process start.
coproc RPC { socat - "UNIX-CONNECT:$dir/rpc.sock"; }
id=0
call() { # method params-json -> reply line in $reply
	id=$((id + 1))
	printf '{"jsonrpc":"2.0","id":%d,"method":"%s","params":%s}\n' "$id" "$1" "$2" >&"${RPC[1]}"
	IFS= read -r reply <&"${RPC[0]}"
}

# A valid module of $1 bytes: header + one custom section "pad" whose
# size is a padded 5-byte LEB128 (which the format allows).
make_module() {
	local size=$1 out=$2 n ln i b leb=
	n=$((size - 8 - 1 - 5 - 4))
	ln=$((n + 4))
	for i in 0 1 2 3 4; do
		b=$(((ln >> (7 * i)) & 0x7f))
		[ $i -lt 4 ] && b=$((b | 0x80))
		leb+=$(printf '\\x%02x' $b)
	done
	{ printf '\x00asm\x01\x00\x00\x00\x00'; printf "$leb"; printf '\x03pad'; head -c "$n" /dev/urandom; } >"$out"
}

now_ns() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

printf '%-8s %-5s %11s %9s %13s %8s %11s\n' size kind "put p50 ms" "MB/s" "sha256sum ms" ratio "openssl ms"
for mib in 1 16; do
	f=$dir/m$mib.wasm
	make_module $((mib << 20)) "$f"
	bytes=$(stat -c %s "$f")
	hash="sha256:$(sha256sum "$f" | cut -d' ' -f1)"
	cat "$f" >/dev/null # page cache

	sums=()
	for _ in $(seq "$RUNS"); do
		t0=$(now_ns); sha256sum "$f" >/dev/null; t1=$(now_ns)
		sums+=($((t1 - t0)))
	done
	sum_ns=$(printf '%s\n' "${sums[@]}" | median)
	ossl=(0)
	command -v openssl >/dev/null && ossl=() && for _ in $(seq "$RUNS"); do
		t0=$(now_ns); openssl dgst -sha256 "$f" >/dev/null; t1=$(now_ns)
		ossl+=($((t1 - t0)))
	done
	ossl_ns=$(printf '%s\n' "${ossl[@]}" | median)

	for kind in raw wasm; do
		times=()
		for _ in $(seq "$RUNS"); do
			call compute.blob.remove "{\"hash\":\"$hash\"}"
			t0=$(now_ns)
			call compute.blob.put "{\"path\":\"$f\",\"kind\":\"$kind\"}"
			t1=$(now_ns)
			case $reply in
			*"\"hash\":\"$hash\""*'"created":true'*) ;;
			*) echo "unexpected reply: $reply"; exit 1 ;;
			esac
			times+=($((t1 - t0)))
		done
		put_ns=$(printf '%s\n' "${times[@]}" | median)
		awk -v s="${mib}MiB" -v k="$kind" -v p="$put_ns" -v h="$sum_ns" -v o="$ossl_ns" -v b="$bytes" 'BEGIN {
			printf "%-8s %-5s %11.2f %9.1f %13.2f %7.2fx %11.2f\n", s, k, p / 1e6, b / (p / 1e9) / 1e6, h / 1e6, p / h, o / 1e6 }'
	done
done
echo "ratio: put (copy + hash + fsync + rename, over JSON-RPC) / sha256sum (hash only, plus its process"
echo "start), medians of $RUNS. openssl dgst hashes with the same libcrypto mvmd uses: the hash floor."
