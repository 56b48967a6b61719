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
trap 'rm -rf "$root"' EXIT
pass=0 fail=0
check() {
	if "$@"; then pass=$((pass + 1)); else echo "FAIL: $*"; fail=$((fail + 1)); fi
}
# Verify copies of the units whose ExecStart= points at the built mvmd
# (the installed path does not exist on a build machine); everything else
# is verified as shipped, against the host's real systemd units.
mkdir -p "$root/units"
sed "s|/usr/local/bin/mvmd|$PWD/$BUILD/bin/mvmd|" packaging/mvmd.service >"$root/units/mvmd.service"
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
echo "packaging: $pass passed, $fail failed"
[ $fail -eq 0 ]
