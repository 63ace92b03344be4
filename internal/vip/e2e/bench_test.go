package e2e

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBenchFailover is the failover benchmark behind bench/vip.sh, not a
// test: it runs only when VIGIL_VIP_BENCH is the number of trials per cell.
// For vigil and keepalived (same settings, same run), at 1s and 100ms
// adverts, it injects kill -9, link down and a silent partition on the
// master and measures the time from the fault to the first client TCP
// connect answered through the VIP by the new host. Partition trials also
// heal and count heals after which the VIP stays black-holed for over 1s.
func TestBenchFailover(t *testing.T) {
	trials, _ := strconv.Atoi(os.Getenv("VIGIL_VIP_BENCH"))
	if trials <= 0 {
		t.Skip("benchmark: set VIGIL_VIP_BENCH=trials (see bench/vip.sh)")
	}
	impls := strings.Fields(envOr("VIGIL_VIP_BENCH_IMPLS", "vigil keepalived"))
	faults := strings.Fields(envOr("VIGIL_VIP_BENCH_FAULTS", "kill linkdown partition"))
	intervals := strings.Fields(envOr("VIGIL_VIP_BENCH_INTERVALS", "100ms 1s"))
	fmt.Printf("%-10s %-8s %-10s %-6s %-22s %-22s %s\n", "impl", "advert", "fault", "trials",
		"switch ms min/med/max", "heal ms min/med/max", "black-holed heals")
	for _, iv := range intervals {
		interval, err := time.ParseDuration(iv)
		if err != nil {
			t.Fatal(err)
		}
		for _, fault := range faults {
			for _, impl := range impls {
				var r cellResult
				// A subtest per cell, so its namespaces and daemons are gone
				// before the next cell starts.
				t.Run(fmt.Sprintf("%s/%v/%s", impl, interval, fault), func(t *testing.T) {
					r = benchCell(t, impl, interval, fault, trials)
				})
				heal, holes := "-", "-"
				if fault == "partition" {
					heal, holes = summary(r.heals), fmt.Sprintf("%d/%d", r.blackholes, trials)
				}
				fmt.Printf("%-10s %-8v %-10s %-6d %-22s %-22s %s\n", impl, interval, fault, trials, summary(r.switches), heal, holes)
			}
		}
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

type cellResult struct {
	switches, heals []time.Duration
	blackholes      int
}

func benchCell(t *testing.T, impl string, interval time.Duration, fault string, trials int) cellResult {
	l := newLab(t)
	l.startService("a")
	l.startService("b")
	start := l.startVigil
	if impl == "keepalived" {
		start = l.startKeepalived
	}
	// Same settings for both: no health check (under load a flapping check
	// would be measured instead of the failover).
	oa := speakerOpts{prio: 150, interval: interval, noCheck: true}
	ob := speakerOpts{prio: 100, interval: interval, noCheck: true}
	down := 3*interval + interval // generous master-down bound
	a := start("a", oa)
	a.waitState("MASTER", 2*down)
	b := start("b", ob)
	b.waitState("BACKUP", 2*down)
	l.waitAnswer("a", 2*down)
	var r cellResult
	for trial := 0; trial < trials; trial++ {
		aMaster := time.Now()
		time.Sleep(300*time.Millisecond + rand.N(interval)) // random advert phase
		p := l.startProber(10*time.Millisecond, time.Second)
		time.Sleep(50 * time.Millisecond)
		t0 := time.Now()
		injectFault(l, a, fault)
		sw := waitFirst(p, t0, "b", 3*down+2*time.Second)
		if sw.IsZero() {
			p.stop()
			t.Fatalf("%s %v %s trial %d: b never answered", impl, interval, fault, trial)
		}
		r.switches = append(r.switches, sw.Sub(t0))
		switch fault {
		case "kill":
			p.stop()
			a = start("a", oa)
		case "linkdown":
			p.stop()
			l.ip("-n", l.ns("a"), "link", "set", "eth0", "up")
		case "partition":
			// Heal at least 6s after a became master, so keepalived's delayed
			// GARP burst (5s) cannot mask the outcome.
			time.Sleep(max(time.Until(aMaster.Add(6*time.Second)), time.Second))
			l.heal("a")
			healed := time.Now()
			time.Sleep(max(1500*time.Millisecond, 3*interval))
			rs := p.stop()
			if first := firstAnswer(rs, healed, "a"); !first.IsZero() {
				r.heals = append(r.heals, first.Sub(healed))
			}
			if blackHoled(rs, healed) {
				r.blackholes++
				l.ip("-n", l.ns("c"), "neigh", "flush", "all") // end the black hole for the next trial
			}
		}
		a.waitState("MASTER", 2*down+2*time.Second)
		b.waitState("BACKUP", 2*down)
		// Start the next trial from a clean client: a GARP that follows the
		// previous one within the ARP locktime (1s) is ignored, which would
		// make the restore, not the next fault, the thing measured.
		l.ip("-n", l.ns("c"), "neigh", "flush", "all")
		l.waitAnswer("a", 2*down)
	}
	return r
}

func injectFault(l *lab, a *proc, fault string) {
	switch fault {
	case "kill":
		a.stop(syscall.SIGKILL)
	case "linkdown":
		l.setLink("a", false)
	case "partition":
		l.partition("a")
	default:
		l.t.Fatalf("unknown fault %q", fault)
	}
}

// blackHoled reports whether, after the heal, the VIP stopped answering for
// a second or more, or still did not answer from a at the end: the clients
// kept the MAC of a host that no longer holds the VIP. (Probes answered by
// b before the first advert crosses are not a black hole: b still holds it.)
func blackHoled(rs []probeResult, healed time.Time) bool {
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(x, y probeResult) int { return x.start.Compare(y.start) })
	var failStart time.Time
	for _, r := range rs {
		switch {
		case r.start.Before(healed):
		case r.answer != "":
			failStart = time.Time{}
		case failStart.IsZero():
			failStart = r.start
		case r.start.Sub(failStart) >= time.Second:
			return true
		}
	}
	return len(rs) == 0 || rs[len(rs)-1].answer != "a"
}

// waitFirst waits until a probe started after t0 is answered by h.
func waitFirst(p *prober, t0 time.Time, h string, timeout time.Duration) time.Time {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		first := firstAnswer(p.results, t0, h)
		p.mu.Unlock()
		if !first.IsZero() {
			return first
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Time{}
}

func summary(ds []time.Duration) string {
	if len(ds) == 0 {
		return "-"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	ms := func(d time.Duration) int64 { return d.Milliseconds() }
	return fmt.Sprintf("%d/%d/%d", ms(s[0]), ms(s[len(s)/2]), ms(s[len(s)-1]))
}
