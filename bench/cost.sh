#!/usr/bin/env bash
# bench/cost.sh: what a statement costs in CPU through vigil and through
# HAProxy (TCP mode), at a fixed offered load that leaves the CPUs some
# idle time. At saturation (bench/proxy.sh, bench/floor.sh) throughput is
# the whole machine's CPU divided by this cost, but on a shared host it
# moves by more than the difference between the two proxies; measured
# below saturation, the cost is steadier and says where it goes.
#
# sysbench oltp_point_select (text protocol) against one sandbox server,
# at RATE transactions/s from THREADS threads, ROUNDS times with the order
# of the two proxies alternating. For each run it prints the achieved rate,
# p95 latency and CPU microseconds per statement (user+system from
# /proc/PID/stat) of the proxy, of the MariaDB server and of sysbench; then
# the means.
#
# Usage: bench/cost.sh            (from the repository root)
# Knobs: RATE=12000, THREADS=32, DUR=8 (seconds per run), ROUNDS=6
set -euo pipefail

RATE=${RATE:-12000}
THREADS=${THREADS:-32}
DUR=${DUR:-8}
ROUNDS=${ROUNDS:-6}

. bench/lib.sh
bench_need sysbench haproxy go curl
bench_sandbox
VPORT=$(freeport); HPORT=$(freeport); XPORT=$(freeport)
bench_vigil "$VPORT" "$HPORT"
bench_haproxy "$XPORT"
XPID=${PIDS[-1]}
bench_sysbench_prepare
MPID=$(cat "$WORK/sb/db1/mariadbd.pid")

# ticks PID -> utime+stime in clock ticks
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# run NAME PORT PROXYPID -> one line: name, tps, p95, µs per statement of
# the proxy, MariaDB and sysbench
run() {
	local p0 m0 p1 m1 out times
	p0=$(ticks "$3"); m0=$(ticks "$MPID")
	times=$( { /usr/bin/time -f '%U %S' sysbench oltp_point_select "${SB[@]}" --mysql-port="$2" \
		--db-ps-mode=disable --threads="$THREADS" --rate="$RATE" --time="$DUR" --report-interval=0 \
		run > "$WORK/sb.out"; } 2>&1 | tail -1)
	p1=$(ticks "$3"); m1=$(ticks "$MPID")
	out=$(awk '/transactions:/ {gsub(/[(]/,"",$3); t=$3} /95th/ {p=$3} END {print t, p}' "$WORK/sb.out")
	awk -v name="$1" -v out="$out" -v p=$((p1 - p0)) -v m=$((m1 - m0)) -v s="$times" \
		-v hz="$(getconf CLK_TCK)" -v d="$DUR" 'BEGIN {
		split(out, o, " "); split(s, u, " "); n = o[1] * d
		printf "%-8s %9.0f %6.2f %8.2f %8.2f %8.2f\n", name, o[1], o[2], p * 1e6 / hz / n, m * 1e6 / hz / n, (u[1] + u[2]) * 1e6 / n }'
}

echo "# $(date -u +%FT%TZ) $(nproc) CPUs, oltp_point_select ps-mode=disable, $THREADS threads at $RATE/s, ${DUR}s per run"
printf '%-8s %9s %6s %8s %8s %8s\n' proxy tps p95ms proxy_us server_us client_us
for round in $(seq "$ROUNDS"); do
	if (( round % 2 )); then
		run vigil "$VPORT" "$VPID"; run haproxy "$XPORT" "$XPID"
	else
		run haproxy "$XPORT" "$XPID"; run vigil "$VPORT" "$VPID"
	fi
done | tee "$WORK/cost.txt"
awk '{n[$1]++; for (i = 2; i <= 6; i++) s[$1, i] += $i}
	END {for (k in n) printf "mean %-8s %9.0f %6.2f %8.2f %8.2f %8.2f\n", k, s[k,2]/n[k], s[k,3]/n[k], s[k,4]/n[k], s[k,5]/n[k], s[k,6]/n[k]}' \
	"$WORK/cost.txt" | sort
