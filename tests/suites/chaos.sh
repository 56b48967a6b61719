#!/bin/bash
# A short chaos campaign in `make check` (tests/chaos, docs/hacking.md "The
# chaos campaign"): CHAOS_ITER kill -9 restarts (default 50) under a fresh
# seed, printed first so a failure can be replayed with
# `SEED=<seed> ITER=<n> make chaos`. The driver prints the closing
# "chaos: N passed, M failed" line (one per iteration) and skips (77)
# where micro-VMs cannot run.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
export MVM_BUILD_DIR=${MVM_BUILD_DIR:-$PWD/$BUILD}
exec "$BUILD/tests/chaos/mvm-chaos" --iter "${CHAOS_ITER:-50}"
