#!/bin/bash
# Density of idle micro-VMs (bench/density.c): N idle kvm VMs started
# through mvmd (the warm pool serving what it can), host memory and the
# workers' Pss per VM, mvmd's fds per VM, the seccomp filters the
# workers hold, then a staged forced stop of all of them with mvmd
# probed between stages. Never part of `make check`.
# N (1000; keep it under ~2,000 on shared machines), STAGE (100),
# POOL (mvmd's --kvm-pool, default 4), ZYGOTE (1; 0: mvmd --no-kvm-zygote,
# every worker exec'd and loading its own filter, for comparison).
# Without /dev/kvm: tests/tools/kvm-in-qemu.sh --bench density (KIQ_MEM=10G).
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
[ -w /dev/kvm ] || { echo "SKIP: /dev/kvm is missing"; exit 77; }
dir=$(mktemp -d /tmp/mvmd-density-XXXXXX)
# Workers outlive mvmd by design: a run that fails midway must not leave
# its VMs behind, so kill mvmd's children first.
trap 'pkill -KILL -P $pid mvm-vmm 2>/dev/null; kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
ulimit -n 1048576 2>/dev/null || ulimit -n 65536 2>/dev/null || true
zyg=
[ "${ZYGOTE:-1}" = 0 ] && zyg=--no-kvm-zygote
"$BUILD/bin/mvmd" --rpc-socket "$dir/rpc.sock" --state-dir "$dir/state" --console-dir "$dir/console" \
	--max-vms 20000 --max-vcpus 100000 --max-memory-mib 10000000 --kvm-pool "${POOL:-4}" $zyg \
	--log-level warning 2>"$dir/mvmd.log" &
pid=$!
for _ in $(seq 100); do [ -S "$dir/rpc.sock" ] && break; sleep 0.05; done
echo "mvmd ${zyg:-with the zygote}: N=${N:-1000} STAGE=${STAGE:-100}"
"$BUILD/bench/density" -s "$dir/rpc.sock" -p "$pid" -n "${N:-1000}" -b "${STAGE:-100}"
