# bench/lib.sh: what bench/proxy.sh and bench/floor.sh share. Source it
# from the repository root after `set -euo pipefail`:
#   bench_need TOOL...        exit with a message unless each tool is installed
#   bench_sandbox             build vigil into $WORK, start a one-server sandbox,
#                             set DB_ADDR and DB_PORT, clean up on exit
#   bench_vigil PORT HTTPPORT start `vigil proxy` (standalone) on PORT, set VPID,
#                             wait for its health endpoint; DATA_PATH=loop or
#                             goroutines sets proxy.data_path (default: vigil's);
#                             PIPELINES=N sets proxy.pipelines (default: off);
#                             VIGIL_PROXY_FLAGS adds flags (e.g. --pprof)
#   bench_haproxy PORT        start HAProxy in TCP mode on PORT
#   bench_sysbench_prepare    create the sysbench tables ($SB holds the options)
# Processes started are in PIDS and killed on exit, with the sandbox.

bench_need() {
	for tool in "$@"; do
		command -v "$tool" >/dev/null || { echo "$0: $tool is missing (scripts/deps installs it)" >&2; exit 1; }
	done
}

WORK=$(mktemp -d /tmp/vigil-bench.XXXXXX)
PIDS=()
bench_cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	[ -x "$WORK/vigil" ] && "$WORK/vigil" sandbox destroy --dir "$WORK/sb" >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap bench_cleanup EXIT

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

bench_sandbox() {
	go build -o "$WORK/vigil" ./cmd/vigil
	"$WORK/vigil" sandbox up --dir "$WORK/sb" --servers-only --replicas 0 --base-port 0 >/dev/null
	DB_ADDR=$(awk '/address:/ {print $2; exit}' "$WORK/sb/vigil.yaml")
	DB_PORT=${DB_ADDR##*:}
}

bench_vigil() {
	sed -e '/manager_url:/d' \
		-e "s/^  listen: .*/  listen: 127.0.0.1:$1/" \
		-e "s/^  http_listen: .*/  http_listen: 127.0.0.1:$2/" \
		"$WORK/sb/vigil.yaml" > "$WORK/vigil.yaml"
	if [ -n "${DATA_PATH:-}" ]; then
		sed -i "s/^proxy:$/proxy:\n  data_path: $DATA_PATH/" "$WORK/vigil.yaml"
	fi
	if [ -n "${PIPELINES:-}" ]; then
		sed -i "s/^proxy:$/proxy:\n  pipelines: $PIPELINES/" "$WORK/vigil.yaml"
	fi
	"$WORK/vigil" proxy ${VIGIL_PROXY_FLAGS:-} --config "$WORK/vigil.yaml" 2>"$WORK/proxy.log" &
	VPID=$!
	PIDS+=("$VPID")
	for _ in $(seq 50); do
		curl -fs "http://127.0.0.1:$2/health" >/dev/null 2>&1 && return
		sleep 0.2
	done
	echo "$0: vigil proxy did not become healthy; its log:" >&2
	cat "$WORK/proxy.log" >&2
	exit 1
}

bench_haproxy() {
	cat > "$WORK/haproxy.cfg" <<CFG
global
  maxconn 9000
defaults
  mode tcp
  timeout connect 5s
  timeout client 1h
  timeout server 1h
listen mysql
  bind 127.0.0.1:$1
  server db1 $DB_ADDR
CFG
	haproxy -f "$WORK/haproxy.cfg" -db >/dev/null 2>&1 &
	PIDS+=("$!")
}

SB=(--mysql-host=127.0.0.1 --mysql-user=moodle --mysql-password=moodle --mysql-db=moodle --tables=4 --table-size=10000)
bench_sysbench_prepare() {
	sysbench oltp_read_only "${SB[@]}" --mysql-port="$DB_PORT" prepare >/dev/null
}
