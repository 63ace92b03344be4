package failover

import (
	"testing"
	"time"

	"vigil/internal/topology"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func replicaProbe(name string, at time.Time, io string, hb uint64) topology.Probe {
	return topology.Probe{Name: name, At: at, LastOK: at, ReadOnly: true, Replica: &topology.ReplicaStatus{
		SourceHost: "127.0.0.1", SourcePort: 3001, IORunning: io, SQLRunning: true,
		IOState: "Waiting for master to send event", Heartbeats: hb, HeartbeatPeriod: 500 * time.Millisecond}}
}

func TestDetectorAssess(t *testing.T) {
	prim := topology.Server{Name: "db1", Address: "127.0.0.1:3001"}
	downPrimary := func(failures int) topology.Probe {
		return topology.Probe{Name: "db1", At: t0.Add(time.Second), LastOK: t0, Err: "connection refused", Failures: failures}
	}
	later := t0.Add(1500 * time.Millisecond)
	cases := []struct {
		name   string
		probes []topology.Probe
		want   Health
	}{
		{"primary answers", []topology.Probe{{Name: "db1", At: t0, LastOK: t0}, replicaProbe("db2", t0, "Yes", 1)}, Healthy},
		{"one failure is not enough", []topology.Probe{downPrimary(1), replicaProbe("db2", later, "Connecting", 1)}, Suspect},
		{"replica not re-probed since", []topology.Probe{downPrimary(3), replicaProbe("db2", t0.Add(-time.Second), "Connecting", 1)}, Suspect},
		{"replicas confirm", []topology.Probe{downPrimary(2), replicaProbe("db2", later, "Connecting", 1), replicaProbe("db3", later, "No", 1)}, Dead},
		{"one replica still receives", []topology.Probe{downPrimary(2), replicaProbe("db2", later, "Connecting", 1), replicaProbe("db3", later, "Yes", 1)}, Unreachable},
		{"replica unreachable too", []topology.Probe{downPrimary(2), replicaProbe("db2", later, "Connecting", 1),
			{Name: "db3", At: later, Err: "refused", Failures: 1}}, Dead},
		{"no replica can vouch", []topology.Probe{downPrimary(2), {Name: "db2", At: later, LastOK: later, ReadOnly: true}}, Unreachable},
		{"manager cut off from everything", []topology.Probe{downPrimary(2), {Name: "db2", At: later, Err: "timeout", Failures: 3},
			{Name: "db3", At: later, Err: "timeout", Failures: 3}}, Unreachable},
	}
	for _, c := range cases {
		clock := &fakeClock{t: later}
		d := NewDetector(2, clock)
		obs := topology.Observation{Probes: map[string]topology.Probe{}}
		var reps []string
		for _, p := range c.probes {
			obs.Probes[p.Name] = p
			if p.Name != "db1" {
				reps = append(reps, p.Name)
			}
		}
		if got := d.Assess(obs, prim, reps); got.Health != c.want {
			t.Errorf("%s: got %s (%s %v), want %s", c.name, got.Health, got.Reason, got.Replicas, c.want)
		}
	}
}

func TestDetectorHungPrimaryNeedsSilentReplicas(t *testing.T) {
	prim := topology.Server{Name: "db1", Address: "127.0.0.1:3001"}
	clock := &fakeClock{t: t0}
	d := NewDetector(2, clock)
	obs := func(at time.Time, hb uint64) topology.Observation {
		return topology.Observation{Probes: map[string]topology.Probe{
			"db1": {Name: "db1", At: at, LastOK: t0, Err: "i/o timeout", Failures: 3},
			"db2": replicaProbe("db2", at, "Yes", hb),
		}}
	}
	// Heartbeats keep arriving: the replica still hears the primary.
	for i := range 4 {
		clock.t = t0.Add(time.Duration(i+1) * 400 * time.Millisecond)
		if got := d.Assess(obs(clock.t, uint64(i)), prim, []string{"db2"}); got.Health != Unreachable {
			t.Fatalf("heartbeats flowing, step %d: got %s, want unreachable", i, got.Health)
		}
	}
	// Heartbeats stop: after three periods (1.5 s) the replica confirms.
	stopped := clock.t
	clock.t = stopped.Add(time.Second)
	if got := d.Assess(obs(clock.t, 3), prim, []string{"db2"}); got.Health != Unreachable {
		t.Fatalf("1s of silence: got %s, want unreachable", got.Health)
	}
	clock.t = stopped.Add(1600 * time.Millisecond)
	if got := d.Assess(obs(clock.t, 3), prim, []string{"db2"}); got.Health != Dead {
		t.Fatalf("1.6s of silence: got %s (%v), want dead", got.Health, got.Replicas)
	}
}
