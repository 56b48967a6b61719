#!/bin/bash
# A short chaos campaign in `make check` (tests/chaos, docs/hacking.md "The
# chaos campaign"). First the checker's own test: `mvm-chaos --self-test`
# breaks promises on purpose (a torn state.json, a lost VM, a leaked temp
# file, an orphan cloud-hypervisor) and must report every one, or this
# suite fails: a checker that cannot fail proves nothing. Then CHAOS_ITER
# kill -9 restarts (default 50) under a fresh seed, printed first so a
# failure can be replayed with `SEED=<seed> ITER=<n> make chaos`; the
# driver prints the closing "chaos: N passed, M failed" line (one per
# iteration). Without /dev/kvm it runs all the same: ch VMs on the
# cloud-hypervisor double carry the processes (docs/hacking.md).
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
export MVM_BUILD_DIR=${MVM_BUILD_DIR:-$PWD/$BUILD}
if ! "$BUILD/tests/chaos/mvm-chaos" --self-test --iter 20; then
	echo "chaos: the self-test's planted defects were not all reported: the checker is broken"
	exit 1
fi
exec "$BUILD/tests/chaos/mvm-chaos" --iter "${CHAOS_ITER:-50}"
