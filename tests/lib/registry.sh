# shellcheck shell=bash
# A real OCI registry for suites (Debian's docker-registry, the CNCF
# distribution registry) on 127.0.0.1 with a temporary config and storage,
# and the distribution API's own upload flow to push to it.
#
#   reg_start DIR [htpasswd FILE] [tls CERT KEY]
#       start a registry under DIR on a free port; sets REG_PID, REG_PORT,
#       REG_URL (http:// or https://127.0.0.1:PORT)
#   reg_push_blob URL REPO FILE [CURL ARGS...]   POST + PUT ?digest=: the upload flow
#   reg_push_manifest URL REPO REF FILE MEDIATYPE [CURL ARGS...]
#   reg_stop PID
#   free_port            an unused TCP port on 127.0.0.1

free_port() {
	local p
	for _ in $(seq 1 200); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

reg_start() {
	local dir=$1; shift
	local auth='' tls='' scheme=http
	while [ $# -gt 0 ]; do
		case $1 in
		htpasswd) auth="auth:
  htpasswd:
    realm: mvmd-test
    path: $2"; shift 2 ;;
		tls) tls="  tls:
    certificate: $2
    key: $3"; scheme=https; shift 3 ;;
		*) echo "reg_start: unknown $1"; return 1 ;;
		esac
	done
	mkdir -p "$dir/storage"
	REG_PORT=$(free_port) || return 1
	cat >"$dir/config.yml" <<EOC
version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $dir/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$REG_PORT
$tls
$auth
EOC
	docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 &
	REG_PID=$!
	REG_URL=$scheme://127.0.0.1:$REG_PORT
	for _ in $(seq 1 300); do
		if curl -sk -o /dev/null -w '%{http_code}' "$REG_URL/v2/" 2>/dev/null | grep -qE '^(200|401)$'; then
			return 0
		fi
		kill -0 "$REG_PID" 2>/dev/null || { echo "registry exited:"; cat "$dir/registry.log"; return 1; }
		sleep 0.1
	done
	echo "registry did not answer on $REG_URL"
	return 1
}

reg_push_blob() {
	local url=$1 repo=$2 file=$3; shift 3
	local digest loc
	digest=sha256:$(sha256sum "$file" | cut -d' ' -f1)
	loc=$(curl -sk "$@" -D - -o /dev/null -X POST "$url/v2/$repo/blobs/uploads/" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
	[ -n "$loc" ] || { echo "reg_push_blob: no upload location"; return 1; }
	case $loc in http*) ;; *) loc=$url$loc ;; esac
	case $loc in *\?*) loc="$loc&digest=$digest" ;; *) loc="$loc?digest=$digest" ;; esac
	[ "$(curl -sk "$@" -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/octet-stream' \
		--data-binary "@$file" "$loc")" = 201 ]
}

reg_push_manifest() {
	local url=$1 repo=$2 ref=$3 file=$4 mt=$5; shift 5
	[ "$(curl -sk "$@" -o /dev/null -w '%{http_code}' -X PUT -H "Content-Type: $mt" \
		--data-binary "@$file" "$url/v2/$repo/manifests/$ref")" = 201 ]
}

reg_stop() {
	[ -n "${1:-}" ] || return 0
	kill "$1" 2>/dev/null
	# killed by our SIGTERM: not a failure (for callers under set -e)
	wait "$1" 2>/dev/null || true
}
