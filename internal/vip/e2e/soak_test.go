package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// TestBenchSoak counts false takeovers with no fault at all, for vigil and
// keepalived at the same settings: it runs only when VIGIL_VIP_SOAK is a
// duration (bench/vip.sh sets it). The client probes every 10ms throughout.
func TestBenchSoak(t *testing.T) {
	d, err := time.ParseDuration(os.Getenv("VIGIL_VIP_SOAK"))
	if err != nil || d <= 0 {
		t.Skip("benchmark: set VIGIL_VIP_SOAK=duration (see bench/vip.sh)")
	}
	interval, err := time.ParseDuration(envOr("VIGIL_VIP_SOAK_INTERVAL", "100ms"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("%-10s %-8s %-8s %-20s %s\n", "impl", "advert", "soak", "spurious takeovers", "failed probes")
	for _, impl := range strings.Fields(envOr("VIGIL_VIP_BENCH_IMPLS", "vigil keepalived")) {
		t.Run(impl, func(t *testing.T) {
			l := newLab(t)
			l.startService("a")
			l.startService("b")
			start := map[string]func(string, speakerOpts) *proc{"vigil": l.startVigil, "keepalived": l.startKeepalived}[impl]
			a := start("a", speakerOpts{prio: 150, interval: interval, noCheck: true})
			a.waitState("MASTER", 5*interval)
			b := start("b", speakerOpts{prio: 100, interval: interval, noCheck: true})
			b.waitState("BACKUP", 5*interval)
			l.waitAnswer("a", time.Second)
			before := strings.Count(b.log.String(), b.lines["MASTER"])
			p := l.startProber(10*time.Millisecond, time.Second)
			time.Sleep(d)
			rs := p.stop()
			failed := 0
			for _, r := range rs {
				if r.answer != "a" {
					failed++
				}
			}
			spurious := strings.Count(b.log.String(), b.lines["MASTER"]) - before
			fmt.Printf("%-10s %-8v %-8v %-20d %d/%d\n", impl, interval, d, spurious, failed, len(rs))
		})
	}
}
