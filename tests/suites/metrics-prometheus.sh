#!/bin/bash
# mvmd's metrics read by the real thing: mvmd writes them with
# --metrics-textfile, Debian's prometheus-node-exporter serves that
# directory with its textfile collector alone, Debian's prometheus scrapes
# the exporter every second, and the series come back through
# Prometheus's /api/v1/query after a ch VM lifecycle on the
# cloud-hypervisor double. promtool checks compute.node.metrics's text.
# Everything listens on 127.0.0.1 and every process this suite starts
# is killed at its end, whatever happens.
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
src=$PWD
fake_ch=$src/$BUILD/tests/doubles/fake-cloud-hypervisor
for t in prometheus prometheus-node-exporter promtool curl jq ss; do
	command -v $t >/dev/null || { echo "SKIP: $t not installed (packaging/build-deps lists its package)"; exit 77; }
done
# shellcheck source=tests/lib/mvmd-lifecycle.sh
. tests/lib/mvmd-lifecycle.sh

pass=0 fail=0
ok() { echo "ok: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
check() { if "$@"; then ok "$*"; else bad "$*"; fi; }
quiet() { "$@" >/dev/null; }
finish() { echo "metrics-prometheus: $pass passed, $fail failed"; [ $fail -eq 0 ]; exit; }

tmp=$(mktemp -d /tmp/mvm-prom.XXXXXX)
pids=()
ch_pid=
cleanup() {
	lc_stop
	# A VM's cloud-hypervisor outlives mvmd by design: this one is ours.
	[ -n "$ch_pid" ] && { pkill -P "$ch_pid"; kill "$ch_pid"; } 2>/dev/null
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
for f in "$fake_ch" "$BUILD/bin/mvmd" "$BUILD/bin/mvmctl"; do
	[ -x "$f" ] || { bad "$f is missing (make builds it)"; finish; }
done

# A loopback port nothing listens on now; a daemon that still loses the
# race fails to bind and is started again on another.
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 40000))
		ss -Htln "sport = :$p" | grep -q . || { echo $p; return; }
	done
}
# start_daemon NAME URL CMD...: start CMD (it gets the port as $PORT in
# its arguments through the caller), wait until URL answers.
wait_http() {
	local url=$1 pid=$2 _
	for _ in $(seq 1 300); do
		curl -sf --noproxy '*' -o /dev/null "$url" && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.2
	done
	return 1
}

# --- mvmd, writing its textfile ---------------------------------------------
mkdir -p "$tmp/textfile"
echo "not a kernel: the double only checks it is readable" >"$tmp/vmlinuz"
: >"$tmp/fake-kvm"
if ! lc_start "$tmp/mvmd" "$src/$BUILD/bin/mvmd" "$src/$BUILD/bin/mvmctl" -- --ch-binary "$fake_ch" \
	--kvm-device "$tmp/fake-kvm" --kvm-pool 0 --metrics-textfile "$tmp/textfile/mvmd.prom" \
	--metrics-interval-ms 200; then
	bad "mvmd did not start"; finish
fi
check test -f "$tmp/textfile/mvmd.prom"
check test "$(stat -c %a "$tmp/textfile/mvmd.prom")" = 644

# A ch VM through create, start, stop; it stays, Stopped.
out=$(lc_call compute.vm.create "{\"name\":\"prom-ch\",\"backend\":\"ch\",\"memory_mib\":64,\"kernel\":\"$tmp/vmlinuz\"}")
id=$(lc_field id <<<"$out")
check test -n "$id"
check quiet lc_call compute.vm.start "{\"id\":\"$id\"}"
check test "$(lc_call compute.vm.status "{\"id\":\"$id\"}" | lc_field state)" = Running
check quiet lc_call compute.vm.stop "{\"id\":\"$id\"}"
check test "$(lc_call compute.vm.status "{\"id\":\"$id\"}" | lc_field state)" = Stopped
# A method that does not exist counts under method="unknown".
lc_call compute.no.such.method >/dev/null 2>&1
check test $? -ne 0

# promtool lints the text compute.node.metrics answers.
lc_call compute.node.metrics | jq -r .text >"$tmp/metrics.txt"
check test "$(lc_call compute.node.metrics | jq -r .content_type)" = "text/plain; version=0.0.4; charset=utf-8"
check grep -q '^mvmd_vms{state="Stopped",backend="ch"} 1$' "$tmp/metrics.txt"
if promtool check metrics <"$tmp/metrics.txt" >"$tmp/promtool.out" 2>&1; then ok "promtool check metrics"; else
	bad "promtool check metrics:"; sed 's/^/  /' "$tmp/promtool.out"; fi

# --- prometheus-node-exporter: the textfile collector alone -----------------
started=
for _ in 1 2 3; do
	ne_port=$(free_port)
	prometheus-node-exporter --web.listen-address="127.0.0.1:$ne_port" --collector.disable-defaults \
		--collector.textfile --collector.textfile.directory="$tmp/textfile" >"$tmp/node-exporter.log" 2>&1 &
	pids+=($!)
	if wait_http "http://127.0.0.1:$ne_port/metrics" $!; then started=1; break; fi
done
[ -n "$started" ] || { bad "prometheus-node-exporter did not start:"; sed 's/^/  /' "$tmp/node-exporter.log"; finish; }
ok "prometheus-node-exporter on 127.0.0.1:$ne_port"
curl -sf --noproxy '*' "http://127.0.0.1:$ne_port/metrics" >"$tmp/exported.txt"
check grep -q '^mvmd_vms{backend="ch",state="Stopped"} 1$' "$tmp/exported.txt"
check grep -q '^node_textfile_scrape_error 0$' "$tmp/exported.txt"

# --- prometheus, scraping it every second ----------------------------------
started=
for _ in 1 2 3; do
	pr_port=$(free_port)
	cat >"$tmp/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ['127.0.0.1:$ne_port']
EOF
	prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/tsdb" \
		--web.listen-address="127.0.0.1:$pr_port" >"$tmp/prometheus.log" 2>&1 &
	pids+=($!)
	if wait_http "http://127.0.0.1:$pr_port/-/ready" $!; then started=1; break; fi
done
[ -n "$started" ] || { bad "prometheus did not start:"; tail -n 20 "$tmp/prometheus.log" | sed 's/^/  /'; finish; }
ok "prometheus on 127.0.0.1:$pr_port"

# query EXPR: the value of the first series EXPR selects ("" while none).
query() {
	curl -sf --noproxy '*' "http://127.0.0.1:$pr_port/api/v1/query" --data-urlencode "query=$1" |
		jq -r 'if .status == "success" and (.data.result | length) > 0 then .data.result[0].value[1] else "" end'
}
# expect EXPR VALUE: wait (60 s at most: scrapes are every second) until
# Prometheus has EXPR at VALUE.
expect() {
	local v= _
	for _ in $(seq 1 120); do
		v=$(query "$1")
		[ "$v" = "$2" ] && { ok "$1 == $2 (through /api/v1/query)"; return 0; }
		sleep 0.5
	done
	bad "$1: '$v', want $2"
	return 1
}
expect 'mvmd_vms{state="Stopped",backend="ch"}' 1
expect 'mvmd_vms{state="Running",backend="ch"}' 0
expect 'mvmd_vm_transitions_total{to="Running"}' 1
expect 'mvmd_vm_transitions_total{to="Stopped"}' 1
expect 'mvmd_rpc_requests_total{method="compute.vm.start",code="0"}' 1
expect 'mvmd_rpc_requests_total{method="unknown",code="-32601"}' 1
expect 'mvmd_vm_start_duration_seconds_count{backend="ch"}' 1
expect 'mvmd_vm_failures_total{cause="worker_lost"}' 0
expect 'up{job="node"}' 1

# The series follow the node: a second start shows in Prometheus too.
check quiet lc_call compute.vm.start "{\"id\":\"$id\"}"
expect 'mvmd_vms{state="Running",backend="ch"}' 1
expect 'mvmd_vm_transitions_total{to="Running"}' 2
ch_pid=$(lc_call compute.vm.status "{\"id\":\"$id\"}" | jq -r '.pid // empty')
# Execs by how they ended (the double runs the project's exec agent).
check quiet lc_call compute.vm.exec "{\"id\":\"$id\",\"argv\":[\"/bin/true\"]}"
check quiet lc_call compute.vm.exec "{\"id\":\"$id\",\"argv\":[\"/bin/sh\",\"-c\",\"exit 3\"]}"
expect 'mvmd_exec_requests_total{result="ok"}' 1
expect 'mvmd_exec_requests_total{result="exit_nonzero"}' 1
expect "count(mvmd_vm_rss_bytes{id=\"$id\",name=\"prom-ch\"} > 0)" 1
expect "count(mvmd_vm_cpu_seconds_total{id=\"$id\",name=\"prom-ch\"})" 1
# The text with a running VM's series in it passes promtool too.
lc_call compute.node.metrics | jq -r .text >"$tmp/metrics2.txt"
check grep -q "^mvmd_vm_rss_bytes{id=\"$id\",name=\"prom-ch\"} [1-9]" "$tmp/metrics2.txt"
if promtool check metrics <"$tmp/metrics2.txt" >"$tmp/promtool.out" 2>&1; then ok "promtool check metrics (a VM running)"; else
	bad "promtool check metrics (a VM running):"; sed 's/^/  /' "$tmp/promtool.out"; fi

# A clean exit writes the file once more; no temp file is left behind.
check quiet lc_call compute.vm.stop "{\"id\":\"$id\"}"
lc_stop
check test "$(ls -A "$tmp/textfile")" = mvmd.prom
check grep -q '^mvmd_vm_transitions_total{to="Stopped"} 2$' "$tmp/textfile/mvmd.prom"
finish
