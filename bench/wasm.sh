#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The interpreter against native code: each tests/wasm-programs program,
# built natively with gcc -O2 and for wasm32-wasi with clang -O2, run
# side by side in this one run with the same arguments and input. Prints
# the median CPU time of each, their ratio (and the wall-time ratio), and
# the geometric means of the ratios (goal: <= 13x).
#
#   WASM_BENCH_RUNS=N     timed runs per side (default 3; median taken)
#   WASM_BENCH_ONLY="a b" only these programs
#   WASM_BENCH_QUICK=1    tiny sizes (checks the script, measures nothing)
#
# Each program first runs once per side untimed, and the two outputs must
# be identical: a fast wrong answer is not a result.
set -u
BUILD_DIR=${MVM_BUILD_DIR:-$PWD/${BUILD:-build}}
MVM_WASM=$BUILD_DIR/bin/mvm-wasm
P=$BUILD_DIR/wasm-programs
RUNS=${WASM_BENCH_RUNS:-3}

for f in "$MVM_WASM" "$P/sha256.wasm" "$P/sha256.native"; do
	[ -e "$f" ] || { echo "bench/wasm.sh: $f missing (run make first)" >&2; exit 1; }
done

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# name|arguments, sized for about 0.2 s natively on the development boxes.
if [ "${WASM_BENCH_QUICK:-0}" = 1 ]; then
	CASES=("sha256|4" "sort|20000 1" "recurse|20 5" "nbody|10000" "mandel|100 40"
	       "printf|2000" "strmem|4" "filter|" "bignum|500 200" "lz|16 1" "wordfreq|5000 1")
	lines=2000
else
	CASES=("sha256|400" "sort|1000000 1" "recurse|40 9" "nbody|2000000" "mandel|1200 400"
	       "printf|250000" "strmem|800" "filter|" "bignum|16000 30000" "lz|1024 8"
	       "wordfreq|300000 12")
	lines=250000
fi
awk -v n=$lines 'BEGIN { for (i = 1; i <= n; i++) printf "line %d: The quick brown fox jumps over the lazy dog\n", i }' >"$T/input"

# time_ms CMD...: "CPU WALL" milliseconds of one run, stdin from $T/input.
# CPU time (user + sys) is the primary measure: on a machine shared with
# other jobs it moves far less than wall time; both are reported.
time_ms() {
	local TIMEFORMAT='%3U %3S %3R' t
	t=$( { time "$@" <"$T/input" >/dev/null 2>&1; } 2>&1 )
	awk '{ printf "%.1f %.1f", ($1 + $2) * 1000, $3 * 1000 }' <<<"$t"
}

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# The musl twin (same C, static musl) is timed too when built: its column
# shows how much of a ratio is glibc-vs-musl library code, not the
# interpreter (see bench/wasm-ir.sh). The goal is on the gcc/glibc ratio.
have_musl=0
[ -x "$P/sha256.musl" ] && have_musl=1
printf '%-9s %-16s %10s %9s %10s %8s %8s %9s\n' program args "native ms" "musl ms" "wasm ms" \
	ratio "vs musl" "wall ratio"
ratios=() mratios=() wratios=()
status=0
ratio() { awk -v n="$1" -v w="$2" 'BEGIN { printf "%.2f", w / (n > 0 ? n : 1) }'; }
for c in "${CASES[@]}"; do
	name=${c%%|*} args=${c#*|}
	if [ -n "${WASM_BENCH_ONLY:-}" ] && ! grep -qw "$name" <<<"$WASM_BENCH_ONLY"; then
		continue
	fi
	# shellcheck disable=SC2086 # args are words on purpose
	"$P/$name.native" $args <"$T/input" >"$T/native.out" 2>&1
	# shellcheck disable=SC2086
	"$MVM_WASM" run "$P/$name.wasm" $args <"$T/input" >"$T/wasm.out" 2>&1
	if ! cmp -s "$T/native.out" "$T/wasm.out"; then
		printf '%-9s %-16s  outputs differ: not timed\n' "$name" "$args"
		diff "$T/native.out" "$T/wasm.out" | head -n 5
		status=1
		continue
	fi
	nc="" nw="" mc="" wc="" ww=""
	# Interleave the sides so load from other users hits them alike.
	for ((i = 0; i < RUNS; i++)); do
		# shellcheck disable=SC2086
		read -r c1 w1 <<<"$(time_ms "$P/$name.native" $args)"
		if [ $have_musl = 1 ]; then
			# shellcheck disable=SC2086
			read -r c3 _ <<<"$(time_ms "$P/$name.musl" $args)"
			mc+=" $c3"
		fi
		# shellcheck disable=SC2086
		read -r c2 w2 <<<"$(time_ms "$MVM_WASM" run "$P/$name.wasm" $args)"
		nc+=" $c1" nw+=" $w1" wc+=" $c2" ww+=" $w2"
	done
	n=$(median <<<"$nc") w=$(median <<<"$wc") m=- mr=-
	if [ $have_musl = 1 ]; then
		m=$(median <<<"$mc") mr=$(ratio "$m" "$w")
		mratios+=("$mr")
	fi
	r=$(ratio "$n" "$w")
	wr=$(ratio "$(median <<<"$nw")" "$(median <<<"$ww")")
	ratios+=("$r") wratios+=("$wr")
	printf '%-9s %-16s %10s %9s %10s %7sx %7sx %8sx\n' "$name" "$args" "$n" "$m" "$w" "$r" "$mr" "$wr"
done
geomean() { printf '%s\n' "$@" | awk '{ s += log($1) } END { printf "%.2f", exp(s / NR) }'; }
if [ ${#ratios[@]} -gt 0 ]; then
	mg=-
	[ ${#mratios[@]} -gt 0 ] && mg=$(geomean "${mratios[@]}")
	printf '%-9s %-16s %10s %9s %10s %7sx %7sx %8sx\n' geomean "" "" "" "" \
		"$(geomean "${ratios[@]}")" "$mg" "$(geomean "${wratios[@]}")"
	echo "(CPU time, user+sys, median of $RUNS interleaved runs per side; goal: geomean <= 13x)"
fi
exit $status
