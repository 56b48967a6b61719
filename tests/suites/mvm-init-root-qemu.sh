#!/bin/bash
# The image's process under mvm-init, the guest side for real: Debian's
# cloud kernel boots the production initramfs under QEMU (TCG) with a root
# disk image this test builds (mke2fs -d from a directory holding Debian's
# static busybox), the kernel modules it needs added by
# init/linux/guest-modules (virtio_blk and its transport, the ACPI button,
# evdev), and a per-VM archive with /mvm/process.conf (lib/util/guestconf.h)
# as mvmd appends it. Checked on the serial console: the root mounted,
# the process's output, environment, working directory and exit code
# (0, 3, 137), a read-only root written to, a missing disk and a disk with
# no filesystem (clear causes), and the ACPI power button (QEMU's
# system_powerdown through its monitor) → orderly poweroff, with a process
# that ignores SIGTERM killed after the grace period.
#
# The kernel package is fetched once with apt-get download into
# build/guest/kernel-tree; MVM_KERNEL_DEB=/path/to/linux-image-*.deb uses
# that package instead.
set -u
export LC_ALL=C
B=${MVM_BUILD_DIR:-build}
S=${MVM_SRC_DIR:-.}
skip() { echo "SKIP: $*"; exit 77; }

command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 is not installed"
command -v mke2fs >/dev/null || skip "mke2fs (e2fsprogs) is not installed"
command -v socat >/dev/null || skip "socat is not installed (the QEMU monitor is reached through it)"
[ -f "$B/guest/initramfs.cpio.gz" ] || skip "build $B first (make)"
busybox=
for b in /bin/busybox /usr/bin/busybox; do
	[ -x "$b" ] && file -L "$b" | grep -q 'statically linked' && busybox=$b && break
done
[ -n "$busybox" ] || skip "no static busybox (apt-get install busybox-static)"

tree_dir="$S/build/guest/kernel-tree"
fetch_tree() {
	local dir=$1 tmp deb meta dep
	tmp=$(mktemp -d) || return 1
	(
		cd "$tmp" || exit 1
		if [ -n "${MVM_KERNEL_DEB:-}" ]; then
			deb=$MVM_KERNEL_DEB
		else
			apt-get download -q linux-image-cloud-amd64 >/dev/null 2>&1 || exit 1
			meta=$(ls linux-image-cloud-amd64_*.deb) || exit 1
			dep=$(dpkg-deb -f "$meta" Depends | sed -E 's/^(linux-image-[^ ,]+).*/\1/')
			apt-get download -q "$dep" >/dev/null 2>&1 || exit 1
			deb=$(ls "$dep"_*.deb) || exit 1
		fi
		rm -rf "$dir.tmp" && mkdir -p "$dir.tmp" &&
			dpkg-deb -x "$deb" "$dir.tmp" && rm -rf "$dir" && mv "$dir.tmp" "$dir"
	)
	local rc=$?
	rm -rf "$tmp"
	return $rc
}
mkdir -p "$S/build/guest"
(
	flock 9
	ls "$tree_dir"/boot/vmlinuz-* >/dev/null 2>&1 || fetch_tree "$(cd "$S/build/guest" && pwd)/kernel-tree"
) 9>"$S/build/guest/.kernel-tree.lock" || skip "cannot fetch Debian's linux-image-cloud-amd64 (apt-get download needs the network)"
kernel=$(ls "$tree_dir"/boot/vmlinuz-* | head -n1)
modtree=$(ls -d "$tree_dir"/lib/modules/* | head -n1)
[ -s "$kernel" ] && [ -d "$modtree" ] || skip "no kernel in $tree_dir"

mhz=$(awk -F: '/^cpu MHz/ { printf "%d", $2 + 0.5; exit }' /proc/cpuinfo)
[ -n "$mhz" ] && [ "$mhz" -gt 0 ] || mhz=2000

work=$(mktemp -d)
qpid=
trap '[ -n "$qpid" ] && kill "$qpid" 2>/dev/null; rm -rf "$work"' EXIT

# Modules: virtio-blk over microvm's virtio-mmio, and the power button.
"$S/init/linux/guest-modules" "$modtree" "$work/ko" virtio_blk virtio_mmio button evdev || exit 1
mods=()
for m in "$work"/ko/*.ko; do mods+=("/lib/modules/mvm-init/$(basename "$m")=$m"); done
"$S/init/linux/mkinitramfs" "$work/modules.cpio.gz" "${mods[@]}" || exit 1

# The root image: busybox and its applets, the usual directories.
root=$work/rootfs
mkdir -p "$root"/{bin,dev,proc,sys,run,tmp,etc,work}
cp "$busybox" "$root/bin/busybox"
for a in sh echo cat pwd env sleep id kill ls; do ln -s busybox "$root/bin/$a"; done
echo "from the image" >"$root/etc/motd"
mke2fs -q -t ext4 -d "$root" "$work/root.img" 16M || exit 1
truncate -s 4M "$work/blank.img" # no filesystem at all

# conf NAME KEY=VALUE...: a per-VM archive with /mvm/process.conf. Values
# are written %-encoded as mvmd does: every byte outside '!'..'~' and '%'.
conf() {
	local name=$1 kv k v enc i c o
	shift
	: >"$work/$name.conf"
	for kv in "$@"; do
		k=${kv%%=*} v=${kv#*=} enc=
		for ((i = 0; i < ${#v}; i++)); do
			c=${v:i:1}
			o=$(printf '%d' "'$c")
			if [ "$o" -ge 33 ] && [ "$o" -le 126 ] && [ "$c" != % ]; then enc+=$c
			else enc+=$(printf '%%%02X' "$o"); fi
		done
		printf '%s=%s\n' "$k" "$enc" >>"$work/$name.conf"
	done
	"$S/init/linux/mkinitramfs" "$work/$name.cpio.gz" /mvm/process.conf="$work/$name.conf" || exit 1
	cat "$B/guest/initramfs.cpio.gz" "$work/modules.cpio.gz" "$work/$name.cpio.gz" >"$work/$name.initrd"
}

base="console=ttyS0 tsc_early_khz=$((mhz * 1000)) panic=-1 quiet"
# boot NAME APPEND [qemu args...]: boot with NAME's initrd in the background;
# the console goes to $work/NAME.log. wait_boot then waits for its end.
boot_bg() {
	local name=$1 append="$base $2"
	shift 2
	log=$work/$name.log
	: >"$log.raw"
	timeout 90 qemu-system-x86_64 -accel tcg -M microvm -nographic -no-reboot -nodefaults \
		-serial stdio -m 256 -kernel "$kernel" -initrd "$work/$name.initrd" -append "$append" \
		-monitor "unix:$work/$name.mon,server,nowait" "$@" </dev/null >"$log.raw" 2>&1 &
	qpid=$!
}
wait_boot() {
	wait "$qpid"
	rc=$?
	qpid=
	tr -d '\r' <"$log.raw" >"$log"
	echo "== boot '$(basename "$log" .log)': qemu exited with $rc; console:"
	sed 's/^/  | /' "$log"
}
boot() { boot_bg "$@"; wait_boot; }
disk() { # FILE [readonly] [serial]
	local id=d$RANDOM
	echo "-drive if=none,id=$id,format=raw,file=$1${2:+,readonly=on} -device virtio-blk-device,drive=$id${3:+,serial=$3}"
}

passed=0 failed=0
check() {
	local what=$1; shift
	if "$@"; then passed=$((passed + 1)); echo "ok   $what"
	else failed=$((failed + 1)); echo "FAIL $what"; fi
}
has() { grep -qF -- "$1" "$log"; }
line_of() { grep -nF -- "$1" "$log" | head -n1 | cut -d: -f1; }
in_order() { local a b; a=$(line_of "$1"); b=$(line_of "$2"); [ -n "$a" ] && [ -n "$b" ] && [ "$a" -lt "$b" ]; }

# 1. The process: argv, env exactly, cwd, output, exit code 3; it writes.
conf run root.disk=0 arg=/bin/sh arg=-c \
	'arg=echo "argv: $0 $1"; echo "env: $(env | sort | tr "\n" " ")"; echo "cwd: $(pwd)"; cat /etc/motd; echo written > /work/f; cat /work/f; exit 3' \
	'arg=two words' arg=three env=PATH=/bin 'env=GREETING=hello world' cwd=/work
boot run "" $(disk "$work/root.img")
check "qemu powered off by itself with status 0" test "$rc" -eq 0
check "modules loaded" has "mvm-init: loaded module"
check "root disk mounted" has "mvm-init: root: /dev/vda (disk 0, ext4) mounted as /"
check "process started" has "mvm-init: process: /bin/sh (5 arguments, 2 environment variables, cwd /work, user 0:0)"
check "argv as given" grep -qxF "argv: two words three" "$log"
check "environment exactly as given" has "env: GREETING=hello world PATH=/bin "
check "working directory" has "cwd: /work"
check "the image's files" has "from the image"
check "the root is writable" grep -qx "written" "$log"
check "exit code 3" grep -qxF "mvm-init: process: exit code 3" "$log"
check "then an orderly poweroff" in_order "mvm-init: process: exit code 3" "mvm-init: powering off"
check "ready before the process" in_order "mvm-init: ready" "mvm-init: process: /bin/sh"

# The default initramfs's own modules (make puts them there when it has the
# guest kernel's tree): they must load into that kernel.
built_for=$(cat "$B/guest/initramfs.cpio.gz.kernel" 2>/dev/null)
if [ "$built_for" = "$(basename "$modtree")" ]; then
	check "default initramfs: its vsock transport loaded" grep -qE "mvm-init: loaded module [0-9]+-vmw_vsock_virtio_transport.ko" "$log"
	check "default initramfs: its virtio-pci and virtio-net loaded" bash -c "grep -qE 'loaded module [0-9]+-virtio_pci.ko' '$log' && grep -qE 'loaded module [0-9]+-virtio_net.ko' '$log'"
	check "default initramfs: every module loaded" bash -c "! grep -q 'cannot load module' '$log'"
	check "default initramfs: AF_VSOCK exists, the agent listens" has "mvm-init: exec agent listening on vsock port 52"
else
	echo "note: the default initramfs was built for '${built_for:-no kernel}', not $(basename "$modtree"): its modules are not checked"
fi
[ -e /dev/vhost-vsock ] || echo "note: no /dev/vhost-vsock on this host: exec from the host over vsock is tests/suites/mvm-init-vsock-qemu.sh's (through tests/tools/kvm-in-qemu.sh)"

# 2. By serial, exit 0, then a process killed by SIGKILL: 137.
conf zero root.serial=rootdisk arg=/bin/sh arg=-c 'arg=echo bye'
boot zero "" $(disk "$work/blank.img") $(disk "$work/root.img" "" rootdisk)
check "by serial: the second disk" has "mvm-init: root: /dev/vdb (the disk with serial \"rootdisk\", ext4) mounted as /"
check "exit code 0" grep -qxF "mvm-init: process: exit code 0" "$log"
check "exit 0: qemu exited 0" test "$rc" -eq 0

# 3. Read-only root written to: the process sees EROFS and says so; then it
# is killed by SIGKILL: exit code 137.
conf ro root.disk=0 root.readonly=1 arg=/bin/sh arg=-c 'arg=echo x > /work/g || kill -9 $$'
boot ro "" $(disk "$work/root.img" readonly)
check "read-only root mounted so" has "(disk 0, ext4, read-only) mounted as /"
check "read-only root: the write fails with its cause" has "Read-only file system"
check "killed by SIGKILL: exit code 137" has "mvm-init: process: killed by signal 9: exit code 137"

# 4. Root disk missing; not a filesystem.
conf missing root.disk=1 arg=/bin/true
boot missing "" $(disk "$work/root.img")
check "missing disk: clear cause" has "mvm-init: root: disk 1 not found: the VM has 1 virtio disk"
check "missing disk: exit code 126, powered off" bash -c "grep -qF 'mvm-init: process: exit code 126 (the root disk is unusable)' '$log' && [ $rc -eq 0 ]"
conf blank root.disk=0 arg=/bin/true
boot blank "" $(disk "$work/blank.img")
check "no filesystem: clear cause" has "mvm-init: root: cannot mount /dev/vda (disk 0) as ext4: Invalid argument (no such filesystem on it)"

# 5. The ACPI power button (system_powerdown), the process ignoring SIGTERM:
# SIGKILL after the grace period, then poweroff.
conf button root.disk=0 arg=/bin/sh arg=-c 'arg=trap "echo got TERM, ignoring" TERM; echo waiting; while :; do sleep 1; done'
boot_bg button "mvm.stop_timeout_ms=1000" $(disk "$work/root.img")
for _ in $(seq 600); do grep -q "^waiting" "$log.raw" && break; kill -0 "$qpid" 2>/dev/null || break; sleep 0.1; done
echo system_powerdown | socat - "UNIX-CONNECT:$work/button.mon" >/dev/null
wait_boot
check "power button: found" has "mvm-init: power button: /dev/input/event"
check "power button: orderly shutdown" has "mvm-init: shutting down (power button): sending SIGTERM to all processes"
check "power button: the process got TERM" has "got TERM, ignoring"
check "power button: SIGKILL after the grace period" has "mvm-init: processes left after 1000 ms: sending SIGKILL"
check "power button: powered off" bash -c "grep -qF 'mvm-init: powering off' '$log' && [ $rc -eq 0 ]"

echo "$passed passed, $failed failed, 0 skipped"
[ "$failed" -eq 0 ]
