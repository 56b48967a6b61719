#!/bin/bash
# Each execution context links only its own code (docs/hacking.md, "Layout"):
#
#   includes  no source includes a header outside its context and lib/
#   mvm-vmm   no json-c, libcurl, libcrypto or libsystemd, no code of
#             mvmd (daemon/mvmd, rpc) or of the Linux guest
#   mvmd      no code of the worker (daemon/vmm) or of the Linux guest
#   mvm-wasm  nothing but lib/ and libc
#   mvmctl    json-c and lib/, nothing of mvmd: it talks to it by socket
#   mvm-fetch libcurl, json-c and lib/, nothing of mvmd, the worker or the
#             Linux guest (and mvmd holds none of its registry parsers)
#   mvm-init, mvm-guest  nothing of a host program, no host library
#
# Symbols are read from the linked binaries, so the check holds whatever
# the Makefile's link lines say. Each forbidden set is first shown to be
# non-empty where it belongs (json-c in mvmd, the worker's code in
# libvmm.a): a check that cannot see a symbol proves nothing.
set -u
cd "$(dirname "$0")/../.."
B=${MVM_BUILD_DIR:-$PWD/${BUILD:-build}}
passed=0 failed=0

ok() { echo "ok - $1"; passed=$((passed + 1)); }
fail() { echo "FAIL - $1"; [ $# -gt 1 ] && printf "%s\n" "${2%$'\n'}" | head -n 10 | sed 's/^/    /'; failed=$((failed + 1)); }

for f in "$B"/bin/mvmd "$B"/bin/mvm-vmm "$B"/bin/mvm-wasm "$B"/bin/mvmctl "$B"/bin/mvm-init "$B"/guest/mvm-guest \
	 "$B"/bin/mvm-fetch "$B"/lib/libmvmd.a "$B"/lib/libmvmrpc.a "$B"/lib/libvmm.a "$B"/lib/libinit.a "$B"/lib/libfetch.a; do
	[ -e "$f" ] || { echo "SKIP: $f is not built (run make)"; exit 77; }
done

# --- includes ----------------------------------------------------------------
# ctx_roots FILE: the folders FILE's quoted includes may resolve in.
ctx_roots() {
	case $1 in
	daemon/mvmd/* | rpc/*) echo "lib rpc daemon/mvmd" ;;
	daemon/vmm/*) echo "lib daemon/vmm" ;;
	daemon/mvmctl/*) echo "lib daemon/mvmctl" ;;
	daemon/mvm-fetch/*) echo "lib daemon/mvm-fetch" ;;
	init/linux/*) echo "lib init/linux" ;;
	init/microvm/*) echo "lib init/microvm" ;;
	daemon/* | lib/*) echo "lib" ;;
	esac
}
bad_includes=
while read -r file; do
	roots=$(ctx_roots "$file")
	while read -r inc; do
		[ -n "$inc" ] || continue
		found=
		case $inc in ../* | */../*) ;; *)
			for d in "$(dirname "$file")" $roots; do
				[ -f "$d/$inc" ] && { found=1; break; }
			done ;;
		esac
		[ -n "$found" ] || bad_includes+="$file: \"$inc\" is outside its context ($roots)"$'\n'
	done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$file")
done < <(git ls-files -- 'daemon/*.[ch]' 'rpc/*.[ch]' 'init/*.[ch]' 'lib/*.[ch]')
if [ -z "$bad_includes" ]; then ok "every include stays in its context"; else fail "includes across contexts" "$bad_includes"; fi

# --- symbols -----------------------------------------------------------------
# syms BINARY: every symbol name it defines or needs.
syms() { nm "$1" 2>/dev/null | awk '{print $NF}' | sort -u; }
# defs ARCHIVE...: the global symbols the archives define.
defs() { nm -g --defined-only "$@" 2>/dev/null | awk 'NF == 3 {print $3}' | sort -u; }

HOSTLIBS='^(json_object_|json_tokener_|json_c_|curl_|Curl_|EVP_|OPENSSL_|CRYPTO_|SHA256_Init|sd_event_|sd_bus_|sd_notify|sd_listen_fds|sd_journal_|sd_id128_)'
HOSTSONAMES='lib(json-c|curl|crypto|ssl|systemd)\.so'

# needed BINARY: its shared-library dependencies (sanitized builds link dynamically).
needed() { readelf -d "$1" 2>/dev/null | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'; }

# no_hostlibs NAME BINARY [SYMBOLS SONAMES WHAT]: none of the host
# libraries (or of those the optional patterns name).
no_hostlibs() {
	local hits
	hits=$(syms "$2" | grep -E "${3:-$HOSTLIBS}"; needed "$2" | grep -E "${4:-$HOSTSONAMES}")
	if [ -z "$hits" ]; then ok "$1 links no ${5:-json-c, libcurl, libcrypto or libsystemd}"
	else fail "$1 links a host library it must not" "$hits"; fi
}
# no_code_of NAME BINARY WHAT DEFS_FILE
no_code_of() {
	local hits
	hits=$(comm -12 <(syms "$2") "$4")
	if [ -z "$hits" ]; then ok "$1 holds no code of $3"
	else fail "$1 holds code of $3" "$hits"; fi
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
defs "$B"/lib/libmvmd.a "$B"/lib/libmvmrpc.a >"$tmp/mvmd"
defs "$B"/lib/libvmm.a >"$tmp/vmm"
defs "$B"/lib/libinit.a >"$tmp/init"
defs "$B"/lib/libfetch.a >"$tmp/fetch"
cat "$tmp/mvmd" "$tmp/vmm" "$tmp/init" | sort -u >"$tmp/host"
cat "$tmp/mvmd" "$tmp/vmm" | sort -u >"$tmp/daemons"

# The controls: what the checks look for is there where it belongs.
if syms "$B/bin/mvmd" | grep -qE "$HOSTLIBS" || needed "$B/bin/mvmd" | grep -qE "$HOSTSONAMES"; then
	ok "control: the host-library check sees json-c and the rest in mvmd"
else fail "control: no host-library symbol found in mvmd; the check is blind"; fi
if [ -n "$(comm -12 <(syms "$B/bin/mvmd") "$tmp/mvmd")" ] && [ -n "$(comm -12 <(syms "$B/bin/mvm-vmm") "$tmp/vmm")" ] &&
	[ -n "$(comm -12 <(syms "$B/bin/mvm-init") "$tmp/init")" ]; then
	ok "control: mvmd, mvm-vmm and mvm-init show their own archives' symbols"
else fail "control: a program does not show its own archive's symbols; the code checks are blind"; fi

no_hostlibs mvm-vmm "$B/bin/mvm-vmm"
no_code_of mvm-vmm "$B/bin/mvm-vmm" "mvmd (daemon/mvmd, rpc)" "$tmp/mvmd"
no_code_of mvm-vmm "$B/bin/mvm-vmm" "the Linux guest (init/linux)" "$tmp/init"
no_code_of mvmd "$B/bin/mvmd" "the worker (daemon/vmm)" "$tmp/vmm"
no_code_of mvmd "$B/bin/mvmd" "the Linux guest (init/linux)" "$tmp/init"
no_hostlibs mvm-wasm "$B/bin/mvm-wasm"
no_code_of mvm-wasm "$B/bin/mvm-wasm" "mvmd, the worker or the Linux guest" "$tmp/host"
no_hostlibs mvmctl "$B/bin/mvmctl" "$(sed 's/json_object_|json_tokener_|json_c_|//' <<<"$HOSTLIBS")" \
	'lib(curl|crypto|ssl|systemd)\.so' "libcurl, libcrypto or libsystemd"
no_code_of mvmctl "$B/bin/mvmctl" "mvmd, the worker or the Linux guest" "$tmp/host"
if [ -n "$(comm -12 <(syms "$B/bin/mvm-fetch") "$tmp/fetch")" ]; then
	ok "control: mvm-fetch shows its own archive's symbols"
else fail "control: mvm-fetch does not show libfetch.a's symbols; the check is blind"; fi
no_code_of mvm-fetch "$B/bin/mvm-fetch" "mvmd, the worker or the Linux guest" "$tmp/host"
no_code_of mvmd "$B/bin/mvmd" "the registry client (daemon/mvm-fetch)" "$tmp/fetch"
no_code_of mvm-vmm "$B/bin/mvm-vmm" "the registry client (daemon/mvm-fetch)" "$tmp/fetch"
no_hostlibs mvm-init "$B/bin/mvm-init"
no_code_of mvm-init "$B/bin/mvm-init" "mvmd or the worker" "$tmp/daemons"
no_hostlibs mvm-guest "$B/guest/mvm-guest"
no_code_of mvm-guest "$B/guest/mvm-guest" "mvmd, the worker or the Linux guest" "$tmp/host"

echo "link-separation: $passed passed, $failed failed"
[ $failed -eq 0 ]
