#!/usr/bin/env bash
# bench/pgo.sh: refresh cmd/vigil/default.pgo, the CPU profile the Go
# compiler uses to optimise vigil (profile-guided optimisation: `go build`
# picks the file up by itself). It profiles `vigil proxy` (its default data
# path) for the workloads bench/proxy.sh measures: sysbench
# oltp_point_select and oltp_read_only, text protocol and prepared
# statements, at 1 and 32 threads, against a one-server sandbox. Commit
# the new file with a note of what changed; a stale profile only makes
# the optimisation less precise, never the program wrong.
#
# Usage: bench/pgo.sh            (from the repository root; about 2 minutes)
# Knobs: DUR=seconds per workload (10)
set -euo pipefail

DUR=${DUR:-10}

. bench/lib.sh
bench_need sysbench go curl
bench_sandbox
VPORT=$(freeport); HPORT=$(freeport)
VIGIL_PROXY_FLAGS=--pprof bench_vigil "$VPORT" "$HPORT"
bench_sysbench_prepare

load() { # TEST PSMODE THREADS
	sysbench "$1" "${SB[@]}" --mysql-port="$VPORT" --db-ps-mode="$2" --threads="$3" \
		--time="$DUR" --report-interval=0 run >/dev/null
}
profile() { # NAME: a CPU profile of the proxy while the rest of the arguments run
	local name=$1
	shift
	curl -fs "http://127.0.0.1:$HPORT/debug/pprof/profile?seconds=$((DUR - 1))" -o "$WORK/$name.pprof" &
	local curl=$!
	"$@"
	wait "$curl"
}
profile ps32 load oltp_point_select disable 32
profile ps1 load oltp_point_select disable 1
profile ro16 load oltp_read_only disable 16
profile psauto32 load oltp_point_select auto 32
profile roauto8 load oltp_read_only auto 8
go tool pprof -proto "$WORK"/*.pprof > cmd/vigil/default.pgo
echo "cmd/vigil/default.pgo: $(wc -c < cmd/vigil/default.pgo) bytes from $(ls "$WORK"/*.pprof | wc -l) profiles"
