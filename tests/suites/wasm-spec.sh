#!/bin/bash
# The official WebAssembly spec test suite (JSON form in shared/wasm-spec)
# against lib/wasm. The runner prints its own closing line.
set -u
runner="${MVM_BUILD_DIR:-build}/tests/wasm-spec-runner"
dir="${WASM_SPEC_DIR:-${MVM_SRC_DIR:-.}/../shared/wasm-spec}"
if [ ! -d "$dir" ]; then
	echo "SKIP: wasm spec suite not found at $dir"
	exit 77
fi
if [ ! -x "$runner" ]; then
	echo "runner $runner not built"
	exit 1
fi
exec "$runner" "$dir"
