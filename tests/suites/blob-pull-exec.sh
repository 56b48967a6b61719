#!/bin/bash
# An exec of sha256:<hex> whose module the node lacks pulls it first
# (docs/blobs.md, "Pull on demand"): a ch VM on the cloud-hypervisor double
# (tests/doubles/fake-cloud-hypervisor.c: its agent fetches the module from
# mvmd's blob server and prints its size), Debian's docker-registry as the
# source (tests/lib/registry.sh), and tests/doubles/registry-proxy holding
# the blob GET for what happens while the pull runs: the VM removed, the
# client gone, the exec's own timeout.
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
B=$PWD/$BUILD
for t in docker-registry curl; do
	command -v $t >/dev/null || { echo "SKIP: $t not installed (packaging/build-deps)"; exit 77; }
done
# shellcheck source=tests/lib/mvmd-lifecycle.sh
. tests/lib/mvmd-lifecycle.sh
# shellcheck source=tests/lib/registry.sh
. tests/lib/registry.sh

pass=0 fail=0
ok() { echo "ok: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
check() { if "$@"; then ok "$*"; else bad "$*"; fi; }
finish() { echo "blob-pull-exec: $pass passed, $fail failed"; [ $fail -eq 0 ]; exit; }
for f in "$B/bin/mvmd" "$B/bin/mvmctl" "$B/bin/mvm-fetch" "$B/tests/doubles/registry-proxy" \
	 "$B/tests/doubles/fake-cloud-hypervisor" "$B/wasm-programs/wl-exit.wasm" "$B/wasm-programs/wl-grow.wasm" \
	 "$B/wasm-programs/wl-flood.wasm"; do
	[ -e "$f" ] || { bad "$f is missing (make builds it)"; finish; }
done

tmp=$(mktemp -d /tmp/mvm-pullx.XXXXXX)
bg=() chs=()
cleanup() {
	lc_stop
	# A VM's cloud-hypervisor outlives mvmd by design: these are ours.
	for p in "${chs[@]}"; do { pkill -P "$p"; kill "$p"; } 2>/dev/null; done
	for p in "${bg[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${bg[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT

wait_for() {
	local n=$(($1 * 10)); shift
	for _ in $(seq 1 "$n"); do "$@" && return 0; sleep 0.1; done
	return 1
}
hex_of() { sha256sum "$1" | cut -d' ' -f1; }
call() { lc_call "$@" 2>&1; }
blobs_dir() { echo "$LC_DIR/state/blobs/sha256"; }
no_temp_files() { [ -z "$(find "$(blobs_dir)" -name '.tmp.*' 2>/dev/null)" ]; }
blob_absent() { [ ! -e "$(blobs_dir)/$1" ]; }
blob_present() { [ -f "$(blobs_dir)/$1" ]; }
waiters_are() { call compute.blob.stat "{\"hash\":\"sha256:$1\"}" | grep -q "\"pulling\":true.*\"waiters\":$2"; }
file_has() { grep -q "$2" "$1" 2>/dev/null; }

# The double in its own directory (its knobs file would go beside it).
cp "$B/tests/doubles/fake-cloud-hypervisor" "$tmp/cloud-hypervisor"
echo "not a kernel: the double only checks it is readable" >"$tmp/vmlinuz"
: >"$tmp/fake-kvm"
mvmd_up() { # DIR -- FLAGS...
	LC_DIR=$tmp/$1; shift 2
	lc_start "$LC_DIR" "$B/bin/mvmd" "$B/bin/mvmctl" -- --ch-binary "$tmp/cloud-hypervisor" \
		--kvm-device "$tmp/fake-kvm" --kvm-pool 0 "$@"
}
ch_vm() { # NAME: a Running ch VM
	local out id
	out=$(call compute.vm.create "{\"name\":\"$1\",\"backend\":\"ch\",\"memory_mib\":64,\"kernel\":\"$tmp/vmlinuz\"}")
	id=$(lc_field id <<<"$out")
	[ -n "$id" ] || { echo "create: $out"; return 1; }
	call compute.vm.start "{\"id\":\"$1\"}" >/dev/null
	out=$(call compute.vm.status "{\"id\":\"$1\"}")
	chs+=("$(grep -o '"pid": *[0-9]*' <<<"$out" | grep -o '[0-9]*$')")
	[ "$(lc_field state <<<"$out")" = Running ]
}

hello=$B/wasm-programs/wl-exit.wasm H=$(hex_of "$hello")
grow=$B/wasm-programs/wl-grow.wasm M=$(hex_of "$grow")
flood=$B/wasm-programs/wl-flood.wasm F=$(hex_of "$flood")
NOWHERE=$(echo "in no registry, for an exec" | sha256sum | cut -d' ' -f1)

reg_start "$tmp/r1" || { bad "the registry starts"; finish; }
bg+=("$REG_PID") R1=$REG_URL
for f in "$hello" "$grow" "$flood"; do check reg_push_blob "$R1" wasm/hello "$f"; done

# --- a module the node lacks: pulled, stored, then run ------------------------------
mvmd_up m1 -- --blob-source "r=$R1/wasm/hello" || { bad "mvmd starts"; finish; }
ch_vm x1 && ok "ch VM x1 runs" || bad "ch VM x1 runs"
check blob_absent "$H"
out=$(call compute.vm.exec "{\"id\":\"x1\",\"argv\":[\"sha256:$H\"]}")
echo "exec of a missing module: $out"
check grep -q "\"exit_code\":0" <<<"$out"
check grep -q "module sha256:$H: $(stat -c %s "$hello") bytes" <<<"$out"
check blob_present "$H"
check test "$(hex_of "$(blobs_dir)/$H")" = "$H"
# Now it is here: the same exec runs without a pull.
out=$(call compute.vm.exec "{\"id\":\"x1\",\"argv\":[\"sha256:$H\"]}")
check grep -q "module sha256:$H: " <<<"$out"

# --- a module no source has: compute.blob.pull's error, nothing stored --------------
out=$(call compute.vm.exec "{\"id\":\"x1\",\"argv\":[\"sha256:$NOWHERE\"]}")
echo "exec of a module on no source: $out"
check grep -q '\[-32001\]' <<<"$out"
check grep -q 'Pull failed: .*error: not_found' <<<"$out"
check grep -q 'answers: \[{"source":"r","status":404' <<<"$out"
check blob_absent "$NOWHERE"
check no_temp_files
# The VM is still there and still runs commands.
check grep -q '"exit_code":0' <<<"$(call compute.vm.exec '{"id":"x1","argv":["mvm.echo","hi"]}')"
call compute.vm.stop '{"id":"x1"}' >/dev/null
lc_stop

# --- while the pull runs ---------------------------------------------------------------
"$B/tests/doubles/registry-proxy" --port-file "$tmp/hold.port" --mode pass --upstream "127.0.0.1:${R1##*:}" \
	--hold-file "$tmp/release" &
bg+=($!)
wait_for 30 test -s "$tmp/hold.port" || { bad "the proxy starts"; finish; }
mvmd_up m2 -- --blob-source "h=http://127.0.0.1:$(cat "$tmp/hold.port")/wasm/hello" || { bad "mvmd starts"; finish; }
ch_vm x2 && ok "ch VM x2 runs" || bad "ch VM x2 runs"
ch_vm x3 && ok "ch VM x3 runs" || bad "ch VM x3 runs"

# The exec's timeout covers its pull: timeout_ms + 2 s, then -32006.
out=$(call compute.vm.exec "{\"id\":\"x2\",\"argv\":[\"sha256:$F\"],\"timeout_ms\":1}")
echo "timed out while pulling: $out"
check grep -q 'Timeout.*\[-32006\]' <<<"$out"
# The pull goes on without the exec (nobody waits for it now).
check waiters_are "$F" 0

# The client goes away mid-pull: its waiter leaves, the pull goes on.
lc_call compute.vm.exec "{\"id\":\"x2\",\"argv\":[\"sha256:$M\"]}" >"$tmp/gone.out" 2>&1 &
client=$!
check wait_for 60 waiters_are "$M" 1
kill "$client"; wait "$client" 2>/dev/null
check wait_for 60 waiters_are "$M" 0

# Two execs of one module share the one pull; removing one's VM answers
# it -32001 at once, the other runs when the module is in.
lc_call compute.vm.exec "{\"id\":\"x2\",\"argv\":[\"sha256:$M\"]}" >"$tmp/kept.out" 2>&1 &
kept=$!
lc_call compute.vm.exec "{\"id\":\"x3\",\"argv\":[\"sha256:$M\"]}" >"$tmp/removed.out" 2>&1 &
removed=$!
check wait_for 60 waiters_are "$M" 2
check grep -q '"removed":true\|"id":"' <<<"$(call compute.vm.remove '{"id":"x3","force":true}')"
check wait_for 60 file_has "$tmp/removed.out" '\[-32001\]'
wait "$removed" 2>/dev/null
echo "VM removed mid-pull: $(cat "$tmp/removed.out")"
check grep -q 'removed while the request waited' "$tmp/removed.out"
check waiters_are "$M" 1
touch "$tmp/release"
wait "$kept" 2>/dev/null
echo "the other exec: $(cat "$tmp/kept.out")"
check grep -q "module sha256:$M: $(stat -c %s "$grow") bytes" "$tmp/kept.out"
check blob_present "$M"
check wait_for 60 blob_present "$F" # the timed-out exec's pull, finished for the store
check no_temp_files
call compute.vm.stop '{"id":"x2"}' >/dev/null
lc_stop

finish
