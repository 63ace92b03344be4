#!/usr/bin/env bash
# bench/floor.sh: where vigil's relay cost stands against what a relay can
# cost at best. sysbench oltp_point_select (text protocol) against one
# sandbox server through HAProxy (TCP mode), vigil, and the three bare
# relays of bench/relayfloor (an epoll loop on one thread with raw system
# calls; the same loop resuming per-connection coroutines written as
# sequential code; a goroutine pair per connection on Go's netpoller), ROUNDS times
# with the order rotated each round. Prints each round's transactions/s
# and the means with their ratio to HAProxy's.
#
# Usage: bench/floor.sh            (from the repository root)
# Knobs: DUR=seconds per run (8), THREADS="1 32", ROUNDS=5, PS=disable
set -euo pipefail

DUR=${DUR:-8}
THREADS=${THREADS:-"1 32"}
ROUNDS=${ROUNDS:-5}
PS=${PS:-disable}

for tool in sysbench haproxy go; do
	command -v "$tool" >/dev/null || { echo "bench/floor.sh: $tool is missing (scripts/deps installs it)" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/vigil-floor.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	[ -x "$WORK/vigil" ] && "$WORK/vigil" sandbox destroy --dir "$WORK/sb" >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

go build -o "$WORK/vigil" ./cmd/vigil
go build -o "$WORK/relayfloor" ./bench/relayfloor
"$WORK/vigil" sandbox up --dir "$WORK/sb" --servers-only --replicas 0 --base-port 0 >/dev/null
DB_ADDR=$(awk '/address:/ {print $2; exit}' "$WORK/sb/vigil.yaml")
VPORT=$(freeport); HPORT=$(freeport); XPORT=$(freeport); LPORT=$(freeport); CPORT=$(freeport); GPORT=$(freeport)

sed -e '/manager_url:/d' \
	-e "s/^  listen: .*/  listen: 127.0.0.1:$VPORT/" \
	-e "s/^  http_listen: .*/  http_listen: 127.0.0.1:$HPORT/" \
	"$WORK/sb/vigil.yaml" > "$WORK/vigil.yaml"
"$WORK/vigil" proxy --config "$WORK/vigil.yaml" 2>"$WORK/proxy.log" &
PIDS+=("$!")
cat > "$WORK/haproxy.cfg" <<CFG
global
  maxconn 9000
defaults
  mode tcp
  timeout connect 5s
  timeout client 1h
  timeout server 1h
listen mysql
  bind 127.0.0.1:$XPORT
  server db1 $DB_ADDR
CFG
haproxy -f "$WORK/haproxy.cfg" -db >/dev/null 2>&1 &
PIDS+=("$!")
"$WORK/relayfloor" -mode loop -listen "127.0.0.1:$LPORT" -backend "$DB_ADDR" &
PIDS+=("$!")
"$WORK/relayfloor" -mode coro -listen "127.0.0.1:$CPORT" -backend "$DB_ADDR" &
PIDS+=("$!")
"$WORK/relayfloor" -mode goroutines -listen "127.0.0.1:$GPORT" -backend "$DB_ADDR" &
PIDS+=("$!")
for i in $(seq 50); do
	curl -fs "http://127.0.0.1:$HPORT/health" >/dev/null 2>&1 && break
	sleep 0.2
done

SB=(--mysql-host=127.0.0.1 --mysql-user=moodle --mysql-password=moodle --mysql-db=moodle --tables=4 --table-size=10000)
sysbench oltp_read_only "${SB[@]}" --mysql-port="${DB_ADDR##*:}" prepare >/dev/null

NAMES=(haproxy vigil loop coro goroutines)
PORTS=("$XPORT" "$VPORT" "$LPORT" "$CPORT" "$GPORT")

# tps PORT THREADS -> transactions/s of one run
tps() {
	sysbench oltp_point_select "${SB[@]}" --mysql-port="$1" --db-ps-mode="$PS" --threads="$2" \
		--time="$DUR" --report-interval=0 run 2>&1 | awk '/transactions:/ {gsub(/[(]/,"",$3); print $3}'
}

echo "# $(date -u +%FT%TZ) $(nproc) CPUs, oltp_point_select ps-mode=$PS, ${DUR}s per run, $ROUNDS rounds"
for thr in $THREADS; do
	declare -A sum=()
	printf '%4s %6s' threads round; printf ' %11s' "${NAMES[@]}"; echo
	for round in $(seq "$ROUNDS"); do
		declare -A got=()
		for k in "${!NAMES[@]}"; do
			i=$(( (k + round) % ${#NAMES[@]} )) # rotate who runs first
			got[$i]=$(tps "${PORTS[$i]}" "$thr")
			sum[$i]=$(echo "${sum[$i]:-0} + ${got[$i]:-0}" | bc -l)
		done
		printf '%4s %6s' "$thr" "$round"
		for i in "${!NAMES[@]}"; do printf ' %11.0f' "${got[$i]}"; done
		echo
	done
	printf '%4s %6s' "$thr" mean
	for i in "${!NAMES[@]}"; do printf ' %11.0f' "$(echo "${sum[$i]} / $ROUNDS" | bc -l)"; done
	echo
	printf '%4s %6s' "$thr" "/hap"
	for i in "${!NAMES[@]}"; do printf ' %11.3f' "$(echo "${sum[$i]} / ${sum[0]}" | bc -l)"; done
	echo
	unset sum
done
