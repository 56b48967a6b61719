#!/bin/bash
# Exec over real vsock into the image's root filesystem: Debian's cloud
# kernel boots the production initramfs (mvm-init as /init) under QEMU with
# a root disk image (busybox, mke2fs -d), the process config mvmd appends,
# and a vhost-vsock device (guest CID 3); from the host side,
# build/guest/mvm-probe --exec (the exec protocol of docs/exec-protocol.md,
# over AF_VSOCK to port 52, as mvmd's exec proxy speaks it) runs commands
# through mvm-init's exec agent, and they see the image's files, not the
# initramfs's.
#
# It needs /dev/vhost-vsock. Where the host has none (the development
# machines: their kernel has no vhost_vsock), it says so and skips (77);
# run it inside a TCG guest whose kernel has vhost_vsock instead:
#
#   tests/tools/kvm-in-qemu.sh mvm-init-vsock-qemu
#
# which calls this script with --stage DIR on the host (build the guest's
# files into DIR, with DIR/run.sh, a POSIX sh script that busybox runs) and
# then DIR/run.sh in its guest, where QEMU runs with -accel kvm (the
# guest's nested SVM) or else tcg. Without --stage this script stages into
# a temp dir and runs run.sh here.
#
# The kernel package is fetched once with apt-get download into
# build/guest/kernel-tree (as tests/suites/mvm-init-root-qemu.sh does);
# MVM_KERNEL_DEB=/path/to/linux-image-*.deb uses that package instead.
set -u
export LC_ALL=C
B=${MVM_BUILD_DIR:-build}
S=${MVM_SRC_DIR:-.}
skip() { echo "SKIP: $*"; exit 77; }

stage=
if [ "${1:-}" = --stage ]; then
	stage=$2
	mkdir -p "$stage" || exit 1
fi
if [ -z "$stage" ]; then
	command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 is not installed"
	[ -c /dev/vhost-vsock ] || skip "no /dev/vhost-vsock on this host (its kernel has no vhost_vsock): run tests/tools/kvm-in-qemu.sh mvm-init-vsock-qemu"
	(exec 3<>/dev/vhost-vsock) 2>/dev/null || skip "/dev/vhost-vsock cannot be opened here"
fi
command -v mke2fs >/dev/null || skip "mke2fs (e2fsprogs) is not installed"
[ -f "$B/guest/initramfs.cpio.gz" ] && [ -x "$B/guest/mvm-probe" ] || skip "build $B first (make)"
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

work=${stage:-$(mktemp -d)}
[ -n "$stage" ] || trap 'rm -rf "$work"' EXIT

# The guest's modules: virtio-blk and the vsock transport over microvm's
# virtio-mmio (the default initramfs may carry the vsock ones already;
# mvm-init loads each name once).
"$S/init/linux/guest-modules" "$modtree" "$work/ko" virtio_blk virtio_mmio vmw_vsock_virtio_transport || exit 1
mods=()
for m in "$work"/ko/*.ko; do mods+=("/lib/modules/mvm-init/$(basename "$m")=$m"); done
"$S/init/linux/mkinitramfs" "$work/modules.cpio.gz" "${mods[@]}" || exit 1
rm -rf "$work/ko"

# The image: busybox, and a file only it has.
root=$work/rootfs
mkdir -p "$root"/{bin,dev,proc,sys,run,tmp,etc,srv}
cp "$busybox" "$root/bin/busybox"
for a in sh echo cat pwd ls sleep; do ln -s busybox "$root/bin/$a"; done
echo "from the image" >"$root/etc/motd"
truncate -s 16M "$work/root.img" && mke2fs -q -t ext4 -d "$root" "$work/root.img" || exit 1
rm -rf "$root"

# The image's process (lib/util/guestconf.h): it stays up, the VM with it;
# X is in its environment, not in an exec's.
printf 'root.disk=0\narg=/bin/sh\narg=-c\narg=echo%%20process%%20up%%20$X;%%20exec%%20sleep%%20100000\nenv=PATH=/bin\nenv=X=in-process\ncwd=/srv\n' \
	>"$work/process.conf"
"$S/init/linux/mkinitramfs" "$work/process.cpio.gz" /mvm/process.conf="$work/process.conf" || exit 1
cat "$B/guest/initramfs.cpio.gz" "$work/modules.cpio.gz" "$work/process.cpio.gz" >"$work/initrd"
rm -f "$work/modules.cpio.gz" "$work/process.cpio.gz" "$work/process.conf"
cp "$kernel" "$work/vmlinuz"
cp "$B/guest/mvm-probe" "$work/mvm-probe"

mhz=$(awk -F: '/^cpu MHz/ { printf "%d", $2 + 0.5; exit }' /proc/cpuinfo)
[ -n "$mhz" ] && [ "$mhz" -gt 0 ] || mhz=2000

# run.sh: POSIX sh, for busybox in kvm-in-qemu's guest as well.
cat >"$work/run.sh" <<EOF
#!/bin/sh
# Generated by tests/suites/mvm-init-vsock-qemu.sh: boot the VM with a
# vhost-vsock device, exec into it over AF_VSOCK, print ok/FAIL lines.
d=\$(cd "\$(dirname "\$0")" && pwd)
mhz=$mhz
EOF
cat >>"$work/run.sh" <<'EOF'
passed=0 failed=0
check() { # what, command...
	what=$1; shift
	if "$@"; then passed=$((passed + 1)); echo "ok   $what"
	else failed=$((failed + 1)); echo "FAIL $what"; fi
}
out=$d/out
if [ ! -c /dev/vhost-vsock ]; then
	echo "no /dev/vhost-vsock: $(grep -c vhost_vsock /proc/modules) vhost_vsock loaded"
	echo "0 passed, 1 failed, 0 skipped"
	exit 1
fi
accel=tcg
if [ -c /dev/kvm ] && (exec 3<>/dev/kvm) 2>/dev/null; then accel=kvm; fi
echo "booting the VM with -accel $accel and vhost-vsock-device (guest CID 3)"
log=$d/console.log
: >"$log"
qemu-system-x86_64 -accel "$accel" -M microvm -nographic -no-reboot -nodefaults \
	-serial "file:$log" -m 256 -kernel "$d/vmlinuz" -initrd "$d/initrd" \
	-append "console=ttyS0 tsc_early_khz=$((mhz * 1000)) panic=-1 quiet" \
	-drive if=none,id=root,format=raw,file="$d/root.img" -device virtio-blk-device,drive=root \
	-device vhost-vsock-device,guest-cid=3 </dev/null >"$d/qemu.out" 2>&1 &
qpid=$!
# Up when the process has started and the agent listens (10 min: TCG).
up=
i=0
while [ $i -lt 3000 ]; do
	grep -q "^process up in-process" "$log" && grep -q "exec agent listening on vsock port 52" "$log" && up=1 && break
	kill -0 $qpid 2>/dev/null || break
	sleep 0.2
	i=$((i + 1))
done
check "the VM booted: root mounted, process up, agent listening" [ -n "$up" ]
exec_ok() { # expected-line, argv...: the line is in mvm-probe's answer
	want=$1; shift
	# A connect the slow guest did not take in time is tried again.
	for _ in 1 2 3; do
		"$d/mvm-probe" --exec 3 "$@" >"$out" 2>&1 && break
		grep -q "vsock connect" "$out" || break
	done
	sed 's/^/  > /' "$out"
	grep -qxF -- "$want" "$out"
}
if [ -n "$up" ]; then
	check "exec over vsock: a file of the image" exec_ok "exec: stdout: from the image" /bin/cat /etc/motd
	check "exec over vsock: exit code 0" grep -qxF "exec: exit code 0" "$out"
	check "exec over vsock: the image's root (no initramfs /init there)" exec_ok "exec: stdout: bin dev etc lost+found proc run srv sys tmp" /bin/sh -c 'echo $(ls /)'
	check "exec over vsock: exit code and stderr apart" exec_ok "exec: exit code 3" /bin/sh -c 'echo to-err >&2; exit 3'
	check "exec over vsock: stderr" grep -qxF "exec: stderr: to-err" "$out"
	check "exec over vsock: the process's environment and directory are not the exec's" exec_ok "exec: stdout: [] /" /bin/sh -c 'echo "[$X]" $(pwd)'
fi
kill $qpid 2>/dev/null
wait $qpid 2>/dev/null
echo "== console:"
sed 's/^/  | /' "$log" | tr -d '\r'
sed 's/^/  qemu: /' "$d/qemu.out"
echo "$passed passed, $failed failed, 0 skipped"
[ "$failed" -eq 0 ]
EOF
chmod +x "$work/run.sh"
[ -n "$stage" ] && exit 0
sh "$work/run.sh"
