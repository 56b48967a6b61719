#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The wasm32-wasi test programs under build/bin/mvm-wasm against their
# native twins: same arguments, same stdin, same environment; stdout,
# stderr and exit code must be identical byte for byte. Plus the runner's
# own contract: traps (134 + kind), validation errors with an offset,
# capabilities, usage errors.
#
# Ends with "N passed, M failed, K skipped".
set -u
BUILD_DIR=${MVM_BUILD_DIR:-$PWD/build}
MVM_WASM=$BUILD_DIR/bin/mvm-wasm
P=$BUILD_DIR/wasm-programs

if [ ! -x "$MVM_WASM" ]; then
	echo "SKIP: $MVM_WASM not built"
	exit 77
fi
if [ ! -f "$P/sha256.wasm" ] || [ ! -x "$P/sha256.native" ]; then
	echo "SKIP: test programs not built under $P (make all builds them)"
	exit 77
fi

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0 skip=0
VARIANT= # "" or ".simd": which build of the wasm program same() runs

ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

# same NAME STDIN_FILE ARGS...: native and wasm agree on stdout, stderr, status.
same() {
	local name=$1 in=$2; shift 2
	env -i "${ENVS[@]}" "$P/$name.native" "$@" <"$in" >"$T/n.out" 2>"$T/n.err"
	local nrc=$?
	env -i "$MVM_WASM" run "${RUN_OPTS[@]}" "$P/$name$VARIANT.wasm" "$@" <"$in" >"$T/w.out" 2>"$T/w.err"
	local wrc=$?
	local what="$name$VARIANT $*"
	if [ $nrc -ne $wrc ]; then
		bad "$what: exit $wrc under mvm-wasm, $nrc natively"; head -c 600 "$T/w.err"
	elif ! cmp -s "$T/n.out" "$T/w.out"; then
		bad "$what: stdout differs"; diff "$T/n.out" "$T/w.out" | head -n 10
	elif ! cmp -s "$T/n.err" "$T/w.err"; then
		bad "$what: stderr differs"; diff "$T/n.err" "$T/w.err" | head -n 10
	elif [ ! -s "$T/n.out" ] && [ ! -s "$T/n.err" ]; then
		bad "$what: no output at all (nothing was compared)"
	else
		ok "$what (exit $nrc, $(wc -c <"$T/n.out") bytes)"
	fi
}

ENVS=() RUN_OPTS=()
# Deterministic programs, small sizes (the benchmark uses big ones), as
# plain wasm32 and as clang's -msimd128 auto-vectorised build.
for VARIANT in "" .simd; do
	if [ -n "$VARIANT" ] && [ ! -f "$P/sha256$VARIANT.wasm" ]; then
		skip=$((skip + 1)); echo "SKIP: no $VARIANT builds"; continue
	fi
	same sha256 /dev/null 20
	same sort /dev/null 5000 3
	same recurse /dev/null 22 6
	same nbody /dev/null 5000
	same mandel /dev/null 120 50
	same printf /dev/null 500
	same strmem /dev/null 6
	same bignum /dev/null 300 150
	same lz /dev/null 32 2
	same wordfreq /dev/null 5000 2
done
VARIANT=

# stdin round trips: small text, empty, binary, and large (many reads).
printf 'Hello, World!\nsecond line\nno newline at end' >"$T/in1"
same filter "$T/in1"
same filter "$T/in1" upper
same filter /dev/null
head -c 3000 "$P/sha256.wasm" >"$T/in2"
same filter "$T/in2"
for i in $(seq 1 4000); do echo "line $i: the quick brown fox jumps over the lazy dog"; done >"$T/in3"
same filter "$T/in3"

# Exit codes through exit() and through main's return, with stderr.
same exitcode /dev/null 0
same exitcode /dev/null 1
same exitcode /dev/null 42
same exitcode /dev/null 42 return stderr
same exitcode /dev/null 255

# WASI's exit code is a u32, a process status 8 bits. A code that does not
# fit exits 255 (never its low byte: 256 would exit 0, success) and is
# printed whole on stderr; natively exit(300) is 44, so no native twin.
W=$P/wl-exit.wasm
if [ -f "$W" ]; then
	for c in 0:0 1:1 255:255 256:255 300:255 65536:255 2147483647:255 2147483648:255 4294967295:255; do
		code=${c%%:*} want=${c#*:}
		"$MVM_WASM" run "$W" "$code" >"$T/out" 2>"$T/err"
		rc=$?
		if [ $rc -ne "$want" ] || ! grep -qx "exiting with $code" "$T/out"; then
			bad "exit code $code: rc=$rc, want $want: $(head -c 200 "$T/out" "$T/err")"
		elif [ "$code" -gt 255 ] && ! grep -qx "mvm-wasm: exit code $code does not fit in an exit status: exiting 255" "$T/err"; then
			bad "exit code $code: the whole code is not on stderr: $(head -c 200 "$T/err")"
		elif [ "$code" -le 255 ] && [ -s "$T/err" ]; then
			bad "exit code $code: unexpected stderr: $(head -c 200 "$T/err")"
		else
			ok "exit code $code: exit status $rc"
		fi
	done
else
	skip=$((skip + 1)); echo "SKIP: $W not built"
fi

# Buffering as libc chooses it from fd_fdstat_get, seen on one stream.
# A pipe: stdout fully buffered, so "line 2" comes after the stderr line
# (musl and wasi-libc flush the first line before deciding; glibc does
# not, so the reference here is the musl twin when it is built). A
# terminal through script(1): line-buffered, program order, as natively.
"$MVM_WASM" run "$P/exitcode.wasm" 5 stderr >"$T/w.mix" 2>&1
ref="$P/exitcode.musl"
[ -x "$ref" ] || ref=""
if [ -n "$ref" ]; then "$ref" 5 stderr >"$T/n.mix" 2>&1; else cp "$T/w.mix" "$T/n.mix"; fi
if cmp -s "$T/n.mix" "$T/w.mix" && [ "$(grep -n 'line 2' "$T/w.mix" | cut -d: -f1)" -gt \
	"$(grep -n 'about to exit' "$T/w.mix" | cut -d: -f1)" ]; then
	ok "pipe: stdout fully buffered${ref:+, as the musl twin}"
else
	bad "pipe buffering"; diff "$T/n.mix" "$T/w.mix" | head -n 6; head -n 4 "$T/w.mix"
fi
# script(1) needs a pseudo-terminal; some CI containers have none.
if command -v script >/dev/null && script -qec true /dev/null >/dev/null 2>&1 </dev/null; then
	script -qec "$P/exitcode.native 5 stderr" /dev/null >"$T/n.tty" 2>&1 </dev/null
	script -qec "$MVM_WASM run $P/exitcode.wasm 5 stderr" /dev/null >"$T/w.tty" 2>&1 </dev/null
	if cmp -s "$T/n.tty" "$T/w.tty" && sed -n 2p "$T/w.tty" | grep -q 'line 2'; then
		ok "terminal: stdout line-buffered, as natively"
	else
		bad "terminal buffering differs"; diff "$T/n.tty" "$T/w.tty" | head -n 6
	fi
else
	skip=$((skip + 1)); echo "SKIP: no script(1) or no pty here, terminal buffering not checked"
fi

# Args, environment, clock, random: the program prints what it got and
# checks the properties (monotonic clock, non-constant random) itself.
ENVS=(FOO=bar 'SPACES=a b  c' EMPTY=)
RUN_OPTS=(--env FOO=bar --env 'SPACES=a b  c' --env EMPTY=)
same envclock /dev/null one 'two words' '' --not-an-option
ENVS=() RUN_OPTS=()
same envclock /dev/null

# --inherit-env passes the whole environment, --env overrides a key.
env -i A=1 B=2 "$MVM_WASM" run --inherit-env --env B=3 "$P/envclock.wasm" >"$T/out" 2>&1
if grep -qx 'envc=2' "$T/out" && grep -qx 'env A=1' "$T/out" && grep -qx 'env B=3' "$T/out"; then
	ok "--inherit-env with an --env override"
else
	bad "--inherit-env: $(head -c 300 "$T/out")"
fi
# Without it, nothing of the host environment leaks in.
HOSTONLY=leak "$MVM_WASM" run "$P/envclock.wasm" >"$T/out" 2>&1
if grep -qx 'envc=0' "$T/out"; then ok "environment is empty by default"; else bad "environment leaked"; fi

# Guest-side refusals: imports all of preview1 (so it links only if every
# function is bound with the right type) and checks each errno itself.
"$MVM_WASM" run "$P/wasi-refusals.wasm" >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -eq 0 ] && grep -qx 'all checks ok' "$T/out" && ! grep -q FAIL "$T/out" \
	&& [ "$(grep -c ' ok$' "$T/out")" -ge 25 ]; then
	ok "guest-side WASI refusals ($(grep -c ' ok$' "$T/out") errno checks)"
else
	bad "guest-side WASI refusals: rc=$rc"; grep -v ' ok$' "$T/out" "$T/err" | head -n 20
fi

# Sleeping (poll_oneoff on the monotonic clock, blocking in the host).
"$MVM_WASM" run "$P/wasi-sleep.wasm" 30 >"$T/out" 2>&1
rc=$?
if [ $rc -eq 0 ] && [ "$(grep -c ': ok$' "$T/out")" -eq 3 ]; then
	ok "nanosleep and poll_oneoff wait as long as asked"
else
	bad "sleep: rc=$rc $(head -c 300 "$T/out")"
fi

# --- denied capabilities ----------------------------------------------------
"$MVM_WASM" run --deny stdout "$P/exitcode.wasm" 7 stderr >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -eq 7 ] && [ ! -s "$T/out" ] && grep -q 'about to exit with 7' "$T/err"; then
	ok "--deny stdout: no stdout, stderr still works, exit code kept"
else
	bad "--deny stdout: rc=$rc out=$(head -c 100 "$T/out")"
fi
"$MVM_WASM" run --deny clock "$P/envclock.wasm" >"$T/out" 2>&1
rc=$?
if [ $rc -eq 1 ] && grep -q '^clock: FAIL' "$T/out" && grep -q '^realtime: FAIL' "$T/out"; then
	ok "--deny clock: the program sees its clock calls refused"
else
	bad "--deny clock: rc=$rc $(head -c 300 "$T/out")"
fi
"$MVM_WASM" run --deny clock "$P/wasi-sleep.wasm" >"$T/out" 2>&1
rc=$?
if [ $rc -eq 1 ] && grep -q '^nanosleep: FAIL' "$T/out"; then
	ok "--deny clock: sleeping refused too"
else
	bad "--deny clock (sleep): rc=$rc $(head -c 300 "$T/out")"
fi
"$MVM_WASM" run --deny stdin "$P/filter.wasm" <"$T/in1" >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -eq 1 ] && grep -q 'read error' "$T/err" && ! grep -q Hello "$T/out"; then
	ok "--deny stdin: reads refused"
else
	bad "--deny stdin: rc=$rc $(head -c 300 "$T/err")"
fi
# Denied args and env are not errors (libc would exit 71 before main) but
# argv = [argv0] and an empty environment, as in Wasmtime and Node.
W=$P/wl-envargs.wasm
if [ -f "$W" ]; then
	"$MVM_WASM" run --deny env --deny args --env X=secret "$W" secret-arg >"$T/out" 2>"$T/err"
	rc=$?
	printf 'argc=1\nargv[0]=%s\nX=(unset)\nenvc=0\n' "$W" >"$T/want"
	if [ $rc -eq 0 ] && cmp -s "$T/want" "$T/out" && [ ! -s "$T/err" ]; then
		ok "--deny env --deny args: argv = [name], empty environment, exit 0"
	else
		bad "--deny env --deny args: rc=$rc $(head -c 300 "$T/out" "$T/err")"
	fi
	"$MVM_WASM" run --deny args --env X=1 "$W" a >"$T/out" 2>&1
	rc=$?
	if [ $rc -eq 0 ] && grep -qx 'argc=1' "$T/out" && grep -qx 'X=1' "$T/out"; then
		ok "--deny args alone: env still there"
	else
		bad "--deny args: rc=$rc $(head -c 300 "$T/out")"
	fi
	"$MVM_WASM" run --deny env --env X=1 "$W" a >"$T/out" 2>&1
	rc=$?
	if [ $rc -eq 0 ] && grep -qx 'argc=2' "$T/out" && grep -qx 'argv\[1\]=a' "$T/out" && grep -qx 'envc=0' "$T/out"; then
		ok "--deny env alone: args still there"
	else
		bad "--deny env: rc=$rc $(head -c 300 "$T/out")"
	fi
else
	skip=$((skip + 1)); echo "SKIP: $W not built"
fi
"$MVM_WASM" run --deny random "$P/envclock.wasm" >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -ne 0 ] && ! grep -q '^random: ok' "$T/out"; then
	ok "--deny random: no random bytes (exit $rc)"
else
	bad "--deny random: rc=$rc $(head -c 300 "$T/out")"
fi

# --- traps, invalid modules, linking ----------------------------------------
# Hand-assembled modules: (func (export "_start") <body>).
hex2bin() { printf "$(tr -d ' \n\t' <<<"$1" | sed 's/../\\x&/g')"; }
module() { # module BODY_HEX FILE: one function [] -> [] exported as _start
	local n=$(( ${#1} / 2 + 1 )) # body bytes plus the locals count
	hex2bin "0061736d 01000000 01 04 01 60 00 00 03 02 01 00
		07 0a 01 06 5f7374617274 00 00
		0a $(printf %02x $((n + 2))) 01 $(printf %02x $n) 00 $1" >"$2"
}
module 000b "$T/unreachable.wasm"
module 410141006d1a0b "$T/divzero.wasm"
module 0b "$T/empty.wasm"
module 03400c000b0b "$T/spin.wasm" # loop br 0 end: runs forever
"$MVM_WASM" validate "$T/empty.wasm" >"$T/out" 2>&1 && grep -qx ok "$T/out" \
	&& ok "hand-made module validates" || bad "hand-made module: $(cat "$T/out")"
"$MVM_WASM" run "$T/empty.wasm" >"$T/out" 2>&1
rc=$?
[ $rc -eq 0 ] && ok "_start returning exits 0" || bad "_start returning: rc=$rc $(cat "$T/out")"
for t in unreachable:unreachable divzero:'divide by zero'; do
	f=${t%%:*} kind=${t#*:}
	"$MVM_WASM" run "$T/$f.wasm" >"$T/out" 2>"$T/err"
	rc=$?
	if [ $rc -eq 134 ] && grep -q "^mvm-wasm: trap: .*$kind" "$T/err"; then
		ok "trap $f: exit 134, $(cat "$T/err")"
	else
		bad "trap $f: rc=$rc err=$(cat "$T/err")"
	fi
done

timeout 60 "$MVM_WASM" run --fuel 1000000 "$T/spin.wasm" >"$T/out" 2>"$T/err"
rc=$?
[ $rc -eq 134 ] && grep -q '^mvm-wasm: trap: out of fuel' "$T/err" \
	&& ok "--fuel stops an endless loop: exit 134, out of fuel" || bad "--fuel: rc=$rc $(cat "$T/err")"
"$MVM_WASM" run --fuel 100000000 "$P/exitcode.wasm" 4 >/dev/null 2>&1
rc=$?
[ $rc -eq 4 ] && ok "--fuel large enough: runs to the end" || bad "--fuel large: rc=$rc"

"$MVM_WASM" validate "$P/sha256.wasm" >"$T/out" 2>&1
rc=$?
[ $rc -eq 0 ] && grep -qx ok "$T/out" && ok "validate sha256.wasm: ok" || bad "validate sha256.wasm: rc=$rc"
printf '\x00asm\x02\x00\x00\x00' >"$T/badversion.wasm"
head -c 20000 "$P/sha256.wasm" >"$T/truncated.wasm"
cp "$P/sha256.wasm" "$T/corrupt.wasm"
printf '\xff\xff\xff\xff\xff' | dd of="$T/corrupt.wasm" bs=1 seek=12 conv=notrunc status=none
for f in badversion truncated corrupt; do
	"$MVM_WASM" validate "$T/$f.wasm" >"$T/out" 2>&1
	rc=$?
	if [ $rc -eq 1 ] && grep -q 'offset [0-9]' "$T/out"; then
		ok "validate $f: $(head -n1 "$T/out")"
	else
		bad "validate $f: rc=$rc $(head -c 300 "$T/out")"
	fi
	"$MVM_WASM" run "$T/$f.wasm" >/dev/null 2>&1
	rc=$?
	[ $rc -eq 126 ] && ok "run $f: exit 126" || bad "run $f: rc=$rc"
done
# A module importing something that is not WASI does not link.
printf '\x00asm\x01\x00\x00\x00\x01\x04\x01\x60\x00\x00\x02\x0b\x01\x03env\x03foo\x00\x00' >"$T/import.wasm"
"$MVM_WASM" run "$T/import.wasm" >"$T/out" 2>&1
rc=$?
[ $rc -eq 126 ] && grep -q "env.foo" "$T/out" && ok "unlinkable import: exit 126 ($(head -n1 "$T/out"))" || bad "unlinkable import: rc=$rc $(cat "$T/out")"
# The right name with the wrong type: wasi fd_write as [] -> [].
hex2bin "0061736d 01000000 01 04 01 60 00 00
	02 23 01 16 $(printf wasi_snapshot_preview1 | od -An -tx1 | tr -d ' \n') 08 $(printf fd_write | od -An -tx1 | tr -d ' \n') 00 00" >"$T/badtype.wasm"
"$MVM_WASM" run "$T/badtype.wasm" >"$T/out" 2>&1
rc=$?
[ $rc -eq 126 ] && grep -q "wasi_snapshot_preview1.fd_write: wrong type" "$T/out" \
	&& ok "mistyped WASI import: exit 126 ($(head -n1 "$T/out"))" || bad "mistyped import: rc=$rc $(cat "$T/out")"
printf '\x00asm\x01\x00\x00\x00' >"$T/nostart.wasm"
"$MVM_WASM" run "$T/nostart.wasm" >"$T/out" 2>&1
rc=$?
[ $rc -eq 126 ] && grep -q _start "$T/out" && ok "no _start: exit 126" || bad "no _start: rc=$rc $(cat "$T/out")"

# proc_exit(5) from the module's start function, before any _start.
hex2bin "0061736d 01000000 01 08 02 6001 7f00 6000 00
	02 24 01 16 $(printf wasi_snapshot_preview1 | od -An -tx1 | tr -d ' \n')
	09 $(printf proc_exit | od -An -tx1 | tr -d ' \n') 00 00
	03 02 01 01 08 01 01 0a 08 01 06 00 41 05 10 00 0b" >"$T/startexit.wasm"
"$MVM_WASM" run "$T/startexit.wasm" >"$T/out" 2>&1
rc=$?
[ $rc -eq 5 ] && ok "proc_exit in the start function: exit 5" || bad "start-function exit: rc=$rc $(cat "$T/out")"

# A module from a pipe, not a regular file.
"$MVM_WASM" run <(cat "$P/exitcode.wasm") 9 >"$T/out" 2>&1
rc=$?
[ $rc -eq 9 ] && grep -q 'exiting with 9' "$T/out" && ok "module read from a pipe" || bad "pipe module: rc=$rc $(cat "$T/out")"
"$MVM_WASM" validate "$T" >"$T/out" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q 'Is a directory' "$T/out" && ok "validate a directory: refused" || bad "validate dir: rc=$rc"

# --- usage ------------------------------------------------------------------
usage_case() { # usage_case EXPECTED_RC ARGS...
	local want=$1; shift
	"$MVM_WASM" "$@" >"$T/out" 2>&1 </dev/null
	local rc=$?
	[ $rc -eq "$want" ] && ok "mvm-wasm $* -> $rc" || bad "mvm-wasm $*: rc=$rc, want $want"
}
usage_case 2
usage_case 2 frobnicate
usage_case 2 run
usage_case 2 run --deny network "$T/empty.wasm"
usage_case 2 run --env NOEQUALS "$T/empty.wasm"
usage_case 2 run --fuel 0 "$T/empty.wasm"
usage_case 2 run --fuel lots "$T/empty.wasm"
usage_case 2 validate
usage_case 0 --version
grep -q "^mvm-wasm [0-9]" "$T/out" || bad "--version output: $(cat "$T/out")"
usage_case 0 --help
grep -q "^Usage: mvm-wasm run" "$T/out" || bad "--help output"
usage_case 126 run "$T/does-not-exist.wasm"

echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
