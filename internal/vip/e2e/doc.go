// Package e2e holds the end-to-end tests of `vigil vip`: real speakers
// (the vigil binary, built once in TestMain) and real keepalived in network
// namespaces joined by a bridge, with a client namespace probing the virtual
// address. The tests need root and skip without it. The same harness runs
// the failover benchmark (bench/vip.sh) when VIGIL_VIP_BENCH is set.
package e2e
