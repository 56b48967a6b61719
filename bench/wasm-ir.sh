#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The interpreter against native code in executed x86 instructions
# (valgrind cachegrind "I refs"): deterministic and blind to other users'
# load, so it tells a real change from noise where bench/wasm.sh's times
# cannot. Instructions are not time (IPC differs: an interpreter's
# dispatch runs at a different rate than compiled code), so both ratios
# matter. Sizes are small because valgrind itself is ~50x slower.
#
# Skips (exit 0 with a note) when valgrind is missing.
set -u
BUILD_DIR=${MVM_BUILD_DIR:-$PWD/${BUILD:-build}}
MVM_WASM=$BUILD_DIR/bin/mvm-wasm
P=$BUILD_DIR/wasm-programs

command -v valgrind >/dev/null || { echo "bench/wasm-ir.sh: valgrind not installed, skipped"; exit 0; }
for f in "$MVM_WASM" "$P/sha256.wasm"; do
	[ -e "$f" ] || { echo "bench/wasm-ir.sh: $f missing (run make first)" >&2; exit 1; }
done
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
awk 'BEGIN { for (i = 1; i <= 20000; i++) printf "line %d: The quick brown fox jumps over the lazy dog\n", i }' >"$T/input"

CASES=("exitcode|0" "sha256|20" "sort|50000 1" "recurse|27 7" "nbody|20000" "mandel|200 80"
       "printf|10000" "strmem|20" "filter|" "bignum|3000 3000" "lz|128 1" "wordfreq|40000 1")

irefs() { # irefs CMD...: instructions executed
	valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null "$@" \
		<"$T/input" 2>&1 >/dev/null | awk '/I *refs/ { gsub(",", "", $NF); print $NF }'
}

# The musl twin (same C, static musl, the libc wasi-libc derives from)
# gives a second ratio that leaves out glibc-vs-musl differences.
have_musl=0
[ -x "$P/sha256.musl" ] && have_musl=1
printf '%-9s %-12s %13s %13s %13s %8s %9s\n' program args "native Ir" "musl Ir" "wasm Ir" \
	"vs gcc" "vs musl"
ratios=() mratios=()
for c in "${CASES[@]}"; do
	name=${c%%|*} args=${c#*|}
	# shellcheck disable=SC2086 # args are words on purpose
	n=$(irefs "$P/$name.native" $args)
	# shellcheck disable=SC2086
	w=$(irefs "$MVM_WASM" run "$P/$name.wasm" $args)
	if [ -z "$n" ] || [ -z "$w" ]; then
		printf '%-9s %-12s  valgrind gave no count\n' "$name" "$args"
		continue
	fi
	m=- mr=-
	if [ $have_musl = 1 ]; then
		# shellcheck disable=SC2086
		m=$(irefs "$P/$name.musl" $args)
		mr=$(awk -v n="$m" -v w="$w" 'BEGIN { printf "%.2f", w / n }')
	fi
	r=$(awk -v n="$n" -v w="$w" 'BEGIN { printf "%.2f", w / n }')
	# exitcode measures start-up (load, validate, compile, instantiate):
	# reported, kept out of the means.
	if [ "$name" = exitcode ]; then
		label="$name*"
	else
		label=$name
		ratios+=("$r")
		[ "$mr" != - ] && mratios+=("$mr")
	fi
	printf '%-9s %-12s %13s %13s %13s %7sx %8sx\n' "$label" "$args" "$n" "$m" "$w" "$r" "$mr"
done
geomean() { printf '%s\n' "$@" | awk '{ s += log($1) } END { printf "%.2f", exp(s / NR) }'; }
if [ ${#ratios[@]} -gt 0 ]; then
	mg=-
	[ ${#mratios[@]} -gt 0 ] && mg=$(geomean "${mratios[@]}")
	printf '%-9s %-12s %13s %13s %13s %7sx %8sx\n' geomean "" "" "" "" "$(geomean "${ratios[@]}")" "$mg"
	echo "(* start-up only: a program that exits at once; not in the means)"
fi
