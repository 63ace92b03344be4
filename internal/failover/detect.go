package failover

import (
	"fmt"
	"time"

	"vigil/internal/topology"
)

// Health is the verdict on the primary.
type Health string

// Verdicts of Detector.Assess.
const (
	Healthy Health = "healthy"
	// Suspect: the manager cannot reach the primary but has not yet heard
	// from every replica since.
	Suspect Health = "suspect"
	// Unreachable: the manager cannot reach the primary but some replica
	// still receives from it. Reported, never failed over.
	Unreachable Health = "unreachable"
	// Dead: the manager cannot reach the primary and every replica that
	// can vouch says it lost it too (or is unreachable itself), at least
	// one of them reachable.
	Dead Health = "dead"
)

// Assessment is a verdict with the evidence for it.
type Assessment struct {
	Health Health
	Reason string
	// Replicas maps each replica to what it says about the primary.
	Replicas map[string]string
}

// Detector decides whether the primary is dead from monitor observations.
// It remembers when each replica last received something (an event or a
// heartbeat) so that a replica whose IO thread still looks connected to a
// hung primary is recognised. Not safe for concurrent use: the engine's Run
// goroutine owns it.
type Detector struct {
	failCount int
	clock     Clock
	progress  map[string]progress
}

type progress struct {
	mark string
	at   time.Time
}

// NewDetector returns a detector requiring failCount consecutive failed
// probes of the primary.
func NewDetector(failCount int, clock Clock) *Detector {
	return &Detector{failCount: failCount, clock: clock, progress: map[string]progress{}}
}

// Assess judges primary given the newest observation; replicas are the
// other servers that could vouch (quarantined ones excluded by the caller).
func (d *Detector) Assess(obs topology.Observation, primary topology.Server, replicas []string) Assessment {
	a := Assessment{Replicas: map[string]string{}}
	for _, r := range replicas {
		d.track(obs.Probes[r])
	}
	pp, ok := obs.Probes[primary.Name]
	if !ok || pp.OK() {
		a.Health = Healthy
		return a
	}
	if pp.Failures < d.failCount {
		a.Health, a.Reason = Suspect, fmt.Sprintf("%d failed probe(s): %s", pp.Failures, pp.Err)
		return a
	}
	var confirm, reachable, deny, pending int
	for _, r := range replicas {
		verdict, say := d.replicaSays(obs.Probes[r], pp, primary.Address)
		a.Replicas[r] = say
		switch verdict {
		case confirms:
			confirm++
			if p := obs.Probes[r]; p.OK() {
				reachable++
			}
		case denies:
			deny++
		case pendingVerdict:
			pending++
		}
	}
	switch {
	case deny > 0:
		a.Health, a.Reason = Unreachable, "the manager cannot reach the primary but a replica still receives from it"
	case pending > 0:
		a.Health, a.Reason = Suspect, "waiting for fresh replica probes"
	case confirm == 0:
		a.Health, a.Reason = Unreachable, "no replica can confirm the primary is gone"
	case reachable == 0:
		a.Health, a.Reason = Unreachable, "the manager reaches neither the primary nor any replica: it may be the one cut off"
	default:
		a.Health, a.Reason = Dead, fmt.Sprintf("%d failed probes (%s) and %d replica(s) confirm", pp.Failures, pp.Err, confirm)
	}
	return a
}

type verdict int

const (
	neutral verdict = iota
	confirms
	denies
	pendingVerdict
)

func (d *Detector) replicaSays(p topology.Probe, primary topology.Probe, primaryAddr string) (verdict, string) {
	if p.Name == "" || !p.At.After(primary.LastOK) {
		return pendingVerdict, "not probed since the primary last answered"
	}
	if !p.OK() {
		return confirms, "unreachable too: " + p.Err
	}
	rs := p.Replica
	if rs == nil || rs.Source() != primaryAddr {
		return neutral, "does not replicate from the primary"
	}
	if !rs.IOConnected() {
		return confirms, fmt.Sprintf("IO thread %s (%s) errno %d", rs.IORunning, rs.IOState, rs.LastIOErrno)
	}
	if rs.LastIOErrno != 0 {
		return confirms, fmt.Sprintf("IO error %d: %s", rs.LastIOErrno, rs.LastIOError)
	}
	last := d.progress[p.Name].at
	if idle := d.clock.Now().Sub(last); idle > staleAfter(rs.HeartbeatPeriod) {
		return confirms, fmt.Sprintf("IO thread connected but nothing received for %v", idle.Round(time.Millisecond))
	}
	return denies, "still receiving events or heartbeats"
}

// staleAfter is how long a connected IO thread may receive nothing before
// the replica counts as having lost its primary: three heartbeat periods,
// at least one second.
func staleAfter(period time.Duration) time.Duration {
	if period <= 0 {
		return 5 * time.Second
	}
	return max(3*period, time.Second)
}

// track records when a replica's received position or heartbeat count last
// moved.
func (d *Detector) track(p topology.Probe) {
	if p.Name == "" || !p.OK() || p.Replica == nil {
		return
	}
	rs := p.Replica
	mark := fmt.Sprintf("%d/%s/%d/%s/%s", rs.Heartbeats, rs.ReadSourceLogFile, rs.ReadSourceLogPos, rs.GTIDIOPos, rs.Source())
	if d.progress[p.Name].mark != mark {
		d.progress[p.Name] = progress{mark: mark, at: p.At}
	}
}
