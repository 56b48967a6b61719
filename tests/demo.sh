#!/bin/bash
# make demo: start mvmd on temporary local paths and drive a VM lifecycle,
# then a Wasm workload by hash (docs/workloads.md), then two actors
# talking through an interface (docs/actors.md),
# through its real JSON-RPC socket, printing every request and response.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
MVMD="$PWD/$BUILD/bin/mvmd"

dir=$(mktemp -d /tmp/mvmd-demo-XXXXXX)
sock="$dir/run/rpc.sock"
cleanup() {
	[ -n "${rpc_pid:-}" ] && kill "$rpc_pid" 2>/dev/null || true
	[ -n "${daemon:-}" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT

bold=$(tput bold 2>/dev/null || true)
norm=$(tput sgr0 2>/dev/null || true)

echo "${bold}# starting mvmd on $dir${norm}"
"$MVMD" --rpc-socket "$sock" --state-dir "$dir/state" --console-dir "$dir/run/console" \
	--log-level info 2>"$dir/mvmd.log" &
daemon=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
[ -S "$sock" ] || { echo "mvmd did not start:"; cat "$dir/mvmd.log"; exit 1; }

# One connection for the whole session, as an orchestrator would hold.
coproc RPC { socat - UNIX-CONNECT:"$sock"; }
rpc_pid=$RPC_PID
id=0
call() { # method [params-json]
	id=$((id + 1))
	local req
	if [ $# -gt 1 ]; then
		req="{\"jsonrpc\":\"2.0\",\"id\":$id,\"method\":\"$1\",\"params\":$2}"
	else
		req="{\"jsonrpc\":\"2.0\",\"id\":$id,\"method\":\"$1\"}"
	fi
	echo
	echo "${bold}-> $req${norm}"
	echo "$req" >&"${RPC[1]}"
	IFS= read -r -t 10 resp <&"${RPC[0]}"
	echo "<- $resp"
	last=$resp
}

call compute.node.info
call compute.vm.create '{"name":"demo-1","memory_mib":16,"vcpus":1,"labels":{"app":"demo"}}'
vm=$(sed -E 's/.*"result":\{"id":"([0-9a-f-]{36})".*/\1/' <<<"$last")
call compute.vm.list '{"labels":{"app":"demo"}}'

if grep -q '"kvm":{"usable":true' <<<"$(echo '{"jsonrpc":"2.0","id":0,"method":"compute.node.info"}' | socat - UNIX-CONNECT:"$sock")"; then
	call compute.vm.start '{"id":"demo-1"}'
	call compute.vm.console.endpoint '{"id":"demo-1"}'
	console=$(sed -E 's/.*"path":"([^"]+)".*/\1/' <<<"$last")
	echo
	echo "${bold}# the guest's console (socat UNIX-CONNECT:$console), typing a line into it${norm}"
	{ sleep 0.3; echo "hello, guest"; sleep 0.5; } | socat -t1 - UNIX-CONNECT:"$console" | sed 's/^/   console| /'
	call compute.vm.logs '{"id":"demo-1"}'
	call compute.vm.stop '{"id":"demo-1"}'
else
	echo
	echo "${bold}# /dev/kvm is not usable here: the VM cannot be started (see compute.node.info)${norm}"
	call compute.vm.start '{"id":"demo-1"}'
fi
call compute.vm.create '{"name":"demo-1","memory_mib":16}'
call compute.vm.create '{"name":"../escape","memory_mib":16}'
call compute.vm.events.tail '{"id":"demo-1"}'
call compute.vm.remove '{"id":"demo-1"}'
call compute.vm.status '{"id":"demo-1"}'

# A Wasm workload by content hash: push the module once, run it in a
# micro-VM by its hash, read its output and exit code, clean up.
wasm="$PWD/$BUILD/wasm-programs/wl-hello.wasm"
if grep -q '"kvm":{"usable":true' <<<"$(echo '{"jsonrpc":"2.0","id":0,"method":"compute.node.info"}' | socat - UNIX-CONNECT:"$sock")" &&
	[ -f "$wasm" ]; then
	echo
	echo "${bold}# a Wasm workload: $wasm (tests/workloads/hello.c)${norm}"
	call compute.blob.put "{\"path\":\"$wasm\"}"
	hash=$(sed -E 's/.*"hash":"(sha256:[0-9a-f]{64})".*/\1/' <<<"$last")
	call compute.vm.create "{\"name\":\"hello-wasm\",\"memory_mib\":16,\"workload\":{\"hash\":\"$hash\",\"args\":[\"hello\",\"from\",\"the demo\"],\"env\":{\"GREETING\":\"hi\"},\"capabilities\":[\"stdout\",\"args\",\"env\"],\"timeout_ms\":5000}}"
	call compute.vm.start '{"id":"hello-wasm"}'
	for _ in $(seq 100); do
		st=$(echo '{"jsonrpc":"2.0","id":0,"method":"compute.vm.status","params":{"id":"hello-wasm"}}' | socat - UNIX-CONNECT:"$sock")
		grep -qE '"state":"(Stopped|Failed)"' <<<"$st" && break
		sleep 0.05
	done
	call compute.vm.status '{"id":"hello-wasm"}'
	echo "   state: $(sed -E 's/.*"state":"([A-Za-z]+)".*/\1/' <<<"$last"), exit_code: $(sed -nE 's/.*"exit_code":([0-9]+).*/\1/p' <<<"$last")"
	call compute.vm.logs '{"id":"hello-wasm"}'
	echo "${bold}# its output:${norm}"
	sed -E 's/.*"data":"(([^"\\]|\\.)*)".*/\1/' <<<"$last" | sed 's/\\n/\n/g' | sed '/^$/d; s/^/   wasm| /'
	call compute.vm.remove '{"id":"hello-wasm"}'
	echo
	echo "${bold}# the same module by hash through exec, in a running micro-VM's agent${norm}"
	call compute.vm.create '{"name":"exec-demo","memory_mib":16}'
	call compute.vm.start '{"id":"exec-demo"}'
	call compute.vm.exec "{\"id\":\"exec-demo\",\"argv\":[\"$hash\",\"run\",\"by exec\"],\"env\":{\"GREETING\":\"hi\"}}"
	echo "${bold}# its stdout:${norm}"
	sed -E 's/.*"stdout":"(([^"\\]|\\.)*)".*/\1/' <<<"$last" | sed 's/\\n/\n/g' | sed '/^$/d; s/^/   exec| /'
	call compute.vm.stop '{"id":"exec-demo"}'
	call compute.vm.remove '{"id":"exec-demo"}'
	call compute.blob.remove "{\"hash\":\"$hash\"}"
fi

# Actors (docs/actors.md): a key-value actor handles an interface named
# by hash, a client actor is granted to send to it; both keep their state
# between messages, driven with compute.vm.send.
actor="$PWD/$BUILD/wasm-programs/wl-actor.wasm"
if grep -q '"kvm":{"usable":true' <<<"$(echo '{"jsonrpc":"2.0","id":0,"method":"compute.node.info"}' | socat - UNIX-CONNECT:"$sock")" &&
	[ -f "$actor" ]; then
	echo
	echo "${bold}# actors: $actor (tests/workloads/actor.c)${norm}"
	iface="sha256:$(printf 'kv 1: "put K V" answers "ok", "get K" answers V' | sha256sum | cut -d' ' -f1)"
	call compute.blob.put "{\"path\":\"$actor\"}"
	ahash=$(sed -E 's/.*"hash":"(sha256:[0-9a-f]{64})".*/\1/' <<<"$last")
	call compute.vm.create "{\"name\":\"kv\",\"memory_mib\":16,\"workload\":{\"hash\":\"$ahash\",\"capabilities\":[\"stdout\"],\"handles\":[\"$iface\"]}}"
	call compute.vm.create "{\"name\":\"kv-client\",\"memory_mib\":16,\"workload\":{\"hash\":\"$ahash\",\"capabilities\":[\"stdout\",\"send:$iface\"]}}"
	call compute.vm.start '{"id":"kv"}'
	call compute.vm.start '{"id":"kv-client"}'
	call compute.vm.send '{"id":"kv","data":"put colour blue","timeout_ms":8000}'
	call compute.vm.send "{\"id\":\"kv-client\",\"data\":\"send $iface get colour\",\"timeout_ms\":8000}"
	call compute.vm.send "{\"id\":\"kv-client\",\"data\":\"send $iface put visits 1\",\"timeout_ms\":8000}"
	call compute.vm.send '{"id":"kv","data":"get visits","timeout_ms":8000}'
	call compute.vm.send '{"id":"kv","data":"stats","timeout_ms":8000}'
	call compute.interface.list
	call compute.vm.stop '{"id":"kv-client"}'
	call compute.vm.stop '{"id":"kv"}'
	call compute.vm.remove '{"id":"kv-client"}'
	call compute.vm.remove '{"id":"kv"}'
	call compute.blob.remove "{\"hash\":\"$ahash\"}"
fi

# A node that does not have the module: a local OCI registry (Debian's
# docker-registry) serves it, and a second mvmd configured with it as a
# blob source pulls it when a VM is created (docs/blobs.md).
wasm="$PWD/$BUILD/wasm-programs/wl-hello.wasm"
if command -v docker-registry >/dev/null && command -v curl >/dev/null && [ -f "$wasm" ] &&
	[ -x "$PWD/$BUILD/bin/mvm-fetch" ]; then
	# shellcheck source=tests/lib/registry.sh
	. "$(dirname "$0")/lib/registry.sh"
	echo
	echo "${bold}# a node without the module: it is pulled from a local OCI registry${norm}"
	if reg_start "$dir/registry" && reg_push_blob "$REG_URL" demo/wasm "$wasm"; then
		echo "   registry on $REG_URL, module pushed as demo/wasm blob $(sha256sum "$wasm" | cut -d' ' -f1)"
		sock_b="$dir/node-b/rpc.sock"
		# node B's calls, one connection each (call's coprocess talks to the first mvmd)
		callb() {
			id=$((id + 1))
			local req="{\"jsonrpc\":\"2.0\",\"id\":$id,\"method\":\"$1\",\"params\":$2}"
			echo
			echo "${bold}B-> $req${norm}"
			last=$(echo "$req" | socat -t10 - UNIX-CONNECT:"$sock_b")
			echo "<-B $last"
		}
		"$MVMD" --rpc-socket "$sock_b" --state-dir "$dir/node-b/state" --console-dir "$dir/node-b/console" \
			--blob-source "local=$REG_URL/demo/wasm" --log-level info 2>"$dir/node-b.log" &
		node_b=$!
		for _ in $(seq 100); do [ -S "$sock_b" ] && break; sleep 0.05; done
		hash=sha256:$(sha256sum "$wasm" | cut -d' ' -f1)
		callb compute.blob.stat "{\"hash\":\"$hash\"}"
		callb compute.vm.create "{\"name\":\"pulled\",\"memory_mib\":16,\"workload\":{\"hash\":\"$hash\",\"args\":[\"hello\",\"from\",\"a registry\"],\"capabilities\":[\"stdout\",\"args\"],\"timeout_ms\":5000}}"
		for _ in $(seq 200); do
			st=$(echo '{"jsonrpc":"2.0","id":0,"method":"compute.vm.status","params":{"id":"pulled"}}' | socat - UNIX-CONNECT:"$sock_b")
			grep -qE '"state":"(Configured|Failed)"' <<<"$st" && break
			sleep 0.05
		done
		callb compute.vm.status '{"id":"pulled"}'
		echo "   state: $(sed -E 's/.*"state":"([A-Za-z]+)".*/\1/' <<<"$last") ($(sed -E 's/.*"cause":"([^"]*)".*/\1/' <<<"$last"))"
		if grep -q '"kvm":{"usable":true' <<<"$(echo '{"jsonrpc":"2.0","id":0,"method":"compute.node.info"}' | socat - UNIX-CONNECT:"$sock_b")"; then
			callb compute.vm.start '{"id":"pulled"}'
			for _ in $(seq 100); do
				st=$(echo '{"jsonrpc":"2.0","id":0,"method":"compute.vm.status","params":{"id":"pulled"}}' | socat - UNIX-CONNECT:"$sock_b")
				grep -qE '"state":"(Stopped|Failed)"' <<<"$st" && break
				sleep 0.05
			done
			callb compute.vm.logs '{"id":"pulled"}'
			echo "${bold}# its output:${norm}"
			sed -E 's/.*"data":"(([^"\\]|\\.)*)".*/\1/' <<<"$last" | sed 's/\\n/\n/g' | sed '/^$/d; s/^/   wasm| /'
		fi
		callb compute.vm.remove '{"id":"pulled"}'
		kill "$node_b" 2>/dev/null || true
		wait "$node_b" 2>/dev/null || true
	else
		echo "   (no local registry could be started: skipped)"
	fi
	reg_stop "${REG_PID:-}"
fi

echo
echo "${bold}# mvmd log${norm}"
cat "$dir/mvmd.log"
