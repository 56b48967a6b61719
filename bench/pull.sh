#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# compute.blob.pull from a local registry (Debian's docker-registry on
# 127.0.0.1) against curl fetching the same blob from it, in the same run:
# a 1 MiB and a 64 MiB blob (docs/blobs.md, "Pulling from registries").
# mvmd's time is mvmctl's call: handing the job to the spare mvm-fetch
# (started, sandboxed, after the previous pull), the download through its
# pipe while mvmd hashes and writes the store's temp file, and the fsynced
# rename; curl's is its own start and the download into a file, not
# fsynced. Then create -> Configured of a kvm VM
# whose module is missing (pulled on demand) against one whose module is
# stored, and, where /dev/kvm works, create+start -> Stopped of both.
#
#   PULL_RUNS=N   timed runs per case (default 7; median taken)
#   PULL_BASELINE=DIR  also time the mvmd in DIR/bin (another build, with its
#                 mvm-fetch and mvmctl) against the same registry, its runs
#                 interleaved with this build's and curl's (a before/after
#                 on a loaded machine, where separate runs drift apart)
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
B=$PWD/$BUILD
for t in docker-registry curl; do
	command -v $t >/dev/null || { echo "SKIP: $t not installed (packaging/build-deps)"; exit 0; }
done
# shellcheck source=tests/lib/mvmd-lifecycle.sh
. tests/lib/mvmd-lifecycle.sh
# shellcheck source=tests/lib/registry.sh
. tests/lib/registry.sh
runs=${PULL_RUNS:-7}
tmp=$(mktemp -d /tmp/mvm-pull-bench.XXXXXX)
base=${PULL_BASELINE:-} base_pid=
trap 'lc_stop; [ -n "$base_pid" ] && { kill "$base_pid"; wait "$base_pid"; } 2>/dev/null; reg_stop "${REG_PID:-}"; rm -rf "$tmp"' EXIT

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

reg_start "$tmp/reg" || exit 1
kvm_flags=(--kvm-pool 0)
[ -w /dev/kvm ] || kvm_flags+=(--kvm-device "$tmp/no-kvm")
if [ -n "$base" ]; then
	lc_start "$tmp/base" "$base/bin/mvmd" "$base/bin/mvmctl" -- "${kvm_flags[@]}" --blob-source "r=$REG_URL/bench/blobs" || exit 1
	base_pid=$LC_PID base_sock=$LC_SOCK LC_PID=
	base_call() { "$base/bin/mvmctl" --socket "$base_sock" --json call "$@"; }
fi
lc_start "$tmp/m" "$B/bin/mvmd" "$B/bin/mvmctl" -- "${kvm_flags[@]}" --blob-source "r=$REG_URL/bench/blobs" || exit 1

printf '%-8s %12s %12s %12s %12s %8s\n' size "mvmd s" "mvmd MB/s" "curl s" "curl MB/s" ratio
for mib in 1 64; do
	head -c $((mib << 20)) /dev/urandom >"$tmp/blob.$mib"
	hex=$(sha256sum "$tmp/blob.$mib" | cut -d' ' -f1)
	reg_push_blob "$REG_URL" bench/blobs "$tmp/blob.$mib" || { echo "push failed"; exit 1; }
	: >"$tmp/t.mvmd"; : >"$tmp/t.curl"; : >"$tmp/t.base"
	for _ in $(seq 1 "$runs"); do
		if [ -n "$base" ]; then
			base_call compute.blob.remove "{\"hash\":\"sha256:$hex\"}" >/dev/null 2>&1
			t0=$(now)
			base_call compute.blob.pull "{\"hash\":\"sha256:$hex\"}" >/dev/null || { echo "baseline pull failed"; exit 1; }
			echo $(($(now) - t0)) >>"$tmp/t.base"
		fi
		lc_call compute.blob.remove "{\"hash\":\"sha256:$hex\"}" >/dev/null 2>&1
		t0=$(now)
		lc_call compute.blob.pull "{\"hash\":\"sha256:$hex\"}" >/dev/null || { echo "pull failed"; exit 1; }
		echo $(($(now) - t0)) >>"$tmp/t.mvmd"
		t0=$(now)
		curl -sf -o "$tmp/curl.out" "$REG_URL/v2/bench/blobs/blobs/sha256:$hex" || { echo "curl failed"; exit 1; }
		echo $(($(now) - t0)) >>"$tmp/t.curl"
		rm -f "$tmp/curl.out"
	done
	m=$(median <"$tmp/t.mvmd") c=$(median <"$tmp/t.curl")
	awk -v mib="$mib" -v m="$m" -v c="$c" 'BEGIN {
		printf "%-8s %12.4f %12.1f %12.4f %12.1f %7.2fx\n", mib " MiB", m / 1e9, mib * 1.048576 / (m / 1e9),
		       c / 1e9, mib * 1.048576 / (c / 1e9), c / m }'
	[ -z "$base" ] || awk -v mib="$mib" -v m="$(median <"$tmp/t.base")" -v c="$c" 'BEGIN {
		printf "%-8s %12.4f %12.1f %12s %12s %7.2fx  (PULL_BASELINE)\n", mib " MiB", m / 1e9, mib * 1.048576 / (m / 1e9),
		       "", "", c / m }'
done
echo "(ratio: mvmd's throughput over curl's; the goal is >= 0.8)"

# create -> Configured (-> Stopped where KVM works): module missing vs stored
hello=$B/wasm-programs/wl-exit.wasm
if [ -f "$hello" ]; then
	hex=$(sha256sum "$hello" | cut -d' ' -f1)
	reg_push_blob "$REG_URL" bench/blobs "$hello" || exit 1
	for case in missing stored; do
		: >"$tmp/t.$case"
		for i in $(seq 1 "$runs"); do
			[ $case = missing ] && lc_call compute.blob.remove "{\"hash\":\"sha256:$hex\",\"force\":true}" >/dev/null 2>&1
			t0=$(now)
			id=$(lc_call compute.vm.create "{\"name\":\"b-$case-$i\",\"memory_mib\":16,\"workload\":{\"hash\":\"sha256:$hex\"}}" | lc_field id)
			until lc_call compute.vm.status "{\"id\":\"$id\"}" | grep -qE '"state":"(Configured|Failed)"'; do :; done
			if [ -w /dev/kvm ]; then
				lc_call compute.vm.start "{\"id\":\"$id\"}" >/dev/null
				until lc_call compute.vm.status "{\"id\":\"$id\"}" | grep -qE '"state":"(Stopped|Failed|StartFailed)"'; do :; done
			fi
			echo $(($(now) - t0)) >>"$tmp/t.$case"
			lc_call compute.vm.remove "{\"id\":\"$id\",\"force\":true}" >/dev/null
		done
	done
	what="create -> Configured"
	[ -w /dev/kvm ] && what="create+start -> Stopped"
	printf '%s, module missing (pulled): %.1f ms; stored: %.1f ms (median of %d, each through mvmctl)\n' "$what" \
		"$(echo "$(median <"$tmp/t.missing") / 1000000" | bc -l)" "$(echo "$(median <"$tmp/t.stored") / 1000000" | bc -l)" "$runs"
fi
