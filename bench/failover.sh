#!/bin/sh
# Failover and switchover benchmark: >= 10 kill -9 trials (a fresh
# `vigil sandbox up --semisync` each) and 10 switchovers, with writers
# going through the proxy. Prints per-trial figures and min/median/max.
#
#   bench/failover.sh [-trials N] [-switchovers N] [-writers N]
set -eu
cd "$(dirname "$0")/.."
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/vigil" ./cmd/vigil
go build -o "$bin/failover-bench" ./bench/failover
"$bin/failover-bench" -vigil "$bin/vigil" "$@"
