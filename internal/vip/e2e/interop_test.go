package e2e

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestKeepalivedInterop runs vigil against keepalived 2.2 in both roles, in
// multicast and unicast mode: the master fails over to the other daemon,
// and the higher-priority one takes the VIP back (preemption across
// implementations). keepalived must log no bogus or checksum errors.
func TestKeepalivedInterop(t *testing.T) {
	for _, mode := range []string{"multicast", "unicast"} {
		for _, master := range []string{"vigil", "keepalived"} {
			t.Run(mode+"/"+master+"-master", func(t *testing.T) { interop(t, mode, master) })
		}
	}
}

func interop(t *testing.T, mode, master string) {
	l := newLab(t)
	l.startService("a")
	l.startService("b")
	oa := speakerOpts{prio: 150, interval: adv}
	ob := speakerOpts{prio: 100, interval: adv}
	if mode == "unicast" {
		oa.unicast, ob.unicast = l.hosts["b"], l.hosts["a"]
	}
	startA, startB := l.startVigil, l.startKeepalived
	if master == "keepalived" {
		startA, startB = l.startKeepalived, l.startVigil
	}
	a := startA("a", oa)
	a.waitState("MASTER", 3*time.Second)
	b := startB("b", ob)
	b.waitState("BACKUP", 2*time.Second)
	l.waitAnswer("a", 2*time.Second)

	// Crash a: b takes over after the master-down interval.
	a.stop(syscall.SIGKILL)
	b.waitState("MASTER", 2*time.Second)
	l.waitAnswer("b", time.Second)

	// a returns (restart removes any stale VIP) and preempts b.
	a = startA("a", oa)
	a.waitState("MASTER", 3*time.Second)
	b.waitState("BACKUP", time.Second)
	l.waitAnswer("a", time.Second)

	// Graceful stop of a: b takes over after priority 0.
	a.stop(syscall.SIGTERM)
	b.waitState("MASTER", 2*time.Second)
	l.waitAnswer("b", time.Second)

	for _, p := range []*proc{a, b} {
		if strings.HasPrefix(p.name, "keepalived") {
			for _, bad := range []string{"bogus", "checksum", "invalid", "TTL"} {
				if strings.Contains(strings.ToLower(p.log.String()), strings.ToLower(bad)) {
					t.Errorf("%s logged %q:\n%s", p.name, bad, p.log.String())
				}
			}
		}
	}
}
