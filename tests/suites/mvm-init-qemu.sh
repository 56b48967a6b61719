#!/bin/bash
# Boot the real initramfs (mvm-init as /init) in Debian's cloud kernel under
# QEMU (TCG: a Linux kernel does not boot under the nested KVM we have) and
# check on the serial console: the ready banner, the hostname, that the
# mvm.run= command ran with its arguments, output and exit code, and that
# mvm.poweroff=1 powers the VM off cleanly (QEMU exits 0 by itself).
#
# The kernel is fetched once with apt-get download into build/guest/kernel
# (shared by build/ and build-san/); MVM_KERNEL=/path/to/vmlinuz overrides.
set -u
B=${MVM_BUILD_DIR:-build}
S=${MVM_SRC_DIR:-.}
skip() { echo "SKIP: $*"; exit 77; }

command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 is not installed"
[ -f "$B/guest/initramfs.cpio.gz" ] && [ -x "$B/guest/mvm-probe" ] || skip "build $B first (make check)"

fetch_kernel() {
	local dir=$1 tmp meta dep
	tmp=$(mktemp -d) || return 1
	(
		cd "$tmp" || exit 1
		apt-get download -q linux-image-cloud-amd64 >/dev/null 2>&1 || exit 1
		meta=$(ls linux-image-cloud-amd64_*.deb) || exit 1
		# The metapackage depends on the versioned image package.
		dep=$(dpkg-deb -f "$meta" Depends | sed -E 's/^(linux-image-[^ ,]+).*/\1/')
		apt-get download -q "$dep" >/dev/null 2>&1 || exit 1
		# Only the kernel and the vsock modules, not the whole module tree.
		mkdir x && dpkg-deb --fsys-tarfile "$dep"_*.deb |
			tar -x -C x --wildcards './boot/vmlinuz-*' './lib/modules/*/kernel/net/vmw_vsock/*' || exit 1
		# vsock is a module in this kernel: keep what loopback vsock needs,
		# prefixed so that name order is dependency order.
		m=$(echo x/lib/modules/*/kernel/net/vmw_vsock)
		mkdir -p "$dir/modules.tmp" &&
			cp "$m/vsock.ko" "$dir/modules.tmp/10-vsock.ko" &&
			cp "$m/vmw_vsock_virtio_transport_common.ko" "$dir/modules.tmp/20-vmw_vsock_virtio_transport_common.ko" &&
			cp "$m/vsock_loopback.ko" "$dir/modules.tmp/30-vsock_loopback.ko" &&
			rm -rf "$dir/modules" && mv "$dir/modules.tmp" "$dir/modules" &&
			cp x/boot/vmlinuz-* "$dir/vmlinuz.tmp" && mv "$dir/vmlinuz.tmp" "$dir/vmlinuz" &&
			echo "$dep" > "$dir/package"
	)
	local rc=$?
	rm -rf "$tmp"
	return $rc
}

kernel=${MVM_KERNEL:-}
if [ -z "$kernel" ]; then
	kdir="$S/build/guest/kernel"
	mkdir -p "$kdir"
	(
		flock 9
		[ -s "$kdir/vmlinuz" ] && [ -d "$kdir/modules" ] || fetch_kernel "$(cd "$kdir" && pwd)"
	) 9>"$kdir/.lock" || skip "cannot fetch Debian's linux-image-cloud-amd64 (apt-get download needs the network)"
	kernel=$kdir/vmlinuz
	modules=$kdir/modules
else
	modules=${MVM_KERNEL_MODULES:-} # vsock modules (NN-name.ko) for that kernel, if any
fi
[ -s "$kernel" ] || skip "no kernel at $kernel"

# microvm hangs in TSC calibration under TCG here unless told the frequency.
mhz=$(awk -F: '/^cpu MHz/ { printf "%d", $2 + 0.5; exit }' /proc/cpuinfo)
[ -n "$mhz" ] && [ "$mhz" -gt 0 ] || mhz=2000

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The production initramfs plus a second archive with the test program:
# the kernel unpacks concatenated archives in order.
extra=(/bin/mvm-probe="$B/guest/mvm-probe")
vsock=
if [ -n "$modules" ] && [ -d "$modules" ]; then
	for m in "$modules"/*.ko; do extra+=("/lib/modules/mvm-init/$(basename "$m")=$m"); done
	vsock=,--vsock
fi
"$S/init/linux/mkinitramfs" "$work/probe.cpio.gz" "${extra[@]}" || exit 1
cat "$B/guest/initramfs.cpio.gz" "$work/probe.cpio.gz" > "$work/initrd.gz"

base="console=ttyS0 tsc_early_khz=$((mhz * 1000)) panic=-1 quiet"
# boot NAME APPEND: boot the initrd, console in $work/NAME.log, status in rc/secs.
boot() {
	local name=$1 append="$base $2" start
	log=$work/$name.log
	start=$(date +%s.%N)
	timeout 45 qemu-system-x86_64 -accel tcg -M microvm -nographic -no-reboot -nodefaults \
		-serial stdio -m 256 -kernel "$kernel" -initrd "$work/initrd.gz" -append "$append" \
		</dev/null >"$log.raw" 2>&1
	rc=$?
	tr -d '\r' <"$log.raw" >"$log" # the serial console ends lines with \r\n
	secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	echo "== boot '$name': qemu exited with $rc after ${secs}s; console:"
	sed 's/^/  | /' "$log"
}

passed=0 failed=0
check() { # description, command...
	local what=$1; shift
	if "$@"; then passed=$((passed + 1)); echo "ok   $what"
	else failed=$((failed + 1)); echo "FAIL $what"; fi
}
has() { grep -qF -- "$1" "$log"; }
line_of() { grep -nF -- "$1" "$log" | head -n1 | cut -d: -f1; }
in_order() { local a b; a=$(line_of "$1"); b=$(line_of "$2"); [ -n "$a" ] && [ -n "$b" ] && [ "$a" -lt "$b" ]; }

# Boot 1: the mvm.run= command, its output and exit code, mvm.poweroff=1,
# and the exec agent over real AF_VSOCK.
boot run "mvm.hostname=qemu-guest mvm.run=/bin/mvm-probe,3,two%20words,a%2Cb$vsock mvm.poweroff=1"
boot1_secs=$secs
check "qemu powered off by itself with status 0" test "$rc" -eq 0
check "the kernel booted mvm-init as PID 1" has "mvm-init: starting (version"
check "ready banner" has "mvm-init: ready"
check "AF_VSOCK status reported" grep -qE 'mvm-init: exec agent (listening on vsock port 52|disabled: AF_VSOCK)' "$log"
check "hostname from mvm.hostname=" has "mvm-init: hostname qemu-guest"
check "hostname seen by the command" grep -q "probe: pid=.* hostname=qemu-guest " "$log"
check "command ran with decoded arguments" bash -c "grep -qxF 'probe: argv[2]=two words' '$log' && grep -qxF 'probe: argv[3]=a,b' '$log'"
check "command's parent is PID 1" grep -q "probe: pid=[0-9]* ppid=1 " "$log"
check "pseudo filesystems mounted" grep -qxF "probe: mounts proc=1 sys=1 dev=1 run=1 tmp=1" "$log"
check "command stderr on the console" has "probe: to stderr"
check "exit code reported" grep -qxF "mvm-init: run: exit code 3" "$log"
check "ready before the command ran" in_order "mvm-init: ready" "probe: pid="
check "orderly poweroff" in_order "mvm-init: run: exit code 3" "mvm-init: powering off"
check "kernel powered down" has "reboot: Power down"
if [ -n "$vsock" ]; then
	# The agent on real AF_VSOCK (loopback transport), driven by the
	# host-side client library from inside the guest.
	check "vsock modules loaded by mvm-init" has "mvm-init: loaded module 30-vsock_loopback.ko"
	check "agent listening on vsock port 52" has "mvm-init: exec agent listening on vsock port 52"
	check "exec over vsock: mvm.echo" has "probe: vsock echo ok"
	check "exec over vsock: mvm.info" has "probe: vsock info ok"
	check "exec over vsock: a real program, exit code, stdout/stderr apart" has "probe: vsock exec ok (exit code 7, stdout and stderr apart)"
	check "exec over vsock: sha256:<hex> is fetched from the host (none here: exit 126)" has "probe: vsock wasm-by-hash tried the host"
else
	echo "note: no vsock modules for this kernel; the agent-over-vsock checks are not run"
fi
check "no kernel panic" bash -c "! grep -q 'Kernel panic' '$log'"

# Boot 2: SIGTERM to the real PID 1 (from a process in the guest) powers
# off in order: TERM to all, the TERM-ignoring child is KILLed after
# mvm.stop_timeout_ms, then poweroff. No mvm.poweroff= here.
boot term "mvm.stop_timeout_ms=500 mvm.run=/bin/mvm-probe,0,--term-init"
check "SIGTERM boot: qemu powered off by itself with status 0" test "$rc" -eq 0
check "SIGTERM boot: signal sent from the guest" has "probe: sending SIGTERM to PID 1"
check "SIGTERM boot: orderly shutdown started" has "mvm-init: shutting down (SIGTERM): sending SIGTERM to all processes"
check "SIGTERM boot: the command got SIGTERM" has "mvm-init: run: killed by signal 15"
check "SIGTERM boot: the stubborn process got SIGKILL after 500 ms" has "mvm-init: processes left after 500 ms: sending SIGKILL"
check "SIGTERM boot: then powered off" in_order "sending SIGKILL" "mvm-init: powering off"
check "SIGTERM boot: kernel powered down" has "reboot: Power down"
echo "boot took ${boot1_secs}s (the SIGTERM boot ${secs}s)"
echo "$passed passed, $failed failed, 0 skipped"
[ "$failed" -eq 0 ]
