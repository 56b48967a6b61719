#!/bin/bash
# mvmd's structured log entries read back from the real systemd-journald.
# No systemd runs as PID 1 here, so the suite runs itself again in a
# private mount namespace (unshare -m) with a tmpfs on /run, where
# /lib/systemd/systemd-journald makes its sockets (/run/systemd/journal)
# and its volatile journal (/run/log/journal) without touching the host's.
# mvmd's stderr is a file whose dev:ino $JOURNAL_STREAM names, as systemd
# sets it for a unit whose output goes to the journal, so mvmd sends its
# entries about VMs with sd_journal_send; `journalctl -D ... VM_ID=<id>`
# must then show the VM's ends (a stop, a killed cloud-hypervisor) and its
# re-adoption, with the documented fields (docs/operating.md, "Logs").
# With $JOURNAL_STREAM naming another file the same lines go to stderr.
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
src=$PWD
journald=/lib/systemd/systemd-journald
fake_ch=$src/$BUILD/tests/doubles/fake-cloud-hypervisor

if [ -z "${MVM_JOURNALD_INNER:-}" ]; then
	for t in unshare journalctl jq; do
		command -v $t >/dev/null || { echo "SKIP: $t not installed"; exit 77; }
	done
	[ -x "$journald" ] || { echo "SKIP: $journald missing (package systemd)"; exit 77; }
	[ "$(id -u)" = 0 ] || { echo "SKIP: not root: a private mount namespace for journald needs root"; exit 77; }
	MVM_JOURNALD_INNER=1 exec unshare -m --propagation private "$0" "$@"
fi

pass=0 fail=0
ok() { echo "ok: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
check() { if "$@"; then ok "$*"; else bad "$*"; fi; }
quiet() { "$@" >/dev/null; }
finish() { echo "journald: $pass passed, $fail failed"; [ $fail -eq 0 ]; exit; }
# shellcheck source=tests/lib/mvmd-lifecycle.sh
. tests/lib/mvmd-lifecycle.sh

tmp=$(mktemp -d /tmp/mvm-jd.XXXXXX)
jd_pid= ch_pid=
cleanup() {
	lc_stop
	[ -n "$ch_pid" ] && { pkill -P "$ch_pid"; kill "$ch_pid"; } 2>/dev/null
	[ -n "$jd_pid" ] && { kill "$jd_pid"; wait "$jd_pid"; } 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
for f in "$fake_ch" "$BUILD/bin/mvmd" "$BUILD/bin/mvmctl"; do
	[ -x "$f" ] || { bad "$f is missing (make builds it)"; finish; }
done

mount -t tmpfs -o mode=0755 tmpfs /run || { bad "cannot mount a tmpfs on /run in the private namespace"; finish; }
"$journald" >"$tmp/journald.log" 2>&1 &
jd_pid=$!
for _ in $(seq 1 300); do [ -S /run/systemd/journal/socket ] && break; sleep 0.1; done
[ -S /run/systemd/journal/socket ] || { bad "journald made no socket:"; sed 's/^/  /' "$tmp/journald.log"; finish; }
ok "systemd-journald $jd_pid on a private /run"
jdir=/run/log/journal
# entries ID: the JSON entries with VM_ID=ID, one per line.
entries() { journalctl -D "$jdir" --no-pager -o json "VM_ID=$1" 2>/dev/null; }
# wait_entry ID JQ-FILTER: until an entry of ID passes the filter (journald
# writes asynchronously to the file journalctl reads).
wait_entry() {
	local _
	for _ in $(seq 1 100); do
		entries "$1" | jq -s -e "map(select($2)) | length > 0" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "no entry of $1 with $2 in:"; entries "$1" | sed 's/^/  /'
	return 1
}

echo "not a kernel: the double only checks it is readable" >"$tmp/vmlinuz"
: >"$tmp/fake-kvm"
mkdir -p "$tmp/mvmd"
: >"$tmp/mvmd/mvmd.log"   # lc_start truncates it: same inode, the stream below
stream=$(stat -c '%d:%i' "$tmp/mvmd/mvmd.log")
flags=(--ch-binary "$fake_ch" --kvm-device "$tmp/fake-kvm" --kvm-pool 0)
spec="{\"name\":\"jd-ch\",\"backend\":\"ch\",\"memory_mib\":64,\"kernel\":\"$tmp/vmlinuz\"}"

# --- $JOURNAL_STREAM that is not stderr: plain lines on stderr ---------------
: >"$tmp/other"
if lc_start "$tmp/mvmd" "$src/$BUILD/bin/mvmd" "$src/$BUILD/bin/mvmctl" \
	env JOURNAL_STREAM="$(stat -c '%d:%i' "$tmp/other")" -- "${flags[@]}"; then
	id0=$(lc_call compute.vm.create "${spec/jd-ch/jd-plain}" | lc_field id)
	check quiet lc_call compute.vm.start "{\"id\":\"$id0\"}"
	check quiet lc_call compute.vm.stop "{\"id\":\"$id0\"}"
	lc_stop
	check grep -q "^<6>vm $id0 \"jd-plain\": Stopping -> Stopped: stopped (power button)$" "$tmp/mvmd/mvmd.log"
	check test -z "$(entries "$id0")"
else
	bad "mvmd did not start"
fi

# --- stderr is the journal stream: structured entries -----------------------
lc_start "$tmp/mvmd" "$src/$BUILD/bin/mvmd" "$src/$BUILD/bin/mvmctl" env JOURNAL_STREAM="$stream" -- \
	"${flags[@]}" || { bad "mvmd did not start"; finish; }
id=$(lc_call compute.vm.create "$spec" | lc_field id)
check test -n "$id"
check quiet lc_call compute.vm.start "{\"id\":\"$id\"}"
check quiet lc_call compute.vm.stop "{\"id\":\"$id\"}"
check wait_entry "$id" '.VM_STATE == "Configured" and (.MESSAGE | test("created"))'
check wait_entry "$id" '.VM_STATE == "Stopping" and (.MESSAGE | test(": stopping$"))'
check wait_entry "$id" '.VM_STATE == "Stopped" and .VM_FROM_STATE == "Stopping" and .VM_NAME == "jd-ch" and
	.VM_BACKEND == "ch" and .PRIORITY == "6" and .SYSLOG_IDENTIFIER == "mvmd" and
	.VM_CAUSE == "stopped (power button)" and (.MESSAGE | test("-> Stopped: stopped"))'
# ... and not on stderr as well.
check test -z "$(grep "$id" "$tmp/mvmd/mvmd.log")"
check grep -q "listening on" "$tmp/mvmd/mvmd.log"

# A cloud-hypervisor killed under a running VM: Failed, worker_lost.
check quiet lc_call compute.vm.start "{\"id\":\"$id\"}"
ch_pid=$(lc_call compute.vm.status "{\"id\":\"$id\"}" | jq -r '.pid // empty')
check test -n "$ch_pid"
kill -KILL "$ch_pid"
check wait_entry "$id" '.VM_STATE == "Failed" and .VM_CAUSE_CLASS == "worker_lost" and .PRIORITY == "4" and
	(.VM_CAUSE | test("killed by signal 9"))'
ch_pid=

# A worker re-adopted by the next mvmd.
check quiet lc_call compute.vm.start "{\"id\":\"$id\"}"
ch_pid=$(lc_call compute.vm.status "{\"id\":\"$id\"}" | jq -r '.pid // empty')
lc_stop
lc_start "$tmp/mvmd" "$src/$BUILD/bin/mvmd" "$src/$BUILD/bin/mvmctl" env JOURNAL_STREAM="$stream" -- \
	"${flags[@]}" || { bad "mvmd did not start again"; finish; }
check wait_entry "$id" ".VM_PID == \"$ch_pid\" and .VM_STATE == \"Running\" and (.MESSAGE | test(\"re-adopted\"))"
check quiet lc_call compute.vm.stop "{\"id\":\"$id\"}"
check wait_entry "$id" '.VM_STATE == "Stopped" and .VM_FROM_STATE == "Stopping"'
check quiet lc_call compute.vm.remove "{\"id\":\"$id\"}"
check wait_entry "$id" '.MESSAGE | test("removed$")'
ch_pid=
echo "journalctl -D $jdir VM_ID=$id:"
journalctl -D "$jdir" --no-pager -o short-monotonic "VM_ID=$id" | sed 's/^/  /'
finish
