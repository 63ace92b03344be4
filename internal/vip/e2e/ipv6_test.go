package e2e

import (
	"syscall"
	"testing"
	"time"
)

// TestIPv6 runs the failover cycle over IPv6 (ff02::12, link-local sources,
// unsolicited neighbour advertisements) between two vigil speakers and
// between vigil and keepalived in both roles.
func TestIPv6(t *testing.T) {
	for _, c := range []struct{ name, a, b string }{
		{"vigil-vigil", "vigil", "vigil"},
		{"vigil-master-keepalived-backup", "vigil", "keepalived"},
		{"keepalived-master-vigil-backup", "keepalived", "vigil"},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := newLabWith(t, plan6)
			l.startService("a")
			l.startService("b")
			start := map[string]func(string, speakerOpts) *proc{"vigil": l.startVigil, "keepalived": l.startKeepalived}
			oa, ob := speakerOpts{prio: 150, interval: adv}, speakerOpts{prio: 100, interval: adv}
			a := start[c.a]("a", oa)
			a.waitState("MASTER", 3*time.Second)
			b := start[c.b]("b", ob)
			b.waitState("BACKUP", 2*time.Second)
			l.waitAnswer("a", 2*time.Second)

			a.stop(syscall.SIGKILL)
			b.waitState("MASTER", 2*time.Second)
			l.waitAnswer("b", time.Second)

			a = start[c.a]("a", oa)
			a.waitState("MASTER", 3*time.Second)
			b.waitState("BACKUP", time.Second)
			l.waitAnswer("a", time.Second)
		})
	}
}
