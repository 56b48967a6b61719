# shellcheck shell=bash
# Shell helpers for suites that drive an mvmd binary through VM lifecycles
# with mvmctl (sourced by tests/suites/deb.sh and unit-sandbox.sh).
#
#   lc_start DIR MVMD MVMCTL [WRAPPER...] -- [MVMD FLAGS...]
#       start MVMD on DIR's temp paths (under WRAPPER if given), wait until
#       it answers; sets LC_PID, LC_SOCK, LC_CTL
#   lc_call METHOD [JSON]     one call, prints the result (mvmctl --json)
#   lc_vm NAME CREATE_JSON    create, start (Running), status, stop
#                             (Stopped), remove: 0 when every step did
#   lc_stop                   SIGTERM mvmd and wait for it
# Failures print "lc: ..." lines saying which step and why.

lc_start() {
	local dir=$1 mvmd=$2 ctl=$3; shift 3
	local wrapper=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do wrapper+=("$1"); shift; done
	[ $# -gt 0 ] && shift
	LC_SOCK=$dir/rpc.sock LC_CTL=$ctl
	mkdir -p "$dir/state" "$dir/console"
	"${wrapper[@]}" "$mvmd" --rpc-socket "$LC_SOCK" --state-dir "$dir/state" \
		--console-dir "$dir/console" "$@" >"$dir/mvmd.log" 2>&1 &
	LC_PID=$!
	local _
	for _ in $(seq 1 600); do
		if [ -S "$LC_SOCK" ] && lc_call compute.node.info >/dev/null 2>&1; then
			return 0
		fi
		if ! kill -0 "$LC_PID" 2>/dev/null; then
			echo "lc: mvmd exited before answering:"; sed 's/^/  /' "$dir/mvmd.log"
			return 1
		fi
		sleep 0.1
	done
	echo "lc: mvmd did not answer within 60 s"
	return 1
}

lc_call() {
	"$LC_CTL" --socket "$LC_SOCK" --json call "$@"
}

# The value of the first string field named $1 in one-line JSON (a VM
# object names its own state before its transitions').
lc_field() {
	grep -o "\"$1\": *\"[^\"]*\"" | head -n1 | sed 's/.*: *"\(.*\)"/\1/'
}

lc_vm() {
	local name=$1 spec=$2 out id state
	out=$(lc_call compute.vm.create "$spec") || { echo "lc: $name: create: $out"; return 1; }
	id=$(lc_field id <<<"$out")
	[ -n "$id" ] || { echo "lc: $name: create answered no id: $out"; return 1; }
	out=$(lc_call compute.vm.start "{\"id\":\"$id\"}") || { echo "lc: $name: start: $out"; return 1; }
	out=$(lc_call compute.vm.status "{\"id\":\"$id\"}") || { echo "lc: $name: status: $out"; return 1; }
	state=$(lc_field state <<<"$out")
	[ "$state" = Running ] || { echo "lc: $name: state after start is '$state': $out"; return 1; }
	out=$(lc_call compute.vm.stop "{\"id\":\"$id\"}") || { echo "lc: $name: stop: $out"; return 1; }
	state=$(lc_field state <<<"$(lc_call compute.vm.status "{\"id\":\"$id\"}")")
	[ "$state" = Stopped ] || { echo "lc: $name: state after stop is '$state'"; return 1; }
	out=$(lc_call compute.vm.remove "{\"id\":\"$id\"}") || { echo "lc: $name: remove: $out"; return 1; }
	return 0
}

lc_stop() {
	[ -n "${LC_PID:-}" ] || return 0
	kill -TERM "$LC_PID" 2>/dev/null
	wait "$LC_PID" 2>/dev/null
	LC_PID=
}
