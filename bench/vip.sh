#!/bin/sh
# bench/vip.sh: failover time of `vigil vip` against keepalived 2.2, same
# settings, same run (see the VIP section of bench/README.md).
#
# For each advert interval (100ms, 1s), fault (kill -9, link down, silent
# partition) and implementation, TRIALS trials in network namespaces: the
# time from the fault on the master to the first client TCP connect answered
# through the VIP by the new master (min/median/max, ms), and for partitions
# the heal time and how many heals left the VIP black-holed for over 1s.
#
# Needs root, iproute2 and keepalived. Environment:
#   TRIALS=10                       trials per cell
#   VIGIL_VIP_BENCH_IMPLS="vigil keepalived"
#   VIGIL_VIP_BENCH_FAULTS="kill linkdown partition"
#   VIGIL_VIP_BENCH_INTERVALS="100ms 1s"
#   SOAK=60s                        then a no-fault soak at 100ms adverts
#                                   counting false takeovers (SOAK=0: skip)
set -eu
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
	echo "bench/vip.sh: needs root (network namespaces)" >&2
	exit 1
fi
VIGIL_VIP_BENCH="${TRIALS:-10}" VIGIL_VIP_SOAK="${SOAK:-60s}" \
	go test -count=1 -timeout 120m -run '^TestBench(Failover|Soak)$' -v ./internal/vip/e2e/ |
	grep --line-buffered -v -e '^=== ' -e '^ *--- \(PASS\|SKIP\)' -e '^PASS$' -e '^ok '
