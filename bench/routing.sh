#!/usr/bin/env bash
# bench/routing.sh: what read/write splitting buys. sysbench oltp_read_only,
# text protocol (--db-ps-mode=disable, how Moodle's mysqli driver talks), at
# 16 threads, through one `vigil proxy` in front of a sandbox cluster (db1
# primary, db2 and db3 replicas), twice:
#   primary  as a user whose default_route is "primary" (everything to db1)
#   split    as a user with the default "auto" route (vigil splits)
# each with --skip-trx=on (every query autocommit, as Moodle reads) and
# --skip-trx=off (sysbench's default BEGIN ... COMMIT around each
# transaction: a transaction runs on the primary by design, so this mode
# shows the proxy's cost without any split).
# Prints transactions/s and queries/s and where the statements went (the
# proxy's vigil_router_statements_total by target), per run.
#
# All of it shares one machine, so without limits splitting cannot add CPU
# the primary does not already have. DB_CPU (default 0.5) caps each MariaDB
# server at that many CPUs (cgroup v1 cpu quota; needs root), emulating
# database servers on separate hosts; DB_CPU=0 runs them unconstrained.
#
# Usage: bench/routing.sh               (from the repository root)
# Knobs: DUR=seconds per run (20), THREADS=16, ROUNDS=2 (runs alternate),
#        TABLES=4, TABLE_SIZE=10000, SKIPTRX="on off"
set -euo pipefail

DUR=${DUR:-20}
THREADS=${THREADS:-16}
ROUNDS=${ROUNDS:-2}
TABLES=${TABLES:-4}
TABLE_SIZE=${TABLE_SIZE:-10000}
SKIPTRX=${SKIPTRX:-"on off"}
DB_CPU=${DB_CPU:-0.5}

for tool in sysbench mariadb curl go python3; do
	command -v "$tool" >/dev/null || { echo "bench/routing.sh: $tool is missing (scripts/deps installs it)" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/vigil-routing-bench.XXXXXX)
PIDS=()
CGROUPS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	[ -x "$WORK/vigil" ] && "$WORK/vigil" sandbox destroy --dir "$WORK/sb" >/dev/null 2>&1 || true
	for d in "${CGROUPS[@]}"; do rmdir "$d" 2>/dev/null || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

go build -o "$WORK/vigil" ./cmd/vigil
"$WORK/vigil" sandbox up --dir "$WORK/sb" --servers-only --replicas 2 --base-port 0 >/dev/null
CFG="$WORK/sb/vigil.yaml"
DB1=$(awk '/address:/ {print $2; exit}' "$CFG")
ADMIN_USER=$(awk '/admin:/ {f=1} f && /user:/ {print $2; exit}' "$CFG")
ADMIN_PASS=$(awk '/admin:/ {f=1} f && /password:/ {print $2; exit}' "$CFG")
sql() { mariadb -h127.0.0.1 -P"${DB1##*:}" -u"$ADMIN_USER" -p"$ADMIN_PASS" -e "$1"; }

# limit_cpu NAME PID: cap the server process at DB_CPU CPUs.
limit_cpu() {
	local d=/sys/fs/cgroup/cpu/vigil-bench-$$-$1
	mkdir "$d"
	CGROUPS+=("$d")
	echo 100000 >"$d/cpu.cfs_period_us"
	local quota
	quota=$(python3 -c "print(int($DB_CPU * 100000))")
	echo "$quota" >"$d/cpu.cfs_quota_us"
	echo "$2" >"$d/cgroup.procs"
}
if [ "$DB_CPU" != 0 ]; then
	[ -w /sys/fs/cgroup/cpu ] || { echo "bench/routing.sh: DB_CPU needs a writable cgroup v1 cpu hierarchy (or DB_CPU=0)" >&2; exit 1; }
	while read -r name pid; do limit_cpu "$name" "$pid"; done < <("$WORK/vigil" sandbox status --dir "$WORK/sb" --json |
		python3 -c 'import json, sys; [print(s["name"], s["pid"]) for s in json.load(sys.stdin)["servers"]]')
fi

# Without a manager the proxy follows read_only: make db1 the writer, and
# add the all-to-primary user (it replicates to db2 and db3).
sql "SET GLOBAL read_only = OFF"
sql "CREATE USER IF NOT EXISTS 'bench_primary'@'%' IDENTIFIED BY 'bench'; GRANT ALL ON moodle.* TO 'bench_primary'@'%'"

VPORT=$(freeport); HPORT=$(freeport)
python3 - "$CFG" "$WORK/vigil.yaml" "$VPORT" "$HPORT" <<'PY'
import re, sys
src, dst, vport, hport = sys.argv[1:]
text = open(src).read()
text = re.sub(r"(?m)^\s*manager_url:.*\n", "", text)
text = re.sub(r"(?m)^(  listen: ).*$", r"\g<1>127.0.0.1:" + vport, text, count=0)
text = re.sub(r"(?m)^(  http_listen: ).*$", r"\g<1>127.0.0.1:" + hport, text)
if "http_listen:" not in text:
    text = re.sub(r"(?m)^proxy:\n", "proxy:\n  http_listen: 127.0.0.1:" + hport + "\n", text)
text = re.sub(r"(?m)^users:\n", "users:\n  - name: bench_primary\n    password: bench\n    default_route: primary\n", text)
open(dst, "w").write(text)
PY
# The manager section's listen would also match "  listen:"; the proxy one
# is what matters (the manager does not run here).
"$WORK/vigil" proxy --config "$WORK/vigil.yaml" --listen "127.0.0.1:$VPORT" 2>"$WORK/proxy.log" &
PIDS+=("$!")
for i in $(seq 100); do
	curl -fs "http://127.0.0.1:$HPORT/health" >/dev/null 2>&1 && break
	sleep 0.2
done
curl -fs "http://127.0.0.1:$HPORT/health" >/dev/null || { echo "proxy did not become healthy:"; tail -20 "$WORK/proxy.log"; exit 1; }

SB=(--mysql-host=127.0.0.1 --mysql-port="$VPORT" --mysql-db=moodle --tables="$TABLES" --table-size="$TABLE_SIZE")
sysbench oltp_read_only "${SB[@]}" --mysql-user=moodle --mysql-password=moodle prepare >/dev/null
sleep 2 # let the replicas apply the load and the monitor see them

# routed -> "primary replica" statement counters from the proxy's metrics
routed() {
	curl -fs "http://127.0.0.1:$HPORT/metrics" | awk '
		/^vigil_router_statements_total/ {
			if ($0 ~ /target="primary"/) p += $NF
			if ($0 ~ /target="replica"/) r += $NF
		}
		END { printf "%d %d\n", p, r }'
}

# reasons -> "reason=count ..." of statements run on the primary, from the metrics
reasons() {
	curl -fs "http://127.0.0.1:$HPORT/metrics" | awk '
		/^vigil_router_statements_total/ && /target="primary"/ {
			match($0, /reason="[a-z_]*"/); r = substr($0, RSTART + 8, RLENGTH - 9); c[r] += $NF
		}
		END { for (r in c) printf "%s=%d ", r, c[r] }'
}

# run USER PASS SKIPTRX -> "tps qps primary replica"
run() {
	local before after out tps qps
	before=$(routed)
	out=$(sysbench oltp_read_only "${SB[@]}" --mysql-user="$1" --mysql-password="$2" --db-ps-mode=disable --skip-trx="$3" \
		--threads="$THREADS" --time="$DUR" --report-interval=0 run 2>&1) || { echo "sysbench failed: $out" >&2; echo "0 0 0 0"; return; }
	after=$(routed)
	tps=$(echo "$out" | awk '/transactions:/ {gsub(/[(]/,"",$3); print $3}')
	qps=$(echo "$out" | awk '/queries:/ {gsub(/[(]/,"",$3); print $3}')
	read -r bp br <<<"$before"
	read -r ap ar <<<"$after"
	echo "$tps $qps $((ap - bp)) $((ar - br))"
}

echo "# sysbench oltp_read_only --db-ps-mode=disable --threads=$THREADS --time=$DUR, $TABLES x $TABLE_SIZE rows"
echo "# $(nproc) CPUs; everything (3 MariaDB servers, proxy, sysbench) on this machine; DB_CPU=$DB_CPU per server"
printf "%-8s %-8s %-6s %10s %10s %12s %12s %8s\n" route skip_trx round tps qps to_primary to_replicas replica%
for round in $(seq "$ROUNDS"); do
	for skip in $SKIPTRX; do
		for mode in primary split; do
			if [ "$mode" = primary ]; then res=$(run bench_primary bench "$skip"); else res=$(run moodle moodle "$skip"); fi
			read -r tps qps p r <<<"$res"
			pct=$(python3 -c "print(f'{100*$r/max($p+$r,1):.1f}')")
			printf "%-8s %-8s %-6s %10s %10s %12s %12s %8s\n" "$mode" "$skip" "$round" "$tps" "$qps" "$p" "$r" "$pct"
		done
	done
done
echo "# statements on the primary by reason, all runs: $(reasons)"
