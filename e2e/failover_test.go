package e2e

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"syscall"
	"testing"
	"time"

	"vigil/internal/sandbox"
	"vigil/internal/sandbox/sandboxtest"
	"vigil/internal/topology"
)

// directWriters insert rows from n sessions into whichever server the
// manager's newest epoch names as primary (the job the proxy does in
// production), recording every acknowledged id in the returned log;
// the returned func stops them and waits.
func directWriters(t *testing.T, c *sandbox.Cluster, src topology.Source, n int) (*writeLog, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	wl := &writeLog{}
	var wg sync.WaitGroup
	app := c.App()
	for w := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dbs := map[string]*sql.DB{}
			defer func() {
				for _, db := range dbs {
					db.Close()
				}
			}()
			for seq := 1; ctx.Err() == nil; {
				snap, _ := src.Current()
				if snap.Primary == "" {
					time.Sleep(2 * time.Millisecond)
					continue
				}
				db := dbs[snap.Primary]
				if db == nil {
					db, _ = sql.Open("mysql", c.DSN(snap.Primary, app.User, app.Password, "")+"&timeout=500ms")
					db.SetMaxOpenConns(1)
					dbs[snap.Primary] = db
				}
				ictx, cancel := context.WithTimeout(ctx, 3*time.Second)
				started := time.Now()
				_, err := db.ExecContext(ictx, "INSERT INTO t.w (id, writer) VALUES (?, ?)", idFor(w, seq), w)
				cancel()
				if err == nil {
					wl.ack(w, idFor(w, seq), snap.Primary, started)
					seq++
					continue
				}
				if ctx.Err() != nil {
					return
				}
				wl.mu.Lock()
				wl.errors++
				wl.mu.Unlock()
				seq++ // the id may or may not have been written; never reuse it
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	return wl, func() { cancel(); wg.Wait() }
}

func setupTable(t *testing.T, c *sandbox.Cluster, primary string) {
	app := c.App()
	sandboxtest.Exec(t, sandboxtest.OpenDB(t, c.DSN(primary, app.User, app.Password, "")),
		"CREATE DATABASE IF NOT EXISTS t", "CREATE TABLE t.w (id BIGINT PRIMARY KEY, writer INT, at TIMESTAMP(6) DEFAULT CURRENT_TIMESTAMP(6))")
}

func TestFailoverKill9UnderWriteLoadSemiSync(t *testing.T) {
	t.Parallel()
	c := sandboxtest.New(t, sandbox.Options{Replicas: 2, SemiSync: true})
	m := startManager(t, c, "", nil)
	sandboxtest.WaitSnapshot(t, m.eng, 10*time.Second, "bootstrap", func(s *topology.Snapshot) bool {
		return s.Primary == "db1" && s.Epoch == 1 && !nodeOf(t, s, "db1").ReadOnly
	})
	setupTable(t, c, "db1")

	const writers = 4
	wl, stop := directWriters(t, c, m.eng, writers)
	time.Sleep(700 * time.Millisecond)
	kill := time.Now()
	wl.setMark(kill, "db1")
	if err := c.Kill("db1"); err != nil {
		t.Fatal(err)
	}
	snap := waitNewPrimary(t, m, 10*time.Second)
	promoted := time.Since(kill)
	first, all := wl.waitResumed(t, writers, 10*time.Second, "writers did not all resume within 10s of the kill")
	time.Sleep(300 * time.Millisecond)
	stop()
	t.Logf("kill -9 -> new primary %s published after %v; first write acked after %v, all %d writers after %v; %d client errors; %d acked writes",
		snap.Primary, promoted.Round(time.Millisecond), first.Round(time.Millisecond), writers, all.Round(time.Millisecond), wl.errors, len(wl.acked))
	if snap.Epoch != 3 {
		t.Errorf("epoch after one failover: got %d, want 3 (1 bootstrap, 2 hold, 3 promoted)", snap.Epoch)
	}
	if first > 3*time.Second {
		t.Errorf("first acknowledged write %v after the kill, want under 3s", first)
	}
	checkAllPresent(t, sandboxtest.OpenDB(t, c.AdminDSN(snap.Primary)), wl.acked)
	other := map[string]string{"db2": "db3", "db3": "db2"}[snap.Primary]
	final := sandboxtest.WaitSnapshot(t, m.eng, 5*time.Second, "the other replica to follow the new primary", func(s *topology.Snapshot) bool {
		return nodeOf(t, s, other).Role == topology.RoleReplica && nodeOf(t, s, other).Up
	})
	if n := nodeOf(t, final, "db1"); n.Up || n.Role != topology.RoleQuarantined {
		t.Errorf("killed old primary: got up=%v role=%s, want down and out of routing", n.Up, n.Role)
	}
}

func TestReplicaKilledIsNoFailover(t *testing.T) {
	t.Parallel()
	c := sandboxtest.New(t, sandbox.Options{Replicas: 2})
	m := startManager(t, c, "", nil)
	sandboxtest.WaitSnapshot(t, m.eng, 10*time.Second, "bootstrap", func(s *topology.Snapshot) bool { return s.Primary == "db1" })
	if err := c.Kill("db3"); err != nil {
		t.Fatal(err)
	}
	sandboxtest.WaitSnapshot(t, m.eng, 5*time.Second, "db3 down", func(s *topology.Snapshot) bool { return !nodeOf(t, s, "db3").Up })
	time.Sleep(2 * time.Second)
	s, _ := m.eng.Current()
	if s.Primary != "db1" || s.Epoch != 1 {
		t.Fatalf("after a replica died: got primary %q epoch %d, want db1 1 (no failover)", s.Primary, s.Epoch)
	}
}

var errNotAcked = errors.New("not acknowledged")

func TestSIGSTOPPrimaryIsReplacedAndNeverWritableAgain(t *testing.T) {
	t.Parallel()
	c := sandboxtest.New(t, sandbox.Options{Replicas: 2, SemiSync: true})
	m := startManager(t, c, "", nil)
	sandboxtest.WaitSnapshot(t, m.eng, 10*time.Second, "bootstrap", func(s *topology.Snapshot) bool { return s.Primary == "db1" && !nodeOf(t, s, "db1").ReadOnly })
	setupTable(t, c, "db1")
	app := c.App()
	// A stale client, connected straight to db1, as an application that
	// bypasses the proxy would be.
	stale := sandboxtest.OpenDB(t, c.DSN("db1", app.User, app.Password, ""))
	stale.SetMaxOpenConns(1)
	sandboxtest.Exec(t, stale, "INSERT INTO t.w (id, writer) VALUES (1, 0)")

	stop := time.Now()
	if err := c.Signal("db1", syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Signal("db1", syscall.SIGCONT) })
	snap := waitNewPrimary(t, m, 8*time.Second)
	replaced := time.Since(stop)
	t.Logf("SIGSTOP -> %s promoted after %v", snap.Primary, replaced.Round(time.Millisecond))
	if replaced > 6*time.Second {
		t.Errorf("hung primary replaced after %v, want within 6s", replaced)
	}
	newDB := sandboxtest.OpenDB(t, c.DSN(snap.Primary, app.User, app.Password, ""))
	sandboxtest.Exec(t, newDB, "INSERT INTO t.w (id, writer) VALUES (2, 0)")

	if err := c.Signal("db1", syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	// The stale session and a fresh one both try to write to the woken server.
	results := make(chan error, 2)
	for i, db := range []*sql.DB{stale, sandboxtest.OpenDB(t, c.DSN("db1", app.User, app.Password, "")+"&timeout=1s")} {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
			defer cancel()
			_, err := db.ExecContext(ctx, "INSERT INTO t.w (id, writer) VALUES (?, 9)", 100+i)
			if err == nil {
				results <- nil
				return
			}
			results <- errNotAcked
		}()
	}
	for range 2 {
		if err := <-results; err == nil {
			t.Errorf("a write to the woken old primary was acknowledged; want every write refused")
		}
	}
	// And it stays out: down (shut down) or read-only, never the primary.
	time.Sleep(500 * time.Millisecond)
	s, _ := m.eng.Current()
	if n := nodeOf(t, s, "db1"); s.Primary == "db1" || (n.Up && !n.ReadOnly) {
		t.Errorf("woken old primary: primary=%q up=%v read_only=%v; want fenced", s.Primary, n.Up, n.ReadOnly)
	}
}
