package topology_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"vigil/internal/sandbox"
	"vigil/internal/sandbox/sandboxtest"
	"vigil/internal/topology"
)

func TestMonitorAndStandaloneAgainstRealCluster(t *testing.T) {
	t.Parallel()
	c := sandboxtest.New(t, sandbox.Options{Replicas: 2, PrimaryWritable: true})
	cfg := topology.MonitorConfigFrom(c.Config())
	cfg.Interval, cfg.ConnectTimeout, cfg.ReadTimeout = 50*time.Millisecond, 200*time.Millisecond, 300*time.Millisecond
	log := slog.New(slog.DiscardHandler)
	mon, err := topology.NewMonitor(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	sa := topology.NewStandalone(mon, log)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = mon.Run(ctx) }()
	go func() { defer wg.Done(); _ = sa.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })

	snap := sandboxtest.WaitSnapshot(t, sa, 10*time.Second, "the wanted snapshot", func(s *topology.Snapshot) bool {
		return s.Primary == "db1" && countUp(s) == 3
	})
	if snap.Epoch != 1 {
		t.Errorf("first primary: got epoch %d, want 1", snap.Epoch)
	}
	obs, _ := mon.Observe()
	db1 := obs.Probes["db1"]
	if db1.Replica != nil || db1.ReadOnly || !db1.LogBin || !db1.GTIDStrictMode {
		t.Errorf("db1 probe: replica=%v read_only=%v log_bin=%v strict=%v; want nil false true true",
			db1.Replica, db1.ReadOnly, db1.LogBin, db1.GTIDStrictMode)
	}
	for _, name := range []string{"db2", "db3"} {
		p := obs.Probes[name]
		if p.Replica == nil || p.Replica.Source() != c.Node("db1").Addr || !p.ReadOnly {
			t.Fatalf("%s probe: replica=%+v read_only=%v; want replicating from db1 and read-only", name, p.Replica, p.ReadOnly)
		}
	}

	if err := c.Kill("db1"); err != nil {
		t.Fatal(err)
	}
	snap = sandboxtest.WaitSnapshot(t, sa, 10*time.Second, "the wanted snapshot", func(s *topology.Snapshot) bool { return s.Primary == "" })
	if n, _ := snap.Node("db1"); n.Up || snap.Epoch != 2 {
		t.Errorf("after kill: db1 up=%v epoch=%d; want down and epoch 2", n.Up, snap.Epoch)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		obs, changed := mon.Observe()
		lost := 0
		for _, name := range []string{"db2", "db3"} {
			if rs := obs.Probes[name].Replica; rs != nil && !rs.IOConnected() {
				lost++
			}
		}
		if lost == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replicas still report a connected IO thread 5s after the primary was killed: %+v %+v",
				obs.Probes["db2"].Replica, obs.Probes["db3"].Replica)
		}
		<-changed
	}
}

func countUp(s *topology.Snapshot) int {
	n := 0
	for _, x := range s.Nodes {
		if x.Up {
			n++
		}
	}
	return n
}
