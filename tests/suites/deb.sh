#!/bin/bash
# The Debian package: build it from a copy of the tree (build/ is left
# alone), check lintian is clean, install it with dpkg -i on this host,
# run the INSTALLED /usr/sbin/mvmd (on temp paths) through VM lifecycles,
# then purge it. Installing on the host is what a CI machine (fresh and
# thrown away) is for; the service is never started (no systemd runs as
# PID 1 here; where one does, a policy-rc.d denies the start for the
# duration of the install) and a rerun upgrades over any leftover.
#
# Skips (77) when dpkg-buildpackage is missing, and under SANITIZE=1: the
# package builds its own unsanitized binaries, so a sanitized run would
# only repeat the plain one at the cost of a full build.
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
src=$PWD
if [ "${SANITIZE:-}" = 1 ]; then
	echo "SKIP: the package builds unsanitized binaries; the plain make check runs this suite"
	exit 77
fi
if ! command -v dpkg-buildpackage >/dev/null; then
	echo "SKIP: dpkg-buildpackage not installed (apt-get install dpkg-dev debhelper lintian)"
	exit 77
fi
# shellcheck source=tests/lib/mvmd-lifecycle.sh
. tests/lib/mvmd-lifecycle.sh

pass=0 fail=0 skip=0
ok() { echo "ok: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
check() { if "$@"; then ok "$*"; else bad "$*"; fi; }
finish() { echo "deb: $pass passed, $fail failed, $skip skipped"; [ $fail -eq 0 ]; exit; }

tmp=$(mktemp -d /tmp/mvmd-deb.XXXXXX)
installed=0 policy_rcd=
had_state=0; [ -e /var/lib/mvmd ] && had_state=1
cleanup() {
	lc_stop
	if [ $installed = 1 ]; then
		dpkg --purge mvmd >"$tmp/purge.log" 2>&1 || { echo "dpkg --purge failed:"; cat "$tmp/purge.log"; }
		# the state directory the package's tmpfiles made, if it is still
		# empty and was not there before (rmdir never deletes content)
		[ $had_state = 1 ] || rmdir /var/lib/mvmd/vms /var/lib/mvmd 2>/dev/null
	fi
	[ -n "$policy_rcd" ] && rm -f "$policy_rcd"
	rm -rf "$tmp"
}
trap cleanup EXIT

# --- build, from the files git knows (tracked and new, as they are now) ---
mkdir "$tmp/src"
if git rev-parse --git-dir >/dev/null 2>&1; then
	git ls-files -z --cached --others --exclude-standard |
		while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
		tar --null -T - -cf - | tar -xf - -C "$tmp/src"
else
	tar --exclude=./build --exclude=./build-san -cf - . | tar -xf - -C "$tmp/src"
fi
echo "building the package in $tmp/src"
# Not the calling make's jobserver nor its variables: the package build is
# a build of its own, as on a Debian builder.
if (cd "$tmp/src" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u BUILD -u SANITIZE \
	dpkg-buildpackage -b -us -uc -j"$(nproc)") >"$tmp/build.log" 2>&1; then
	ok "dpkg-buildpackage -b -us -uc"
else
	bad "dpkg-buildpackage failed:"; tail -n 40 "$tmp/build.log"; finish
fi
deb=$(ls "$tmp"/mvmd_*_amd64.deb 2>/dev/null | head -n1)
changes=$(ls "$tmp"/mvmd_*_amd64.changes 2>/dev/null | head -n1)
check test -f "$deb"

# --- lintian: no error, no warning (overrides: debian/mvmd.lintian-overrides)
if command -v lintian >/dev/null; then
	lint=$(lintian --allow-root "$changes" "$deb" 2>&1)
	echo "$lint" | sed 's/^/lintian: /'
	if grep -qE '^[EW]: ' <<<"$lint"; then bad "lintian reports errors or warnings"; else ok "lintian clean"; fi
else
	bad "lintian not installed (packaging/build-deps lists it)"
fi

# --- what the package holds, where Debian wants it
contents=$(dpkg-deb -c "$deb" | awk '{print $NF}')
for p in ./usr/sbin/mvmd ./usr/bin/mvmctl ./usr/bin/mvm-wasm ./usr/libexec/mvmd/mvm-vmm ./usr/libexec/mvmd/mvm-fetch \
	 ./usr/libexec/mvmd/mvm-guest ./usr/libexec/mvmd/initramfs.cpio.gz \
	 ./lib/systemd/system/mvmd.service ./lib/systemd/system/mvmd.socket \
	 ./usr/lib/tmpfiles.d/mvmd.conf ./etc/default/mvmd ./usr/share/man/man8/mvmd.8.gz \
	 ./usr/share/man/man1/mvmctl.1.gz ./usr/share/man/man1/mvm-wasm.1.gz; do
	check grep -qxF "$p" <<<"$contents"
done
check test -z "$(grep -E '^\./usr/(local|lib/mvmd)|^\./usr/bin/mvm(d|-vmm)$' <<<"$contents")"

# --- install on this host
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: not root: dpkg -i and the installed mvmd's runs need root"
	skip=$((skip + 1))
	finish
fi
if [ -d /run/systemd/system ] && [ ! -e /usr/sbin/policy-rc.d ]; then
	policy_rcd=/usr/sbin/policy-rc.d
	printf '#!/bin/sh\nexit 101\n' >"$policy_rcd" && chmod 0755 "$policy_rcd"
fi
installed=1
if dpkg -i "$deb" >"$tmp/install.log" 2>&1; then
	ok "dpkg -i $(basename "$deb")"
else
	bad "dpkg -i:"; cat "$tmp/install.log"; finish
fi
check grep -qx 'ExecStart=/usr/sbin/mvmd $MVMD_OPTS' /lib/systemd/system/mvmd.service
check grep -qx 'EnvironmentFile=-/etc/default/mvmd' /lib/systemd/system/mvmd.service
check grep -qxF /etc/default/mvmd /var/lib/dpkg/info/mvmd.conffiles
# enabled the Debian way (deb-systemd-helper), never started
check test -L /etc/systemd/system/multi-user.target.wants/mvmd.service
check test -L /etc/systemd/system/sockets.target.wants/mvmd.socket
check test -d /var/lib/mvmd/vms
started=
for e in /proc/[0-9]*/exe; do
	[ "$(readlink "$e" 2>/dev/null)" = /usr/sbin/mvmd ] && started="$started ${e//[^0-9]/}"
done
check test -z "$started"

# --- the installed mvmd, on temp paths
fake_ch=$src/$BUILD/tests/doubles/fake-cloud-hypervisor
if [ ! -x "$fake_ch" ]; then
	bad "$fake_ch is missing (make builds it)"; finish
fi
echo "not a kernel: the double only checks it is readable" >"$tmp/vmlinuz"
: >"$tmp/fake-kvm"
# A stand-in KVM device opens, so the kvm backend reports whether it found
# its worker and guest image (daemon/mvmd/kvm/backend-kvm.c kvm_usable) and the ch
# backend names its initramfs: all three from /usr/libexec/mvmd.
if lc_start "$tmp/ch" /usr/sbin/mvmd /usr/bin/mvmctl -- \
	--ch-binary "$fake_ch" --kvm-device "$tmp/fake-kvm" --kvm-pool 0; then
	info=$(lc_call compute.node.info)
	echo "node.info: $info"
	check grep -qE '"kvm": *\{ *"usable": *true' <<<"$info"
	check grep -qF '"default_initramfs": "/usr/libexec/mvmd/initramfs.cpio.gz"' <<<"$(sed 's/": *"/": "/g' <<<"$info")"
	check lc_vm deb-ch "{\"name\":\"deb-ch\",\"backend\":\"ch\",\"memory_mib\":64,\"kernel\":\"$tmp/vmlinuz\"}"
	lc_stop
else
	bad "installed mvmd did not start"
fi

# The real KVM device: a micro-VM from the installed worker and guest
# where /dev/kvm works; elsewhere the kvm backend must blame /dev/kvm,
# not a missing worker.
if lc_start "$tmp/kvm" /usr/sbin/mvmd /usr/bin/mvmctl -- --kvm-pool 0; then
	info=$(lc_call compute.node.info)
	if grep -qE '"kvm": *\{ *"usable": *true' <<<"$info"; then
		check lc_vm deb-kvm '{"name":"deb-kvm","memory_mib":16}'
	else
		echo "node.info: $info"
		check grep -qE '"kvm": *\{ *"usable": *false, *"reason": *"/dev/kvm: ' <<<"$info"
		echo "SKIP: no usable /dev/kvm here: the kvm lifecycle of the installed mvmd did not run"
		skip=$((skip + 1))
	fi
	lc_stop
else
	bad "installed mvmd did not start (default kvm device)"
fi

# --- purge: nothing of the package left, nothing started
if dpkg --purge mvmd >"$tmp/purge.log" 2>&1; then
	installed=0
	ok "dpkg --purge mvmd"
else
	bad "dpkg --purge:"; cat "$tmp/purge.log"
fi
[ $had_state = 1 ] || rmdir /var/lib/mvmd/vms /var/lib/mvmd 2>/dev/null
for p in /usr/sbin/mvmd /usr/libexec/mvmd /etc/default/mvmd /lib/systemd/system/mvmd.service \
	 /etc/systemd/system/multi-user.target.wants/mvmd.service; do
	check test ! -e "$p"
done
finish
