#!/bin/bash
# mvmd.service's hardening, proven to let mvmd work. No systemd runs as
# PID 1 here, so this suite reads the sandboxing directives FROM
# packaging/mvmd.service and has build/tests/doubles/fake-systemd-exec
# apply them as systemd would (capability bounding set, no_new_privs,
# the SystemCallFilter= allow-list with its @groups expanded by
# systemd-analyze, RestrictAddressFamilies=, MemoryDenyWriteExecute=,
# RestrictNamespaces=, UMask=, PrivateNetwork=, PrivateTmp=,
# ProtectHome=, ProtectSystem=strict with ReadWritePaths=, ProtectProc=,
# ProcSubset=), then runs mvmd through VM lifecycles under them: a
# directive that breaks mvmd fails here. A directive this suite neither
# applies nor knows to be out of its reach fails too, so the two cannot
# drift. It also checks the worker's own seccomp allow-list
# (daemon/vmm/seccomp-policy.c) fits inside the unit's, since the worker
# runs under both, and that systemd-analyze security rates the unit OK.
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
src=$PWD
unit=packaging/mvmd.service
wrap=$src/$BUILD/tests/doubles/fake-systemd-exec
fake_ch=$src/$BUILD/tests/doubles/fake-cloud-hypervisor
for t in systemd-analyze perl; do
	command -v $t >/dev/null || { echo "SKIP: $t not installed"; exit 77; }
done
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: not root: applying the unit's sandbox needs root, as systemd does"
	exit 77
fi
# shellcheck source=tests/lib/mvmd-lifecycle.sh
. tests/lib/mvmd-lifecycle.sh
# Under SANITIZE=1 the sandboxed programs carry ASan and UBSan, but
# LeakSanitizer's exit-time scan needs ptrace(2), which the unit rightly
# denies: leaks are checked by every other suite.
[ "${SANITIZE:-}" = 1 ] && export ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0"

pass=0 fail=0 skip=0
ok() { echo "ok: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
check() { if "$@"; then ok "$*"; else bad "$*"; fi; }
finish() { echo "unit-sandbox: $pass passed, $fail failed, $skip skipped"; [ $fail -eq 0 ]; exit; }
for f in "$wrap" "$fake_ch" "$BUILD/bin/mvmd" "$BUILD/bin/mvmctl"; do
	[ -x "$f" ] || { bad "$f is missing (make builds it)"; finish; }
done
# Outside /tmp (the sandbox gives mvmd a private, empty one), and short:
# a VM's socket paths under it must fit sun_path.
tmp=$(mktemp -d /run/mvmd-sb.XXXXXX)
trap 'lc_stop; rm -rf "$tmp"' EXIT

# --- the unit's [Service] directives --------------------------------------
values() { sed -n "s/^$1=//p" "$unit"; }
one() { values "$1" | tail -n1; }

# Directives this suite applies, and those out of its reach (the daemon's
# lifecycle, resource limits and kernel-side protections systemd alone
# sets up), each with the test that covers it instead.
applied="NoNewPrivileges CapabilityBoundingSet SystemCallFilter SystemCallErrorNumber
RestrictAddressFamilies MemoryDenyWriteExecute RestrictNamespaces UMask PrivateNetwork
PrivateTmp ProtectHome ProtectSystem ReadWritePaths ProtectProc ProcSubset PrivateMounts
SystemCallArchitectures LimitNOFILE"
elsewhere="Type NotifyAccess EnvironmentFile ExecStart Restart RestartSec WatchdogSec
TimeoutStopSec KillMode StateDirectory StateDirectoryMode RuntimeDirectory
RuntimeDirectoryMode RuntimeDirectoryPreserve DeviceAllow DevicePolicy IPAddressDeny
ProtectKernelTunables ProtectKernelModules ProtectKernelLogs ProtectControlGroups
ProtectClock ProtectHostname RestrictRealtime RestrictSUIDSGID LockPersonality TasksMax"
unknown=
for d in $(sed -n '/^\[Service\]/,/^\[/{s/^\([A-Za-z]*\)=.*/\1/p}' "$unit" | sort -u); do
	grep -qw "$d" <<<"$applied $elsewhere" || unknown="$unknown $d"
done
check test -z "$unknown"
[ -z "$unknown" ] || echo "directives neither applied here nor listed as out of reach:$unknown"

# SystemCallFilter=: an allow-list (the first line is not ~), later ~ lines
# take away, later plain lines add back; @groups expand recursively.
expand() {
	local item
	for item in "$@"; do
		case $item in
		@*)
			# shellcheck disable=SC2046 # one syscall or @group per word
			expand $(systemd-analyze syscall-filter --no-pager "$item" | sed -n 's/^ \+\([@a-z0-9_-]\+\)$/\1/p') ;;
		*) echo "$item" ;;
		esac
	done
}
first=1 allowed=
while read -r line; do
	[ -n "$line" ] || continue
	if [ "${line#\~}" != "$line" ]; then
		[ $first = 1 ] && { bad "SystemCallFilter= deny-list mode is not emulated"; finish; }
		deny=$(expand ${line#\~} | sort -u)
		allowed=$(comm -23 <(echo "$allowed") <(echo "$deny"))
	else
		allowed=$(printf '%s\n%s\n' "$allowed" "$(expand $line)" | sed '/^$/d' | sort -u)
	fi
	first=0
done < <(values SystemCallFilter)
# What systemd always allows in allow-list mode, so exec and exit work.
allowed=$(printf '%s\nexecve\nexit\nexit_group\ngetrlimit\nrt_sigreturn\nsigreturn\n' "$allowed" | sort -u)
check test "$(wc -l <<<"$allowed")" -gt 100

# The worker installs its own filter on top of the unit's: every syscall
# it allows must pass the unit's too, or it would get EPERM mid-VM.
policy=$(grep -v '^#define' daemon/vmm/seccomp-policy.c | grep -oE '(ALLOW(_ARG)?\(|SYS_)[a-z0-9_]+' | sed -E 's/^(ALLOW(_ARG)?\(|SYS_)//' | sort -u)
check test "$(wc -l <<<"$policy")" -gt 30
missing=$(comm -23 <(echo "$policy") <(echo "$allowed"))
[ -z "$missing" ] || echo "the worker's policy allows what the unit denies: $missing"
check test -z "$missing"
for s in seccomp capset prctl setrlimit prlimit64; do
	check grep -qx "$s" <<<"$allowed"   # the worker's own sandboxing steps
done

errno_name=$(one SystemCallErrorNumber)
errno_nr=
[ -n "$errno_name" ] && errno_nr=$(perl -MPOSIX -e "print POSIX::$errno_name()")
families=
for f in $(one RestrictAddressFamilies); do
	case $f in
	AF_UNIX) families="$families 1" ;;
	AF_INET) families="$families 2" ;;
	AF_INET6) families="$families 10" ;;
	AF_NETLINK) families="$families 16" ;;
	AF_PACKET) families="$families 17" ;;
	AF_VSOCK) families="$families 40" ;;
	*) bad "RestrictAddressFamilies=$f: unknown to this suite"; finish ;;
	esac
done
proc_opts=
[ "$(one ProtectProc)" != "" ] && [ "$(one ProtectProc)" != default ] && proc_opts="hidepid=$(one ProtectProc)"
[ "$(one ProcSubset)" = pid ] && proc_opts="${proc_opts:+$proc_opts,}subset=pid"
yes() { [ "$(one "$1")" = yes ] || [ "$(one "$1")" = true ]; }

sandbox=("$wrap")
yes NoNewPrivileges && sandbox+=(--no-new-privs)
[ -n "$(one CapabilityBoundingSet)" ] && sandbox+=(--caps "$(one CapabilityBoundingSet)")
[ -n "$allowed" ] && sandbox+=(--syscalls "$allowed")
[ -n "$errno_nr" ] && sandbox+=(--errno "$errno_nr")
[ -n "$families" ] && sandbox+=(--families "$families")
yes MemoryDenyWriteExecute && sandbox+=(--mdwe)
yes RestrictNamespaces && sandbox+=(--restrict-namespaces)
[ -n "$(one UMask)" ] && sandbox+=(--umask "$(one UMask)")
yes PrivateNetwork && sandbox+=(--private-network)
yes PrivateTmp && sandbox+=(--private-tmp)
yes ProtectHome && sandbox+=(--protect-home)
[ -n "$proc_opts" ] && sandbox+=(--proc-options "$proc_opts")
# ReadWritePaths= names the installed paths; this run's stand in for them.
[ "$(one ProtectSystem)" = strict ] && sandbox+=(--read-only-root --rw "$tmp")
limit=$(one LimitNOFILE)
echo "sandbox: ${sandbox[*]//$'\n'/ } (LimitNOFILE=$limit)"

# --- the wrapper enforces what it is given (so a pass below means something)
# LimitNOFILE=: systemd raises the hard limit, up to fs.nr_open.
ulimit -n "$limit" 2>/dev/null || echo "note: LimitNOFILE=$limit is above what this host allows; the fd limit stays $(ulimit -Hn)"
probe() { "${sandbox[@]}" -- "$@" >"$tmp/probe.out" 2>&1; }
check probe /bin/true
bits() { perl -e 'printf "%d\n", unpack("%32b*", pack("Q>", hex($ARGV[0])))' "$1"; }
ncaps=$(wc -w <<<"$(one CapabilityBoundingSet)")
probe cat /proc/self/status
check test "$(bits "$(sed -n 's/^CapBnd:\s*//p' "$tmp/probe.out")")" = "$ncaps"
check grep -qE '^NoNewPrivs:\s+1$' "$tmp/probe.out"
if probe bash -c 'echo >/dev/tcp/127.0.0.1/9'; then bad "an AF_INET socket was allowed"; else
	check grep -q "Address family not supported" "$tmp/probe.out"; fi
if probe unshare --net true; then bad "a network namespace was allowed"; else ok "no namespace"; fi
if probe touch /usr/unit-sandbox-probe; then rm -f /usr/unit-sandbox-probe; bad "/usr was writable"; else ok "/usr read-only"; fi
check probe touch "$tmp/rw-probe"
check probe sh -c 'test "$(umask)" = 0077'

# --- mvmd under the unit's sandbox ------------------------------------------
echo "not a kernel: the double only checks it is readable" >"$tmp/vmlinuz"
: >"$tmp/fake-kvm"
ch_spec="{\"name\":\"sb-ch\",\"backend\":\"ch\",\"memory_mib\":64,\"kernel\":\"$tmp/vmlinuz\"}"

# A ch VM on the cloud-hypervisor double, with consoles handed to a group
# (--socket-group: the chown the unit keeps CAP_CHOWN and chown(2) for).
# Its metrics go to a textfile as the node exporter's collector reads
# them (--metrics-textfile): a writable directory the unit names, a file
# the exporter's user can read despite UMask=0077.
check grep -qx 'ReadWritePaths=-/var/lib/prometheus/node-exporter' "$unit"
mkdir -p "$tmp/textfile"
if lc_start "$tmp/ch" "$src/$BUILD/bin/mvmd" "$src/$BUILD/bin/mvmctl" "${sandbox[@]}" -- \
	--ch-binary "$fake_ch" --kvm-device "$tmp/fake-kvm" --kvm-pool 0 --socket-group nogroup \
	--metrics-textfile "$tmp/textfile/mvmd.prom" --metrics-interval-ms 200; then
	check lc_vm sb-ch "$ch_spec"
	check test "$(stat -c %G "$tmp/ch/console")" = nogroup
	check test "$(stat -c %a "$tmp/textfile/mvmd.prom")" = 644
	# Written every 200 ms: the stop shows within a few writes.
	for _ in $(seq 1 100); do
		grep -q '^mvmd_vm_transitions_total{to="Stopped"} 1$' "$tmp/textfile/mvmd.prom" && break
		sleep 0.1
	done
	check grep -q '^mvmd_vm_transitions_total{to="Stopped"} 1$' "$tmp/textfile/mvmd.prom"
	check grep -qE '^NoNewPrivs:\s+1$' "/proc/$LC_PID/status"
	check test "$(bits "$(sed -n 's/^CapEff:\s*//p' "/proc/$LC_PID/status")")" = "$ncaps"
	lc_stop
	if grep -qi "operation not permitted\|bad system call" "$tmp/ch/mvmd.log"; then
		bad "mvmd logged a denied call:"; grep -i "not permitted\|bad system call" "$tmp/ch/mvmd.log"
	fi
else
	bad "mvmd did not start under the unit's sandbox"
fi

# A kvm micro-VM, where /dev/kvm works: the worker sandboxes itself
# (capset, setrlimit, seccomp) under the unit's filter.
if [ -c /dev/kvm ] && (exec 3<>/dev/kvm) 2>/dev/null; then
	if lc_start "$tmp/kvm" "$src/$BUILD/bin/mvmd" "$src/$BUILD/bin/mvmctl" "${sandbox[@]}" -- --kvm-pool 0; then
		check lc_vm sb-kvm '{"name":"sb-kvm","memory_mib":16}'
		lc_stop
	else
		bad "mvmd did not start under the unit's sandbox (kvm)"
	fi
else
	echo "SKIP: no usable /dev/kvm here: the kvm lifecycle under the unit's sandbox did not run"
	skip=$((skip + 1))
fi

# --- blob pulls: the shipped unit keeps mvm-fetch off the network; the
# drop-in docs/blobs.md prescribes (packaging/mvmd-blob-sources.conf) lets
# it reach a registry, with the rest of the unit's sandbox in place.
dropin=packaging/mvmd-blob-sources.conf
if command -v docker-registry >/dev/null && command -v curl >/dev/null; then
	# shellcheck source=tests/lib/registry.sh
	. tests/lib/registry.sh
	unknown=
	for d in $(sed -n 's/^\([A-Za-z]*\)=.*/\1/p' "$dropin" | sort -u); do
		case $d in PrivateNetwork | RestrictAddressFamilies | IPAddressAllow) ;; *) unknown="$unknown $d" ;; esac
	done
	check test -z "$unknown"   # a directive the drop-in adds that this suite would not apply
	pull_families=
	for f in $(sed -n 's/^RestrictAddressFamilies=//p' "$dropin" | tail -n1); do
		case $f in AF_UNIX) pull_families="$pull_families 1" ;; AF_INET) pull_families="$pull_families 2" ;;
		AF_INET6) pull_families="$pull_families 10" ;; AF_NETLINK) pull_families="$pull_families 16" ;; esac
	done
	pulling=()
	for ((i = 0; i < ${#sandbox[@]}; i++)); do
		case ${sandbox[i]} in
		--families) pulling+=(--families "$pull_families"); i=$((i + 1)) ;;
		--private-network) [ "$(sed -n 's/^PrivateNetwork=//p' "$dropin" | tail -n1)" = no ] || pulling+=(--private-network) ;;
		*) pulling+=("${sandbox[i]}") ;;
		esac
	done
	printf 'module bytes\n' >"$tmp/blob"
	hex=$(sha256sum "$tmp/blob" | cut -d' ' -f1)
	if reg_start "$tmp/reg" && reg_push_blob "$REG_URL" sb/blobs "$tmp/blob"; then
		for variant in unit dropin; do
			wrapper=("${sandbox[@]}")
			[ $variant = dropin ] && wrapper=("${pulling[@]}")
			if lc_start "$tmp/pull-$variant" "$src/$BUILD/bin/mvmd" "$src/$BUILD/bin/mvmctl" "${wrapper[@]}" -- \
				--kvm-device "$tmp/fake-kvm" --kvm-pool 0 --blob-source "r=$REG_URL/sb/blobs"; then
				out=$(lc_call compute.blob.pull "{\"hash\":\"sha256:$hex\"}" 2>&1)
				echo "pull under the $variant: $out"
				if [ $variant = unit ]; then
					check grep -q 'error: network' <<<"$out"
				else
					check grep -q "\"hash\":\"sha256:$hex\",.*\"source\":\"r\"" <<<"$out"
				fi
				lc_stop
			else
				bad "mvmd did not start under the $variant's sandbox with --blob-source"
			fi
		done
	else
		bad "a registry for the pull case"
	fi
	reg_stop "${REG_PID:-}"
else
	echo "SKIP: docker-registry not installed: pulls under the unit's sandbox did not run"
	skip=$((skip + 1))
fi

# --- the exposure systemd-analyze rates (docs/operating.md) ------------------
if systemd-analyze security --help 2>/dev/null | grep -q -- --offline; then
	score=$(systemd-analyze security --offline=true "$unit" 2>/dev/null |
		sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p')
	echo "systemd-analyze security: $score"
	check perl -e "exit !($score <= 2.5)"
else
	echo "SKIP: systemd-analyze security has no --offline here"
	skip=$((skip + 1))
fi
finish
