#!/bin/bash
# Run KVM test suites on a host without a usable /dev/kvm: boot a Linux
# guest under QEMU's software emulation (TCG) with AMD SVM emulated, let
# that guest's kvm_amd give it a real /dev/kvm, and run the suites there.
#
#   tests/tools/kvm-in-qemu.sh [suite...]
#   tests/tools/kvm-in-qemu.sh --demo
#   tests/tools/kvm-in-qemu.sh --run 'COMMAND'
#   tests/tools/kvm-in-qemu.sh --bench NAME
#
# A suite is a binary's name under $BUILD/tests/integration or
# $BUILD/tests/unit (check_kvm_guest), or the name of a script
# tests/suites/NAME.sh that stages itself (NAME.sh --stage DIR builds what
# its guest side needs into DIR, with DIR/run.sh, a POSIX sh script run
# in the guest with QEMU at hand: mvm-init-vsock-qemu); with none, the
# KVM suites below. The guest also loads vhost_vsock, so /dev/vhost-vsock
# exists there (reported as "guest vhost-vsock: ...").
# Each suite's output is printed and kept in $BUILD/kvm-in-qemu/logs/NAME.log;
# the last line is "N passed, M failed, K skipped", counted as tests/run
# counts. Exit status: 0 when nothing failed.
#
# --demo is `make demo` on any host: where /dev/kvm is usable it is just
# tests/demo.sh; where it is not, tests/demo.sh runs in the guest instead
# of the suites, its output streamed as it comes, and its exit status is
# this script's. Without qemu-system-x86 or busybox-static it says which
# is missing and runs tests/demo.sh on the host (whose VMs cannot start).
#
# --run runs COMMAND with bash in the guest instead of the suites, from
# /src: this tree's bench/ scripts, its build as /src/build
# (bench programs too); its output streamed, its exit status this
# script's. Each directory of KIQ_TREES (other checkouts, built) comes as
# /trees/<its basename> the same way, so one boot can run the benchmarks
# of two builds side by side (timings under TCG compare, they mean
# nothing alone), e.g.
#   KIQ_TREES=/tmp/old tests/tools/kvm-in-qemu.sh --run \
#       'for t in /src /trees/old; do (cd $t && RUNS=20 bash bench/kvm-rpc.sh); done'
#
# --bench NAME is --run 'bash bench/NAME.sh' with N, STAGE, POOL, ZYGOTE,
# RUNS and IDLE passed on and no limit on open files. Timings under TCG
# mean nothing; counts (memory, fds) do. Give the guest room: KIQ_MEM=8G.
#
# Environment:
#   BUILD               build tree to test (default: build)
#   KIQ_KERNEL          a linux-image-*.deb or a vmlinuz whose modules are in
#                       ../lib/modules (default: Debian's cloud kernel,
#                       fetched once with apt-get download)
#   KIQ_MEM, KIQ_SMP    guest memory and CPUs (default 2G, 1: the host's
#                       cores are shared; one emulated CPU is enough)
#   KIQ_CPU             QEMU -cpu model (default max: SVM with nested paging)
#   KIQ_KVM_AMD         kvm_amd module options (e.g. npt=0)
#   KIQ_TIMEOUT         seconds before the whole QEMU run is killed (7200;
#                       with --demo, 1800)
#   KIQ_TREES           with --run: more trees to copy in (see above)
#   KIQ_TOOLS           with --run: host programs to copy in (e.g. strace)
#   KIQ_WORK            where generated files go (default $BUILD/kvm-in-qemu)
#   KIQ_LOGS=1          keep the tests' temp dirs and print every mvmd.log
#                       of a failed suite (lines "@@KIQ-LOG path: ...")
#   CK_DEFAULT_TIMEOUT  per test case, in the guest (default 600: emulated)
#
# Needs qemu-system-x86 and a static busybox (busybox-static installed, or
# its package fetched with apt-get download and unpacked here). Not part
# of `make check`:
# `make check-kvm-in-qemu` runs it, `make demo` runs it with --demo
# (docs/hacking.md).
#
# The guest's KVM is kvm_amd on an emulated CPU, so everything runs tens
# of times slower than on a KVM host. Cases that assume speed fail here
# without a defect behind them: check_mvmd_workload's test_timeout (the
# 300 ms timeout passes before the guest is Running: StartFailed) and
# test_kill9_readopt_running (the 1 s workload ends while mvmd restarts),
# and, on a loaded host, any request answered past mvmtest's 10 s
# (test_exit_codes, test_twenty_parallel, check_mvmd_fds) or an exec past
# its 30 s (check_mvmd_exec's 17 MiB blob).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
build_given=$BUILD # as tests/demo.sh takes it: relative to the tree
BUILD=$(cd "$BUILD" && pwd)
WORK=${KIQ_WORK:-$BUILD/kvm-in-qemu}
LOGDIR=$WORK/logs
DEFAULT_SUITES="check_kvm_guest check_kvm_assign check_kvm_worker check_kvm_warm
	check_kvm_zygote check_mvmd_kvm check_mvmd_workload check_mvmd_run check_mvmd_secrets check_mvmd_crash
	check_mvmd_diskfull check_mvmd_hostile check_mvmd_pool check_mvmd_events
	check_mvmd_exec check_kvm_workload check_kvm_vsock check_mvmd_access
	check_mvmd_fds check_mvmd_metrics check_mvmd_actor check_mvmd_actor_fail
	check_mvmd_kvm_snapshot"

die() { echo "kvm-in-qemu: $*" >&2; exit 2; }

BUSYBOX=$(command -v busybox || true)
[ -n "$BUSYBOX" ] && ldd "$BUSYBOX" >/dev/null 2>&1 && BUSYBOX=
# No static busybox installed: take the one in Debian's busybox-static
# package without installing it (it would replace the busybox package).
if [ -z "$BUSYBOX" ]; then
	bbdir=$WORK/busybox-static
	if [ ! -x "$bbdir/bin/busybox" ] && command -v apt-get >/dev/null; then
		mkdir -p "$bbdir"
		(cd "$bbdir" && apt-get download busybox-static >/dev/null 2>&1 &&
			dpkg-deb -x busybox-static_*.deb .) || true
	fi
	[ -x "$bbdir/bin/busybox" ] && BUSYBOX=$bbdir/bin/busybox
fi

demo= run=
if [ "${1:-}" = --bench ]; then
	if [ $# -ne 2 ] || [ ! -f "bench/$2.sh" ]; then die "--bench NAME: no bench/NAME.sh"; fi
	run="ulimit -n 1048576"
	for v in N STAGE POOL ZYGOTE RUNS IDLE; do
		if [ -n "${!v:-}" ]; then run+="; export $v=${!v}"; fi
	done
	run+="; bash bench/$2.sh"
	set -- --run "$run"
fi
if [ "${1:-}" = --run ]; then
	[ $# -eq 2 ] || die "--run takes one command"
	run=$2
	shift 2
elif [ "${1:-}" = --demo ]; then
	demo=1
	shift
	[ $# -eq 0 ] || die "--demo takes no suite"
	KIQ_TIMEOUT=${KIQ_TIMEOUT:-1800}
	# A /dev/kvm that opens read-write is one mvmd can use: the demo as is.
	if [ -c /dev/kvm ] && (exec 3<>/dev/kvm) 2>/dev/null; then
		BUILD=$build_given exec tests/demo.sh
	fi
	missing=
	command -v qemu-system-x86_64 >/dev/null || missing=qemu-system-x86
	[ -n "$BUSYBOX" ] || missing="${missing:+$missing and }busybox-static"
	if [ -n "$missing" ]; then
		echo "no usable /dev/kvm here, and no $missing to run the demo in a QEMU guest (apt-get install ${missing/ and / }): the micro-VMs cannot start"
		BUILD=$build_given exec tests/demo.sh
	fi
	echo "no usable /dev/kvm here: running the demo in a QEMU guest with emulated SVM (slow: ~30 s)"
fi

command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing (apt-get install qemu-system-x86)"
[ -n "$BUSYBOX" ] || die "a static busybox is needed (apt-get install busybox-static)"

suites=("$@")
# shellcheck disable=SC2206
[ ${#suites[@]} -gt 0 ] || [ -n "$demo$run" ] || suites=($DEFAULT_SUITES)
staged=
for s in "${suites[@]}"; do
	if [ -x "$BUILD/tests/integration/$s" ] || [ -x "$BUILD/tests/unit/$s" ]; then continue; fi
	[ -f "tests/suites/$s.sh" ] || die "no suite $s under $BUILD/tests/{integration,unit} or tests/suites"
	staged=1
done

mkdir -p "$WORK" "$LOGDIR"

# --- the kernel and its modules ---------------------------------------
kdir=$WORK/kernel
if [ -n "${KIQ_KERNEL:-}" ] && [[ $KIQ_KERNEL == *.deb ]]; then
	rm -rf "$kdir"; mkdir -p "$kdir"
	dpkg-deb -x "$KIQ_KERNEL" "$kdir"
elif [ -n "${KIQ_KERNEL:-}" ]; then
	kdir=$(cd "$(dirname "$KIQ_KERNEL")/.." && pwd)
elif ! ls "$kdir"/boot/vmlinuz-* >/dev/null 2>&1; then
	pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9].*-cloud-amd64\)$/\1/p' | head -n1)
	[ -n "$pkg" ] || die "cannot name Debian's cloud kernel package; set KIQ_KERNEL"
	(cd "$WORK" && apt-get download "$pkg" >/dev/null) || die "apt-get download $pkg failed"
	mkdir -p "$kdir"
	dpkg-deb -x "$WORK/${pkg}"_*.deb "$kdir"
fi
if [ -n "${KIQ_KERNEL:-}" ] && [[ $KIQ_KERNEL != *.deb ]]; then
	vmlinuz=$KIQ_KERNEL
else
	vmlinuz=$(ls "$kdir"/boot/vmlinuz-* | head -n1)
fi
[ -f "$vmlinuz" ] || die "no kernel at $vmlinuz"
kver=$(basename "$(ls -d "$kdir"/lib/modules/*/ | head -n1)")
kmods=$kdir/lib/modules/$kver/kernel

# --- the initramfs ----------------------------------------------------
root=$WORK/root
rm -rf "$root"
mkdir -p "$root"/{bin,proc,sys,dev,tmp,etc,mods,build/tests,src}
cp "$BUSYBOX" "$root/bin/busybox"
# kvm-amd needs kvm, which needs irqbypass (their modinfo "depends=").
for m in virt/lib/irqbypass.ko arch/x86/kvm/kvm.ko arch/x86/kvm/kvm-amd.ko; do
	cp "$kmods/$m" "$root/mods/"
done
# vhost_vsock and what it needs, in load order: /dev/vhost-vsock for QEMU.
mkdir -p "$root/mods/vhost"
for m in drivers/vhost/vhost_iotlb.ko drivers/vhost/vhost.ko net/vmw_vsock/vsock.ko \
	net/vmw_vsock/vmw_vsock_virtio_transport_common.ko drivers/vhost/vhost_vsock.ko; do
	[ -f "$kmods/$m" ] && cp "$kmods/$m" "$root/mods/vhost/$(ls "$root/mods/vhost" | wc -l)-$(basename "$m")"
done

# The build tree as the suites find it through MVM_BUILD_DIR (with
# --run, the bench programs too).
copy_build() { # from to
	cp -a "$1/bin" "$1/wasm-programs" "$2/"
	[ -z "$run" ] || cp -a "$1/bench" "$2/"
	mkdir -p "$2/guest"
	for f in "$1"/guest/*; do
		case $(basename "$f") in obj|*.a) continue;; esac
		cp -a "$f" "$2/guest/"
	done
}
copy_build "$BUILD" "$root/build"
mkdir -p "$root/build/tests/integration" "$root/build/tests/unit"
for s in "${suites[@]}"; do
	for d in integration unit; do
		if [ -x "$BUILD/tests/$d/$s" ]; then cp -a "$BUILD/tests/$d/$s" "$root/build/tests/$d/"; fi
	done
done
if [ -d "$BUILD/tests/doubles" ]; then cp -a "$BUILD/tests/doubles" "$root/build/tests/"; fi

# --run: the tree's scripts at /src, /src/build the build tree, every
# KIQ_TREES tree at /trees/NAME, and the host's bash.
if [ -n "$run" ]; then
	mkdir -p "$root/usr/bin"
	cp -a bench "$root/src/"
	ln -s /build "$root/src/build"
	for t in ${KIQ_TREES:-}; do
		n=$root/trees/$(basename "$t")
		[ -d "$t/build/bin" ] || die "$t has no build (make all there first)"
		mkdir -p "$n/build"
		cp -a "$t/bench" "$n/"
		copy_build "$t/build" "$n/build"
	done
	p=$(command -v bash) || die "bash is needed in the guest for --run"
	cp -L "$p" "$root/usr/bin/bash"
	printf '%s\n' "$run" >"$root/kiq-run.sh"
fi
# Staged suites: their files under /stage/NAME, and QEMU with its firmware.
if [ -n "$staged" ]; then
	p=$(command -v qemu-system-x86_64)
	mkdir -p "$root/usr/bin" "$root/usr/share"
	cp -L "$p" "$root/usr/bin/"
	cp -rL /usr/share/qemu "$root/usr/share/"
	[ -d /usr/share/seabios ] && cp -rL /usr/share/seabios "$root/usr/share/"
	for s in "${suites[@]}"; do
		[ -f "tests/suites/$s.sh" ] || continue
		MVM_BUILD_DIR=$BUILD MVM_SRC_DIR=$PWD bash "tests/suites/$s.sh" --stage "$root/stage/$s" ||
			die "tests/suites/$s.sh --stage failed"
	done
fi

# The demo as `make demo` runs it from the tree: /src/tests/demo.sh with
# /src/build the build tree, and the host's bash and socat it runs with
# (busybox has neither; tput is optional).
if [ -n "$demo" ]; then
	mkdir -p "$root/src/tests/lib" "$root/usr/bin"
	cp tests/demo.sh "$root/src/tests/"
	cp tests/lib/registry.sh "$root/src/tests/lib/"
	ln -s /build "$root/src/build"
	for t in bash socat; do
		p=$(command -v $t) || die "$t is needed in the guest for the demo"
		cp -L "$p" "$root/usr/bin/$t"
	done
	# the demo's local registry, when installed (packaging/build-deps)
	for t in docker-registry curl sha256sum; do
		p=$(command -v $t) && cp -L "$p" "$root/usr/bin/$t"
	done
fi

# KIQ_TOOLS: more of the host's programs for --run (strace, perf, ...).
for t in ${KIQ_TOOLS:-}; do
	mkdir -p "$root/usr/bin"
	p=$(command -v "$t") || die "KIQ_TOOLS: no $t on this host"
	cp -L "$p" "$root/usr/bin/$t"
done

# Every shared library those binaries load, with the dynamic loader.
for f in "$root"/build/bin/* "$root"/build/tests/*/* "$root"/build/bench/* "$root"/usr/bin/* \
	"$root"/trees/*/build/bin/* "$root"/trees/*/build/bench/*; do
	[ -f "$f" ] || continue
	{ ldd "$f" 2>/dev/null || true; } | awk '$3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'
done | sort -u | while read -r lib; do
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
	# Also under the path the loader was built with (usr-merged hosts).
	real=$(readlink -f "$lib")
	[ "$real" = "$lib" ] || { mkdir -p "$root$(dirname "$real")"; cp -L "$lib" "$root$real"; }
done
[ -e "$root/lib64/ld-linux-x86-64.so.2" ] || die "no dynamic loader collected"

# check_mvmd_access's accounts, as its groupadd/useradd would make them
# (the guest has no passwd package).
printf 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nmvmdtest:x:999:999::/nonexistent:/usr/sbin/nologin\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\nmvmdtest:x:999:\n' >"$root/etc/group"
printf 'root:*:1::::::\n' >"$root/etc/shadow"

printf 'SUITES="%s"\nCK_DEFAULT_TIMEOUT=%s\nKVM_AMD_OPTS="%s"\nKIQ_LOGS=%s\nDEMO=%s\nRUN=%s\n' "${suites[*]}" \
	"${CK_DEFAULT_TIMEOUT:-600}" "${KIQ_KVM_AMD:-}" "${KIQ_LOGS:-}" "$demo" "${run:+1}" >"$root/kiq.env"

cat >"$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp
ip link set lo up 2>/dev/null
. /kiq.env
insmod /mods/irqbypass.ko
insmod /mods/kvm.ko
insmod /mods/kvm-amd.ko $KVM_AMD_OPTS
echo "@@KIQ-INFO $(grep -o -w -E 'svm|npt|vgif|nrip_save' /proc/cpuinfo | sort -u | tr '\n' ' ')"
for m in /mods/vhost/*.ko; do insmod "$m" 2>&1 | sed 's/^/@@KIQ-DMESG /'; done
if [ -c /dev/vhost-vsock ]; then echo "@@KIQ-VHOST yes"; else echo "@@KIQ-VHOST no"; fi
dmesg | grep -i -E 'kvm|svm' | sed 's/^/@@KIQ-DMESG /'
if [ ! -c /dev/kvm ]; then
	echo "@@KIQ-NOKVM"
	poweroff -f
fi
export MVM_BUILD_DIR=/build MVM_SRC_DIR=/src CK_DEFAULT_TIMEOUT
export ASAN_OPTIONS=abort_on_error=0:detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export PATH=/bin:/usr/bin HOME=/ TMPDIR=/tmp
[ -n "$KIQ_LOGS" ] && export MVM_KEEP_TEST_DIRS=1
cd /
if [ -n "$RUN" ]; then
	echo "@@KIQ-BEGIN run"
	start=$(cut -d. -f1 /proc/uptime)
	(cd /src && PATH=/usr/bin:/bin BUILD=build bash /kiq-run.sh </dev/null 2>&1)
	rc=$?
	echo "@@KIQ-END run rc=$rc secs=$(( $(cut -d. -f1 /proc/uptime) - start ))"
	poweroff -f
fi
if [ -n "$DEMO" ]; then
	echo "@@KIQ-BEGIN demo"
	start=$(cut -d. -f1 /proc/uptime)
	PATH=/usr/bin:/bin BUILD=build bash /src/tests/demo.sh </dev/null 2>&1
	rc=$?
	echo "@@KIQ-END demo rc=$rc secs=$(( $(cut -d. -f1 /proc/uptime) - start ))"
	poweroff -f
fi
for s in $SUITES; do
	t=/build/tests/integration/$s
	[ -x $t ] || t=/build/tests/unit/$s
	[ -x $t ] || t="sh /stage/$s/run.sh"
	echo "@@KIQ-BEGIN $s"
	start=$(cut -d. -f1 /proc/uptime)
	$t </dev/null 2>&1
	rc=$?
	secs=$(( $(cut -d. -f1 /proc/uptime) - start ))
	if [ -n "$KIQ_LOGS" ] && [ $rc != 0 ] && [ $rc != 77 ]; then
		for f in $(find /tmp -name mvmd.log); do sed "s|^|@@KIQ-LOG $f: |" $f; done
	fi
	[ -n "$KIQ_LOGS" ] && rm -rf /tmp/* 2>/dev/null
	echo "@@KIQ-END $s rc=$rc secs=$secs"
done
echo "@@KIQ-DONE"
poweroff -f
EOF
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$WORK/initramfs.cpio.gz"

# --- boot, then count -------------------------------------------------
console=$WORK/console.log
mark=${demo:+demo}${run:+run}
if [ -n "$mark" ]; then
	echo "kvm-in-qemu: booting $(basename "$vmlinuz") under TCG for the $mark; console: $console.raw"
else
	echo "kvm-in-qemu: booting $(basename "$vmlinuz") under TCG with ${#suites[@]} suite(s); progress: tail -f $console.raw"
fi
t0=$SECONDS
set +e
# The serial port goes straight to a file, so that `tail -f` shows progress
# (made empty first: --demo follows it from its first line).
: >"$console.raw"
timeout "${KIQ_TIMEOUT:-7200}" nice -n 19 qemu-system-x86_64 -accel tcg -cpu "${KIQ_CPU:-max}" \
	-m "${KIQ_MEM:-2G}" -smp "${KIQ_SMP:-1}" -display none -monitor none -no-reboot \
	-nodefaults -serial "file:$console.raw" -kernel "$vmlinuz" -initrd "$WORK/initramfs.cpio.gz" \
	-append "console=ttyS0 quiet loglevel=3 panic=-1" </dev/null &
qpid=$!
# Without job control a background job ignores SIGINT: a ^C must still end QEMU.
trap 'kill $qpid 2>/dev/null' EXIT
trap 'exit 130' INT TERM
if [ -n "$mark" ]; then
	# The demo's (or command's) lines as the guest prints them, without
	# the markers.
	on=
	while IFS= read -r line; do
		line=${line%$'\r'}
		case $line in
		"@@KIQ-BEGIN $mark") on=1 ;;
		"@@KIQ-END $mark "*) break ;;
		*) [ -z "$on" ] || printf '%s\n' "$line" ;;
		esac
	done < <(tail -n +1 -f --pid=$qpid "$console.raw")
fi
wait $qpid
qrc=$?
trap - EXIT INT TERM
tr -d '\r' <"$console.raw" >"$console"
set -e
echo "kvm-in-qemu: QEMU ran $((SECONDS - t0))s (exit $qrc); console in $console"
[ $qrc -eq 124 ] && echo "kvm-in-qemu: QEMU killed after ${KIQ_TIMEOUT:-7200}s"

grep '^@@KIQ-INFO' "$console" | sed 's/^@@KIQ-INFO /guest cpu flags: /' || true
grep '^@@KIQ-VHOST' "$console" | sed 's/^@@KIQ-VHOST /guest vhost-vsock: /' || true
if grep -q '^@@KIQ-NOKVM' "$console" || ! grep -q '^@@KIQ-BEGIN' "$console"; then
	sed -n 's/^@@KIQ-DMESG //p' "$console"
	die "no /dev/kvm in the guest (or it never got to the suites); see $console"
fi

if [ -n "$mark" ]; then
	end=$(grep -m1 "^@@KIQ-END $mark " "$console" || true)
	[ -n "$end" ] || die "the $mark never finished in the guest; see $console"
	exit "$(sed -E 's/.* rc=([0-9]+).*/\1/' <<<"$end")"
fi

passed=0 failed=0 skipped=0
for s in "${suites[@]}"; do
	log=$LOGDIR/$s.log
	awk -v s="$s" '$0 == "@@KIQ-BEGIN " s { on = 1; next } on && index($0, "@@KIQ-END " s " ") == 1 { exit } on' \
		"$console" >"$log"
	end=$(grep -m1 "^@@KIQ-END $s " "$console" || true)
	p=0 f=0 k=0 rc=-1 secs=?
	if [ -n "$end" ]; then
		rc=$(sed -E 's/.* rc=([0-9]+).*/\1/' <<<"$end")
		secs=$(sed -E 's/.* secs=([0-9]+).*/\1/' <<<"$end")
	fi
	echo "==== $s ===="
	cat "$log"
	if line=$(grep -E '^mvmt: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$log" | tail -n1) && [ -n "$line" ]; then
		p=$(sed -E 's/^mvmt: ([0-9]+) passed.*/\1/' <<<"$line")
		f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
		k=$(sed -E 's/.* ([0-9]+) skipped$/\1/' <<<"$line")
	elif line=$(grep -E '^[0-9]+%: Checks: [0-9]+' "$log" | tail -n1) && [ -n "$line" ]; then
		n=$(sed -E 's/.*Checks: ([0-9]+).*/\1/' <<<"$line")
		fl=$(sed -E 's/.*Failures: ([0-9]+).*/\1/' <<<"$line")
		er=$(sed -E 's/.*Errors: ([0-9]+).*/\1/' <<<"$line")
		f=$((fl + er)); p=$((n - f))
		k=$(grep -c '^SKIP:' "$log" || true); p=$((p - k)); [ $p -lt 0 ] && p=0
	elif [ "$rc" = 77 ]; then
		k=1
	elif [ "$rc" = 0 ]; then
		p=1
	fi
	[ "$rc" != 0 ] && [ "$rc" != 77 ] && [ $f -eq 0 ] && f=1
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + k))
	verdict=ok; [ "$rc" = 77 ] && verdict=SKIP; [ $f -gt 0 ] && verdict=FAIL
	[ -n "$end" ] || verdict="FAIL (never finished)"
	printf '%s %s: %d passed %d failed %d skipped, %ss in the guest\n' "$verdict" "$s" $p $f $k "$secs"
done
echo "$passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
