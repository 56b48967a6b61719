#!/bin/bash
# Blobs from OCI registries (docs/blobs.md, "Pulling from registries"),
# against a real registry: Debian's docker-registry (the CNCF distribution
# registry) started here on 127.0.0.1 with a temporary config and storage,
# images pushed with skopeo from an OCI layout built here, artifacts and
# indexes with the distribution API's own upload flow (tests/lib/registry.sh).
# Misbehaving sources are build/tests/doubles/registry-proxy, a test double
# in front of the real registry (tampering, cutting, redirect-looping,
# counting and holding blob GETs).
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
B=$PWD/$BUILD
for t in docker-registry skopeo htpasswd openssl curl; do
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
finish() { echo "blob-pull: $pass passed, $fail failed"; [ $fail -eq 0 ]; exit; }
for f in "$B/bin/mvmd" "$B/bin/mvmd-fault" "$B/bin/mvmctl" "$B/bin/mvm-fetch" "$B/tests/doubles/registry-proxy" \
	 "$B/wasm-programs/wl-exit.wasm" "$B/wasm-programs/wl-grow.wasm" "$B/wasm-programs/wl-flood.wasm"; do
	[ -e "$f" ] || { bad "$f is missing (make builds it)"; finish; }
done

tmp=$(mktemp -d /tmp/mvm-pull.XXXXXX)
bg=()
cleanup() {
	lc_stop
	for p in "${bg[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${bg[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT

# wait_for SECONDS CMD...: poll until CMD succeeds (generous deadlines, no timing asserted)
wait_for() {
	local n=$(($1 * 10)); shift
	for _ in $(seq 1 "$n"); do "$@" && return 0; sleep 0.1; done
	return 1
}
hex_of() { sha256sum "$1" | cut -d' ' -f1; }
call() { lc_call "$@" 2>&1; }
blobs_dir() { echo "$LC_DIR/state/blobs/sha256"; }
no_temp_files() { [ -z "$(find "$(blobs_dir)" -name '.tmp.*' 2>/dev/null)" ]; }
has_temp_files() { [ -n "$(find "$(blobs_dir)" -name '.tmp.*' 2>/dev/null)" ]; }
blob_absent() { [ ! -e "$(blobs_dir)/$1" ]; }
vm_state() { lc_call compute.vm.status "{\"id\":\"$1\"}" 2>/dev/null | lc_field state; }
state_is() { [ "$(vm_state "$1")" = "$2" ]; }
mvmd_up() { # DIR [MVMD] -- FLAGS...
	LC_DIR=$tmp/$1; shift
	local bin=$B/bin/mvmd
	[ "$1" != -- ] && { bin=$1; shift; }
	shift
	lc_start "$LC_DIR" "$bin" "$B/bin/mvmctl" -- --kvm-pool 0 --kvm-device "$tmp/no-kvm" "$@"
}
proxy() { # NAME MODE [ARGS...]: sets PROXY_URL
	local name=$1 mode=$2; shift 2
	"$B/tests/doubles/registry-proxy" --port-file "$tmp/$name.port" --mode "$mode" "$@" &
	bg+=($!)
	wait_for 30 test -s "$tmp/$name.port" || { bad "proxy $name did not start"; finish; }
	PROXY_URL=http://127.0.0.1:$(cat "$tmp/$name.port")
}

# --- content ------------------------------------------------------------------
hello=$B/wasm-programs/wl-exit.wasm H=$(hex_of "$hello")
art=$B/wasm-programs/wl-flood.wasm A=$(hex_of "$art")
many=$B/wasm-programs/wl-grow.wasm M=$(hex_of "$many")
printf 'this is not a WebAssembly module\n' >"$tmp/junk" && J=$(hex_of "$tmp/junk")
head -c 3000000 /dev/urandom >"$tmp/big" && G=$(hex_of "$tmp/big")
head -c 100000 /dev/urandom >"$tmp/tamper" && T=$(hex_of "$tmp/tamper")
printf '{}' >"$tmp/empty.json" && E=$(hex_of "$tmp/empty.json")
NOWHERE=$(echo "in no registry" | sha256sum | cut -d' ' -f1)

# --- registry 1: an image (skopeo), an artifact and an index (upload flow) ------
reg_start "$tmp/r1" || { bad "registry 1 starts"; finish; }
bg+=("$REG_PID") R1=$REG_URL R1_PID=$REG_PID
lay=$tmp/layout
mkdir -p "$lay/blobs/sha256"
cp "$hello" "$lay/blobs/sha256/$H"
cp "$tmp/empty.json" "$lay/blobs/sha256/$E"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.wasm.config.v0+json","digest":"sha256:%s","size":2},"layers":[{"mediaType":"application/vnd.wasm.content.layer.v1+wasm","digest":"sha256:%s","size":%d}]}' \
	"$E" "$H" "$(stat -c %s "$hello")" >"$tmp/image.json"
MD=$(hex_of "$tmp/image.json")
cp "$tmp/image.json" "$lay/blobs/sha256/$MD"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"annotations":{"org.opencontainers.image.ref.name":"v1"}}]}' \
	"$MD" "$(stat -c %s "$tmp/image.json")" >"$lay/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' >"$lay/oci-layout"
check skopeo copy -q --dest-tls-verify=false "oci:$lay:v1" "docker://127.0.0.1:$REG_PORT/wasm/hello:v1"

# an artifact: one layer of a generic type, artifactType naming Wasm
check reg_push_blob "$R1" wasm/art "$art"
check reg_push_blob "$R1" wasm/art "$tmp/empty.json"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.wasm.module.v1+wasm","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:%s","size":2},"layers":[{"mediaType":"application/octet-stream","digest":"sha256:%s","size":%d}]}' \
	"$E" "$A" "$(stat -c %s "$art")" >"$tmp/artifact.json"
check reg_push_manifest "$R1" wasm/art v1 "$tmp/artifact.json" application/vnd.oci.image.manifest.v1+json
# an index in wasm/hello: an amd64 entry (the artifact's manifest, pushed
# there too) before the wasm one, so a wrong pick shows in the hash
check reg_push_blob "$R1" wasm/hello "$art"
check reg_push_manifest "$R1" wasm/hello art "$tmp/artifact.json" application/vnd.oci.image.manifest.v1+json
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"platform":{"architecture":"amd64","os":"linux"}},{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"platform":{"architecture":"wasm","os":"wasip1"}}]}' \
	"$(hex_of "$tmp/artifact.json")" "$(stat -c %s "$tmp/artifact.json")" "$MD" "$(stat -c %s "$tmp/image.json")" >"$tmp/index.json"
ID=$(hex_of "$tmp/index.json")
check reg_push_manifest "$R1" wasm/hello idx "$tmp/index.json" application/vnd.oci.image.index.v1+json
for f in "$tmp/junk" "$tmp/big" "$tmp/tamper" "$many"; do
	check reg_push_blob "$R1" wasm/hello "$f"
done
# registry 2 is empty: the first source, answering 404
reg_start "$tmp/r2" || { bad "registry 2 starts"; finish; }
bg+=("$REG_PID") R2=$REG_URL

# --- pulls from two sources -----------------------------------------------------
mvmd_up m1 -- --blob-source "a=$R2/wasm/hello" --blob-source "b=$R1/wasm/hello" || { bad "mvmd starts"; finish; }
out=$(call compute.blob.pull "{\"hash\":\"sha256:$H\",\"kind\":\"wasm\"}")
echo "by digest: $out"
check grep -q "\"source\":\"b\"" <<<"$out"          # a said 404, b had it
check grep -q "\"created\":true" <<<"$out"
check grep -q '"verified":true' <<<"$(call compute.blob.stat "{\"hash\":\"sha256:$H\",\"verify\":true}")"
call compute.blob.remove "{\"hash\":\"sha256:$H\"}" >/dev/null
out=$(call compute.blob.pull '{"reference":"b:v1"}')
echo "by tag: $out"
check grep -q "\"hash\":\"sha256:$H\"" <<<"$out"
check grep -q "\"manifest_digest\":\"sha256:$MD\"" <<<"$out"
out=$(call compute.blob.pull "{\"reference\":\"b/wasm/hello@sha256:$MD\"}")
echo "by @sha256: $out"
check grep -q "\"hash\":\"sha256:$H\".*\"created\":false" <<<"$out"
out=$(call compute.blob.pull "{\"reference\":\"b/wasm/hello@sha256:$ID\"}")
echo "pinned to the index: $out"
check grep -q "\"hash\":\"sha256:$H\"" <<<"$out"
call compute.blob.remove "{\"hash\":\"sha256:$H\"}" >/dev/null
out=$(call compute.blob.pull '{"reference":"b/wasm/hello:idx","kind":"wasm"}')
echo "OCI index: $out"
check grep -q "\"hash\":\"sha256:$H\".*\"manifest_digest\":\"sha256:$ID\".*\"created\":true" <<<"$out"
out=$(call compute.blob.pull '{"reference":"b/wasm/art:v1","kind":"wasm"}')
echo "artifact: $out"
check grep -q "\"hash\":\"sha256:$A\"" <<<"$out"
out=$(call compute.blob.pull "{\"hash\":\"sha256:$J\",\"kind\":\"wasm\"}")
echo "not Wasm: $out"
check grep -q 'invalid_wasm' <<<"$out"
check blob_absent "$J"
check no_temp_files
out=$(call compute.blob.pull "{\"hash\":\"sha256:$NOWHERE\"}")
echo "nowhere: $out"
check grep -q '\[-32001\]' <<<"$out"
check grep -q '"source":"a","status":404' <<<"$out"
check grep -q '"source":"b","status":404' <<<"$out"
out=$(call compute.blob.pull '{"reference":"nosuch:v1"}')
check grep -q '\[-32602\]' <<<"$out"

# progress: notifications on the requesting connection, before the answer
if command -v socat >/dev/null; then
	printf '{"jsonrpc":"2.0","id":7,"method":"compute.blob.pull","params":{"hash":"sha256:%s","progress":true}}\n' "$G" |
		socat -t60 - UNIX-CONNECT:"$LC_SOCK" >"$tmp/progress.out" &
	bg+=($!)
	check wait_for 120 grep -q '"id":7' "$tmp/progress.out"
	check grep -q "\"method\":\"compute.blob.pull.progress\",\"params\":{\"hash\":\"sha256:$G\",\"source\":\"b\",\"bytes\":3000000,\"total\":3000000}" "$tmp/progress.out"
	check test "$(grep -n '"id":7' "$tmp/progress.out" | cut -d: -f1)" = "$(wc -l <"$tmp/progress.out")"
fi

# --- pull on demand -------------------------------------------------------------------
out=$(call compute.vm.create "{\"name\":\"od\",\"memory_mib\":16,\"workload\":{\"hash\":\"sha256:$M\"}}")
check grep -q '"state":"Provisioning"' <<<"$out"    # create answers at once
check wait_for 120 state_is od Configured
check grep -q 'provisioned: module pulled from b' <<<"$(call compute.vm.status '{"id":"od"}')"
out=$(call compute.vm.create "{\"name\":\"od-missing\",\"memory_mib\":16,\"workload\":{\"hash\":\"sha256:$NOWHERE\"}}")
check wait_for 120 state_is od-missing Failed
out=$(call compute.vm.status '{"id":"od-missing"}')
echo "on demand, missing: $(lc_field cause <<<"$out")"
check grep -q 'a: 404: blob unknown; b: 404: blob unknown' <<<"$out"
lc_stop

# --- 20 concurrent creates of a missing module: one download ------------------------------
proxy hold pass --upstream "127.0.0.1:${R1##*:}" --count-file "$tmp/gets" --hold-file "$tmp/release"
mvmd_up m2 -- --blob-source "h=$PROXY_URL/wasm/hello" || { bad "mvmd starts"; finish; }
for i in $(seq 1 20); do
	lc_call compute.vm.create "{\"name\":\"c$i\",\"memory_mib\":16,\"workload\":{\"hash\":\"sha256:$M\"}}" >"$tmp/create.$i" 2>&1 &
done
wait_for 120 bash -c "[ \$(cat $tmp/create.* 2>/dev/null | grep -c Provisioning) = 20 ]"
check test "$(cat "$tmp"/create.* | grep -c '"state":"Provisioning"')" = 20
out=$(call compute.blob.stat "{\"hash\":\"sha256:$M\"}")
echo "in flight: $out"
check grep -q '"pulling":true.*"waiters":20' <<<"$out"
touch "$tmp/release"
for i in $(seq 1 20); do wait_for 120 state_is "c$i" Configured || bad "c$i did not become Configured"; done
check test "$(wc -l <"$tmp/gets")" = 1
lc_stop

# --- misbehaving sources --------------------------------------------------------------------
proxy tamper tamper --upstream "127.0.0.1:${R1##*:}"
TAMPER=$PROXY_URL
proxy cut cut --upstream "127.0.0.1:${R1##*:}" --cut-marker "$tmp/cut-done"
CUT=$PROXY_URL
proxy loop loop
LOOP=$PROXY_URL
mvmd_up m3 -- --blob-source "t=$TAMPER/wasm/hello" --blob-source "c=$CUT/wasm/hello" --blob-source "l=$LOOP/wasm/hello" \
	--blob-source "r1=$R1/wasm/hello" || { bad "mvmd starts"; finish; }
out=$(call compute.blob.pull "{\"reference\":\"t@sha256:$MD\"}")
echo "tampering source: $out"
check grep -q 'digest_mismatch' <<<"$out"
check blob_absent "$H"
check no_temp_files
out=$(call compute.blob.pull "{\"reference\":\"l@sha256:$MD\"}")
echo "redirect loop: $out"
check grep -q 'more than 5 redirects' <<<"$out"
lc_stop
# (straight from the registry: the cut proxy's one cut is for m5)
mvmd_up m4 -- --blob-source "r1=$R1/wasm/hello" --blob-pull-max-size 1000000 || { bad "mvmd starts"; finish; }
out=$(call compute.blob.pull "{\"hash\":\"sha256:$G\"}")
echo "over the cap: $out"
check grep -q 'too_large' <<<"$out"
check grep -q '\[-32005\]' <<<"$out"
check blob_absent "$G"
check no_temp_files
lc_stop
mvmd_up m5 -- --blob-source "c=$CUT/wasm/hello" || { bad "mvmd starts"; finish; }
out=$(call compute.blob.pull "{\"hash\":\"sha256:$G\"}")
echo "connection cut mid-download: $out"
check test -e "$tmp/cut-done"
check grep -q "\"hash\":\"sha256:$G\".*\"created\":true" <<<"$out"
check grep -q 'retrying from byte [1-9]' "$LC_DIR/mvmd.log"
check grep -qE '"GET /v2/wasm/hello/blobs/sha256:'"$G"'.*" 206 ' "$tmp/r1/registry.log"
lc_stop

# a server that ignores Range: the resumed GET is answered 200 with the
# whole blob, so the helper restarts the stream and mvmd the file and hash
proxy norange norange --upstream "127.0.0.1:${R1##*:}" --cut-marker "$tmp/norange-done"
mvmd_up m5a -- --blob-source "nr=$PROXY_URL/wasm/hello" || { bad "mvmd starts"; finish; }
out=$(call compute.blob.pull "{\"hash\":\"sha256:$G\"}")
echo "Range ignored on resume: $out"
check test -e "$tmp/norange-done"
check grep -q "\"hash\":\"sha256:$G\".*\"created\":true" <<<"$out"
check grep -q 'retrying from byte [1-9]' "$LC_DIR/mvmd.log"
check grep -q '"verified":true' <<<"$(call compute.blob.stat "{\"hash\":\"sha256:$G\",\"verify\":true}")"
check no_temp_files
lc_stop

# a source lost mid-download, the next one serves it from byte 0: nothing
# of the first source's bytes stays in the file
proxy lost pass --upstream "127.0.0.1:${R1##*:}" --stall-file "$tmp/lost-die"
mvmd_up m5b0 -- --blob-source "lost=$PROXY_URL/wasm/hello" --blob-source "r1=$R1/wasm/hello" || { bad "mvmd starts"; finish; }
lc_call compute.blob.pull "{\"hash\":\"sha256:$G\"}" >"$tmp/lost.out" 2>&1 &
pull_pid=$!
check wait_for 120 bash -c "$LC_CTL --socket $LC_SOCK --json call compute.blob.stat '{\"hash\":\"sha256:$G\"}' 2>/dev/null | grep -q '\"pulling\":true.*\"bytes\":[1-9]'"
touch "$tmp/lost-die"
wait "$pull_pid"
out=$(cat "$tmp/lost.out")
echo "source lost, the next serves: $out"
check grep -q "\"hash\":\"sha256:$G\".*\"source\":\"r1\".*\"created\":true" <<<"$out"
check grep -q '"verified":true' <<<"$(call compute.blob.stat "{\"hash\":\"sha256:$G\",\"verify\":true}")"
check no_temp_files
lc_stop

# a 503 is retried (after a backoff) and then served
proxy busy busy --upstream "127.0.0.1:${R1##*:}" --cut-marker "$tmp/busy-done"
mvmd_up m5b -- --blob-source "busy=$PROXY_URL/wasm/hello" || { bad "mvmd starts"; finish; }
out=$(call compute.blob.pull "{\"hash\":\"sha256:$T\"}")
echo "503 once: $out"
check test -e "$tmp/busy-done"
check grep -q "\"hash\":\"sha256:$T\".*\"source\":\"busy\"" <<<"$out"
check grep -q 'GET blob answered 503; retrying from byte 0' "$LC_DIR/mvmd.log"
lc_stop

# --- the registry killed mid-download ----------------------------------------------------------
# The relay in front stops halfway through the body (so the download is
# surely under way), then the registry and its relay are killed: what
# is left to fetch is gone, the retries find nothing to connect to.
reg_start "$tmp/r3" || { bad "registry 3 starts"; finish; }
bg+=("$REG_PID") R3_PID=$REG_PID
check reg_push_blob "$REG_URL" wasm/hello "$tmp/big"
proxy hold3 pass --upstream "127.0.0.1:$REG_PORT" --stall-file "$tmp/die3"
mvmd_up m6 -- --blob-source "k=$PROXY_URL/wasm/hello" || { bad "mvmd starts"; finish; }
lc_call compute.blob.pull "{\"hash\":\"sha256:$G\"}" >"$tmp/killed.out" 2>&1 &
pull_pid=$!
check wait_for 120 bash -c "$LC_CTL --socket $LC_SOCK --json call compute.blob.stat '{\"hash\":\"sha256:$G\"}' 2>/dev/null | grep -q '\"pulling\":true.*\"bytes\":[1-9]'"
kill -9 "$R3_PID"
touch "$tmp/die3"
wait "$pull_pid"
out=$(cat "$tmp/killed.out")
echo "registry killed: $out"
check grep -q '"error":"network"\|error: network' <<<"$out"
check blob_absent "$G"
check no_temp_files
lc_stop

# --- the Bearer token flow (a token gate in front of the registry) -----------------------------------
proxy bearer bearer --upstream "127.0.0.1:${R1##*:}" --count-file "$tmp/token-requests"
mvmd_up m6b -- --blob-source "tk=$PROXY_URL/wasm/hello" || { bad "mvmd starts"; finish; }
out=$(call compute.blob.pull "{\"reference\":\"tk:v1\"}")
echo "bearer token: $out"
check grep -q "\"hash\":\"sha256:$H\".*\"source\":\"tk\"" <<<"$out"
check grep -q 'GET /token?service=mvmd-test&scope=repository%3Awasm%2Fhello%3Apull ' "$tmp/token-requests"
lc_stop

# --- htpasswd auth -------------------------------------------------------------------------------
htpasswd -Bbn puller s3cret >"$tmp/htpasswd"
reg_start "$tmp/r4" htpasswd "$tmp/htpasswd" || { bad "registry 4 starts"; finish; }
bg+=("$REG_PID")
check reg_push_blob "$REG_URL" wasm/hello "$hello" -u puller:s3cret
printf '{"auths":{"127.0.0.1:%s":{"auth":"%s"}}}\n' "$REG_PORT" "$(printf puller:s3cret | base64)" >"$tmp/auth.json"
chmod 0644 "$tmp/auth.json"
LC_DIR=$tmp/m7
mkdir -p "$LC_DIR/state" "$LC_DIR/console"
"$B/bin/mvmd" --rpc-socket "$LC_DIR/rpc.sock" --state-dir "$LC_DIR/state" --console-dir "$LC_DIR/console" \
	--blob-source "p=$REG_URL/wasm/hello" --blob-source-auth "$tmp/auth.json" >"$tmp/m7.log" 2>&1
check test $? != 0
check grep -q 'must be owned by root and not accessible to group or others' "$tmp/m7.log"
chmod 0600 "$tmp/auth.json"
mvmd_up m8 -- --blob-source "p=$REG_URL/wasm/hello" || { bad "mvmd starts"; finish; }
out=$(call compute.blob.pull "{\"hash\":\"sha256:$H\"}")
echo "auth, no credentials: $out"
check grep -q 'no credentials are configured' <<<"$out"
lc_stop
mvmd_up m9 -- --blob-source "p=$REG_URL/wasm/hello" --blob-source-auth "$tmp/auth.json" || { bad "mvmd starts"; finish; }
out=$(call compute.blob.pull "{\"hash\":\"sha256:$H\"}")
echo "auth, credentials: $out"
check grep -q "\"hash\":\"sha256:$H\".*\"source\":\"p\"" <<<"$out"
lc_stop

# --- TLS with a private CA --------------------------------------------------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=mvmd-test-ca -keyout "$tmp/ca.key" -out "$tmp/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout "$tmp/srv.key" -out "$tmp/srv.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >"$tmp/san"
openssl x509 -req -in "$tmp/srv.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" -CAcreateserial -days 2 \
	-extfile "$tmp/san" -out "$tmp/srv.pem" 2>/dev/null
reg_start "$tmp/r5" tls "$tmp/srv.pem" "$tmp/srv.key" || { bad "registry 5 (TLS) starts"; finish; }
bg+=("$REG_PID")
check reg_push_blob "$REG_URL" wasm/hello "$hello" --cacert "$tmp/ca.pem"
mvmd_up m10 -- --blob-source "s=$REG_URL/wasm/hello" || { bad "mvmd starts"; finish; }
out=$(call compute.blob.pull "{\"hash\":\"sha256:$H\"}")
echo "TLS, unknown CA: $out"
check grep -q 'TLS' <<<"$out"
lc_stop
mvmd_up m11 -- --blob-source "s=$REG_URL/wasm/hello" --blob-source-ca "$tmp/ca.pem" || { bad "mvmd starts"; finish; }
out=$(call compute.blob.pull "{\"hash\":\"sha256:$H\"}")
echo "TLS, --blob-source-ca: $out"
check grep -q "\"hash\":\"sha256:$H\".*\"source\":\"s\"" <<<"$out"
lc_stop
out=$("$B/bin/mvmd" --rpc-socket "$tmp/x.sock" --state-dir "$tmp/x" --console-dir "$tmp/xc" --blob-source "x=http://192.0.2.1/wasm" 2>&1)
check grep -q 'plain http only to a loopback host' <<<"$out"

# --- mvmd killed mid-pull: no temp file survives the restart ----------------------------------------
export MVMD_FAULT=pull.tmp-written
mvmd_up m12 "$B/bin/mvmd-fault" -- --blob-source "r=$R1/wasm/hello" || { bad "mvmd-fault starts"; finish; }
unset MVMD_FAULT
call compute.vm.create "{\"name\":\"killed\",\"memory_mib\":16,\"workload\":{\"hash\":\"sha256:$M\"}}" >/dev/null
# a killed child stays a zombie until waited for: count that as gone
gone() { [ ! -e "/proc/$1" ] || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
check wait_for 60 gone "$LC_PID"
wait "$LC_PID" 2>/dev/null
LC_PID=
check has_temp_files # the kill came with the file written, before its rename
mvmd_up m12 -- --blob-source "r=$R1/wasm/hello" || { bad "mvmd restarts"; finish; }
check no_temp_files
check blob_absent "$M"
check state_is killed Failed
check grep -q 'provisioning interrupted' <<<"$(call compute.vm.status '{"id":"killed"}')"
lc_stop

finish
