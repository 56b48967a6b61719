#!/bin/bash
# rpc.discover as a client generator uses it, and honest: tests/openrpc/check.js
# validates the document with @open-rpc/schema-utils-js, then drives a real
# mvmd (ch backend on the cloud-hypervisor double: no KVM needed) through
# every method and checks each real answer against the method's declared
# result schema and errors with ajv.
#
# The npm packages come from the committed tests/openrpc/package.json and
# package-lock.json (npm ci), installed once into $BUILD/npm/openrpc and
# reinstalled when the lock file changes. Skips (77) without node/npm
# (packaging/build-deps lists nodejs and npm) or when the npm registry
# cannot be reached.
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
src=$PWD

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	echo "SKIP: node and npm are not installed (apt-get install nodejs npm)"
	exit 77
fi
for f in "$BUILD/bin/mvmd" "$BUILD/bin/mvmctl" "$BUILD/tests/doubles/fake-cloud-hypervisor"; do
	[ -x "$f" ] || { echo "FAIL: $f is missing: run make"; exit 1; }
done

npmdir=$BUILD/npm/openrpc
if ! cmp -s tests/openrpc/package-lock.json "$npmdir/package-lock.json" || [ ! -d "$npmdir/node_modules" ]; then
	rm -rf "$npmdir"
	mkdir -p "$npmdir"
	cp tests/openrpc/package.json tests/openrpc/package-lock.json "$npmdir/"
	if ! (cd "$npmdir" && npm ci --no-audit --no-fund --loglevel=error) >"$BUILD/npm/openrpc.log" 2>&1; then
		cat "$BUILD/npm/openrpc.log"
		rm -rf "$npmdir"
		echo "SKIP: npm ci of tests/openrpc/package-lock.json failed (no registry?)"
		exit 77
	fi
fi

# shellcheck source=tests/lib/mvmd-lifecycle.sh
. tests/lib/mvmd-lifecycle.sh
tmp=$(mktemp -d /tmp/mvmd-openrpc.XXXXXX)
cleanup() {
	# cloud-hypervisor outlives mvmd by design: remove what is left first.
	if [ -n "${LC_PID:-}" ]; then
		for id in $(lc_call compute.vm.list 2>/dev/null | grep -o '"id": *"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/'); do
			lc_call compute.vm.remove "{\"id\":\"$id\",\"force\":true}" >/dev/null 2>&1
		done
	fi
	lc_stop
	rm -rf "$tmp"
}
trap cleanup EXIT

# The double only checks the kernel is readable; a plain file stands in
# for /dev/kvm so the kvm backend registers (its VMs then fail to start).
echo "not a kernel" >"$tmp/vmlinuz"
: >"$tmp/fake-kvm"
ln -s "$src/$BUILD/tests/doubles/fake-cloud-hypervisor" "$tmp/cloud-hypervisor"
# Odd bounds, so that a maximum the document did not get from this node shows.
lc_start "$tmp" "$BUILD/bin/mvmd" "$BUILD/bin/mvmctl" -- --ch-binary "$tmp/cloud-hypervisor" \
	--kvm-device "$tmp/fake-kvm" --kvm-pool 0 --max-memory-mib 1999 --max-vcpus 7 || exit 1

NODE_PATH=$npmdir/node_modules node tests/openrpc/check.js "$LC_SOCK" "$tmp/vmlinuz"
rc=$?
[ $rc -eq 0 ] || { echo "---- mvmd.log"; tail -n 30 "$tmp/mvmd.log"; }
exit $rc
