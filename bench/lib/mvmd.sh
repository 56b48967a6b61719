# SPDX-License-Identifier: Apache-2.0
# Sourced by the KVM benchmarks that drive a real mvmd (bench/exec.sh,
# kvm-rpc.sh, workload.sh), from the tree's root with $BUILD set.
#
# bench_mvmd_start [ARG...]: $BUILD/bin/mvmd on a new temp dir ($dir)
# with ARG... added, its pid in $pid, once its socket ($dir/rpc.sock)
# is there. On exit the VMs' workers are killed first (they outlive
# mvmd by design: a run that fails midway must not leave them behind),
# then mvmd, and $dir is removed. The trap runs without set -e: under
# it, the first command that fails there (pkill finding no worker, the
# wait for a killed mvmd) would end the trap early, leave mvmd running
# and become the script's exit status.
bench_mvmd_start() {
	dir=$(mktemp -d /tmp/mvmd-bench-XXXXXX)
	trap 'set +e; pkill -KILL -P $pid mvm-vmm 2>/dev/null; kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
	"$BUILD/bin/mvmd" --rpc-socket "$dir/rpc.sock" --state-dir "$dir/state" --console-dir "$dir/console" \
		--log-level warning "$@" 2>"$dir/mvmd.log" &
	pid=$!
	for _ in $(seq 100); do [ -S "$dir/rpc.sock" ] && break; sleep 0.05; done
}
