#!/usr/bin/env bash
# bench/proxy.sh: what the proxy costs. sysbench oltp_point_select and
# oltp_read_only, text protocol (--db-ps-mode=disable, how Moodle talks) and
# prepared statements, at several thread counts, against the same sandbox
# server directly, through `vigil proxy`, and through HAProxy in TCP mode,
# interleaved in one run (the proxy that runs first after direct alternates
# from cell to cell). Prints transactions/s, the ratio to direct, and
# p95 latency. Then opens IDLE client sessions to the proxy and reports its
# RSS.
#
# Usage: bench/proxy.sh            (from the repository root)
# Knobs: DATA_PATH=loop|goroutines (vigil's proxy.data_path; default: vigil's),
#        PIPELINES=N (vigil's proxy.pipelines; default: off),
#        DUR=seconds per run (10), THREADS="1 16 32 64", TESTS="oltp_point_select
#        oltp_read_only", PSMODES="disable auto", IDLE=10000, ROUNDS=1
set -euo pipefail

DUR=${DUR:-10}
THREADS=${THREADS:-"1 16 32 64"}
TESTS=${TESTS:-"oltp_point_select oltp_read_only"}
PSMODES=${PSMODES:-"disable auto"}
IDLE=${IDLE:-10000}
ROUNDS=${ROUNDS:-1}

. bench/lib.sh
bench_need sysbench haproxy mariadb go curl
bench_sandbox
go build -o "$WORK/idle" ./bench/proxy_idle
VPORT=$(freeport); HPORT=$(freeport); XPORT=$(freeport)
bench_vigil "$VPORT" "$HPORT"
bench_haproxy "$XPORT"
bench_sysbench_prepare

# run TARGET PORT TEST PSMODE THREADS -> "tps p95"
run() {
	local out
	out=$(sysbench "$3" "${SB[@]}" --mysql-port="$2" --db-ps-mode="$4" --threads="$5" \
		--time="$DUR" --report-interval=0 --percentile=95 run 2>&1) || { echo "0 0"; return; }
	local tps p95
	tps=$(echo "$out" | awk '/transactions:/ {gsub(/[(]/,"",$3); print $3}')
	p95=$(echo "$out" | awk '/95th percentile:/ {print $3}')
	echo "${tps:-0} ${p95:-0}"
}

echo "# $(date -u +%FT%TZ) $(nproc) CPUs, ${DUR}s per run, MariaDB $(mariadb --version | awk '{print $5}')"
printf '%-18s %-8s %4s | %10s %8s | %10s %6s %8s | %10s %6s %8s\n' test ps thr direct p95ms vigil ratio p95ms haproxy ratio p95ms
cell=0
for round in $(seq "$ROUNDS"); do
for test in $TESTS; do
	for ps in $PSMODES; do
		for thr in $THREADS; do
			# Alternate which proxy runs right after direct, so that neither
			# always inherits the same machine state.
			cell=$((cell + 1))
			read -r d dp < <(run direct "$DB_PORT" "$test" "$ps" "$thr")
			if [ $((cell % 2)) -eq 1 ]; then
				read -r v vp < <(run vigil "$VPORT" "$test" "$ps" "$thr")
				read -r x xp < <(run haproxy "$XPORT" "$test" "$ps" "$thr")
			else
				read -r x xp < <(run haproxy "$XPORT" "$test" "$ps" "$thr")
				read -r v vp < <(run vigil "$VPORT" "$test" "$ps" "$thr")
			fi
			printf '%-18s %-8s %4s | %10.0f %8s | %10.0f %6.2f %8s | %10.0f %6.2f %8s\n' "$test" "$ps" "$thr" \
				"$d" "$dp" "$v" "$(echo "$v / ($d + 0.0001)" | bc -l)" "$vp" \
				"$x" "$(echo "$x / ($d + 0.0001)" | bc -l)" "$xp"
		done
	done
done
done

if [ "$IDLE" -gt 0 ]; then
	"$WORK/idle" -addr "127.0.0.1:$VPORT" -user moodle -password moodle -n "$IDLE" -pid "$VPID"
fi
