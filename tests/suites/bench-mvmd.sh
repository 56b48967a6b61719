#!/bin/bash
# bench/lib/mvmd.sh, the way the KVM benchmarks start mvmd: a script
# under set -eu that started it exits with its own status, and its exit
# ends mvmd and removes the temp dir, also when mvmd has no worker for
# the trap's pkill to find. Against a stand-in mvmd (a process holding
# the socket), since the benchmarks need /dev/kvm.
set -u
cd "$(dirname "$0")/../.."
passed=0 failed=0
ok() { echo "ok - $1"; passed=$((passed + 1)); }
fail() { echo "FAIL - $1"; failed=$((failed + 1)); }
command -v python3 >/dev/null || { echo "SKIP: python3 is needed for the stand-in mvmd"; exit 77; }

t=$(mktemp -d /tmp/bench-mvmd-test-XXXXXX)
trap 'rm -rf "$t"' EXIT
mkdir -p "$t/build/bin"
cat >"$t/build/bin/mvmd" <<'FAKE'
#!/bin/bash
# Binds the --rpc-socket path and waits to be killed.
while [ $# -gt 0 ]; do [ "$1" = --rpc-socket ] && sock=$2; shift; done
exec python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
time.sleep(600)' "$sock"
FAKE
chmod +x "$t/build/bin/mvmd"

for status in 0 3; do
	BUILD=$t/build bash -c 'set -eu
		. bench/lib/mvmd.sh
		bench_mvmd_start --log-level debug
		[ -S "$dir/rpc.sock" ]
		echo "$pid $dir" >"$1/started"
		exit $2' _ "$t" "$status"
	rc=$?
	read -r pid dir <"$t/started"
	[ "$rc" = "$status" ] && ok "the script's own status ($status) is its exit status" ||
		fail "exit status $rc, not $status"
	gone=
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || { gone=1; break; }; sleep 0.05; done
	[ -n "$gone" ] && ok "mvmd ended with the script (status $status)" || { fail "mvmd $pid still runs"; kill "$pid"; }
	[ ! -e "$dir" ] && ok "its temp dir is removed (status $status)" || { fail "$dir is left"; rm -rf "$dir"; }
	rm -f "$t/started"
done
echo "$passed passed, $failed failed, 0 skipped"
[ "$failed" = 0 ]
