#!/usr/bin/env bash
# bench/floor.sh: where vigil's relay cost stands against what a relay can
# cost at best. sysbench oltp_point_select (text protocol) against one
# sandbox server through HAProxy (TCP mode), vigil, and the three bare
# relays of bench/relayfloor (an epoll loop on one thread with raw system
# calls; the same loop resuming per-connection coroutines written as
# sequential code; a goroutine pair per connection on Go's netpoller; the
# loop doing vigil's per-statement router and response work), ROUNDS times
# with the order rotated each round. Prints each round's transactions/s
# and the means with their ratio to HAProxy's.
#
# Usage: bench/floor.sh            (from the repository root)
# Knobs: DUR=seconds per run (8), THREADS="1 32", ROUNDS=5, PS=disable,
#        DATA_PATH=loop|goroutines (vigil's proxy.data_path; default: vigil's)
set -euo pipefail

DUR=${DUR:-8}
THREADS=${THREADS:-"1 32"}
ROUNDS=${ROUNDS:-5}
PS=${PS:-disable}

. bench/lib.sh
bench_need sysbench haproxy go curl
bench_sandbox
go build -o "$WORK/relayfloor" ./bench/relayfloor
VPORT=$(freeport); HPORT=$(freeport); XPORT=$(freeport); LPORT=$(freeport); CPORT=$(freeport); GPORT=$(freeport); RPORT=$(freeport)
bench_vigil "$VPORT" "$HPORT"
bench_haproxy "$XPORT"
for mode in loop coro goroutines routed; do
	case $mode in loop) port=$LPORT ;; coro) port=$CPORT ;; goroutines) port=$GPORT ;; routed) port=$RPORT ;; esac
	"$WORK/relayfloor" -mode "$mode" -listen "127.0.0.1:$port" -backend "$DB_ADDR" -config "$WORK/vigil.yaml" &
	PIDS+=("$!")
done
bench_sysbench_prepare

NAMES=(haproxy vigil loop coro goroutines routed)
PORTS=("$XPORT" "$VPORT" "$LPORT" "$CPORT" "$GPORT" "$RPORT")

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
