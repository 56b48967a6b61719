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
       "printf|10000" "strmem|20" "filter|")

irefs() { # irefs CMD...: instructions executed
	valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null "$@" \
		<"$T/input" 2>&1 >/dev/null | awk '/I *refs/ { gsub(",", "", $NF); print $NF }'
}

printf '%-9s %-12s %14s %14s %8s\n' program args "native Ir" "wasm Ir" ratio
ratios=()
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
	r=$(awk -v n="$n" -v w="$w" 'BEGIN { printf "%.2f", w / n }')
	# exitcode measures start-up (load, validate, compile, instantiate):
	# reported, kept out of the mean.
	[ "$name" = exitcode ] && label="$name*" || { label=$name; ratios+=("$r"); }
	printf '%-9s %-12s %14s %14s %7sx\n' "$label" "$args" "$n" "$w" "$r"
done
if [ ${#ratios[@]} -gt 0 ]; then
	g=$(printf '%s\n' "${ratios[@]}" | awk '{ s += log($1) } END { printf "%.2f", exp(s / NR) }')
	printf '%-9s %-12s %14s %14s %7sx\n' geomean "" "" "" "$g"
	echo "(* start-up only: a program that exits at once; not in the mean)"
fi
