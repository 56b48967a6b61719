#!/bin/bash
# systemd-analyze verify on the units, after installing them (and mvmd)
# into a temporary root so ExecStart= resolves.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
if ! command -v systemd-analyze >/dev/null; then
	echo "SKIP: systemd-analyze not installed"
	exit 77
fi
root=$(mktemp -d)
trap 'lc_stop 2>/dev/null; rm -rf "$root"' EXIT
pass=0 fail=0
check() {
	if "$@"; then pass=$((pass + 1)); else echo "FAIL: $*"; fail=$((fail + 1)); fi
}
# Verify copies of the units whose ExecStart= points at the built mvmd
# (the installed path does not exist on a build machine); everything else
# is verified as shipped, against the host's real systemd units.
mkdir -p "$root/units"
sed "s|^ExecStart=/usr/sbin/mvmd|ExecStart=$PWD/$BUILD/bin/mvmd|" packaging/mvmd.service >"$root/units/mvmd.service"
cp packaging/mvmd.socket "$root/units/"
out=$(systemd-analyze verify --man=no "$root/units/mvmd.socket" "$root/units/mvmd.service" 2>&1)
rc=$?
echo "$out"
check test $rc -eq 0
check test -z "$out"

# The properties the design depends on.
check grep -qx 'Type=notify' packaging/mvmd.service
check grep -qx 'KillMode=process' packaging/mvmd.service
check grep -q '^WatchdogSec=' packaging/mvmd.service
check grep -qx 'DeviceAllow=/dev/kvm rw' packaging/mvmd.service
check grep -qx 'SocketMode=0600' packaging/mvmd.socket
check grep -qx 'ListenStream=/run/mvmd/rpc.sock' packaging/mvmd.socket
check grep -qx 'FileDescriptorName=rpc' packaging/mvmd.socket

# tmpfiles syntax
if command -v systemd-tmpfiles >/dev/null; then
	check systemd-tmpfiles --root="$root" --create "$PWD/packaging/mvmd.tmpfiles"
	check test -d "$root/var/lib/mvmd/vms"
	check test "$(stat -c %a "$root/var/lib/mvmd")" = 700
fi
# make install honours PREFIX and DESTDIR, in the unit too, and the
# installed mvmd finds its worker, guest and initramfs in the layout it
# gets (PREFIX/sbin/mvmd -> PREFIX/libexec/mvmd/, daemon/mvmd/backends.c).
inst=$root/inst prefix=/opt/mvmd-test
if make -s install BUILD="$BUILD" DESTDIR="$inst" PREFIX="$prefix" >"$root/install.log" 2>&1; then
	for f in sbin/mvmd bin/mvmctl bin/mvm-wasm libexec/mvmd/mvm-vmm libexec/mvmd/mvm-fetch libexec/mvmd/mvm-guest \
		 share/doc/mvmd/examples/mvmd-blob-sources.conf \
		 libexec/mvmd/initramfs.cpio.gz share/man/man8/mvmd.8 share/man/man1/mvmctl.1; do
		check test -e "$inst$prefix/$f"
	done
	check test ! -e "$inst$prefix/bin/mvmd"
	check test ! -e "$inst$prefix/bin/mvm-vmm"
	check grep -qx "ExecStart=$prefix/sbin/mvmd \$MVMD_OPTS" "$inst/lib/systemd/system/mvmd.service"
	check test -f "$inst/etc/default/mvmd"
	# shellcheck source=tests/lib/mvmd-lifecycle.sh
	. tests/lib/mvmd-lifecycle.sh
	: >"$root/fake-kvm"
	if lc_start "$root/run" "$inst$prefix/sbin/mvmd" "$BUILD/bin/mvmctl" -- \
		--kvm-device "$root/fake-kvm" --kvm-pool 0; then
		info=$(lc_call compute.node.info)
		lc_stop
		echo "node.info: $info"
		# a stand-in KVM device opens: usable means worker and guest were found
		check grep -qE '"kvm": *\{ *"usable": *true' <<<"$info"
		check grep -qF "\"default_initramfs\":\"$inst$prefix/libexec/mvmd/initramfs.cpio.gz\"" <<<"${info//\": \"/\":\"}"
	else
		check false "the installed mvmd starts"
	fi
else
	cat "$root/install.log"
	check false "make install"
fi
echo "packaging: $pass passed, $fail failed"
[ $fail -eq 0 ]
