package e2e

import (
	"context"
	"database/sql"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"vigil/internal/sandbox"
	"vigil/internal/sandbox/sandboxtest"
	"vigil/internal/topology"
)

// A 100,000-row transaction is acknowledged (semi-sync: a replica has it in
// its relay log) and the primary is killed 0-2 ms later. The manager must
// let the candidate apply it before promoting: it is on the new primary.
func TestFailoverRightAfterLargeTransactionKeepsIt(t *testing.T) {
	t.Parallel()
	c, m := managedCluster(t, sandbox.Options{Replicas: 2, SemiSync: true})
	app := c.App()
	db := sandboxtest.OpenDB(t, c.DSN("db1", app.User, app.Password, ""))
	sandboxtest.Exec(t, db, "CREATE DATABASE big", "CREATE TABLE big.t (id INT PRIMARY KEY, v INT NOT NULL DEFAULT 1)")
	start := time.Now()
	sandboxtest.Exec(t, db, "INSERT INTO big.t (id) SELECT seq FROM big.seq_1_to_100000")
	if err := c.Kill("db1"); err != nil {
		t.Fatal(err)
	}
	t.Logf("100000-row insert acknowledged after %v; primary killed right after", time.Since(start).Round(time.Millisecond))
	snap := waitNewPrimary(t, m, 20*time.Second)
	var n int
	if err := sandboxtest.OpenDB(t, c.AdminDSN(snap.Primary)).QueryRow("SELECT COUNT(*) FROM big.t").Scan(&n); err != nil || n != 100000 {
		t.Fatalf("new primary %s has %d rows (%v), want the acknowledged 100000", snap.Primary, n, err)
	}
}

func TestCleanShutdownOfPrimaryFailsOver(t *testing.T) {
	t.Parallel()
	c, m, addr := proxiedCluster(t)
	wl, stop := proxyWriters(t, proxyDSN(c, addr), 2)
	time.Sleep(300 * time.Millisecond)
	sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer scancel()
	wl.setMark(time.Now(), "")
	if err := c.Stop(sctx, "db1"); err != nil {
		t.Fatal(err)
	}
	snap := waitNewPrimary(t, m, 10*time.Second)
	wl.waitResumed(t, 2, 10*time.Second, "writers did not resume after a clean shutdown of the primary")
	stop()
	checkAllPresent(t, sandboxtest.OpenDB(t, c.AdminDSN(snap.Primary)), wl.acked)
	t.Logf("clean shutdown: %d client errors %q", wl.errors, wl.errs)
}

// After SIGSTOP, failover and SIGCONT, a client of the proxy writes only to
// the new primary, and nothing written to the woken server is acknowledged.
func TestSIGSTOPThroughProxyWritesOnlyToNewPrimary(t *testing.T) {
	t.Parallel()
	c, m, addr := proxiedCluster(t)
	wl, stop := proxyWriters(t, proxyDSN(c, addr), 2)
	time.Sleep(300 * time.Millisecond)
	if err := c.Signal("db1", syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Signal("db1", syscall.SIGCONT) })
	time.Sleep(20 * time.Millisecond) // every thread of db1 has stopped
	wl.setMark(time.Now(), "")
	snap := waitNewPrimary(t, m, 8*time.Second)
	if err := c.Signal("db1", syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	stop()
	first, all, ok := wl.resumed(2)
	t.Logf("SIGSTOP through the proxy: resumed=%v first %v all %v; %d errors %q; %d acked", ok, first, all, wl.errors, wl.errs, len(wl.acked))
	if !ok {
		t.Fatal("writers through the proxy did not resume")
	}
	newDB := sandboxtest.OpenDB(t, c.AdminDSN(snap.Primary))
	if lost := checkAllPresent(t, newDB, wl.acked); len(lost) > 0 {
		for _, n := range c.Nodes() {
			db := sandboxtest.OpenDB(t, c.AdminDSN(n.Name)+"&timeout=1s")
			var pos string
			_ = db.QueryRow("SELECT @@gtid_current_pos").Scan(&pos)
			for _, id := range lost {
				var k int
				err := db.QueryRow("SELECT COUNT(*) FROM t.w WHERE id = ?", id).Scan(&k)
				t.Logf("lost id %d on %s: present %d (%v); gtid_current_pos %s", id, n.Name, k, err, pos)
			}
		}
		logEvents(t, m)
	}
	// Nothing acknowledged may exist only on the old primary: every acked
	// id is on the new one (checked above), and the old primary is fenced.
	var ro int
	old := sandboxtest.OpenDB(t, c.AdminDSN("db1")+"&timeout=1s")
	if err := old.QueryRow("SELECT @@read_only").Scan(&ro); err == nil && ro == 0 {
		t.Errorf("woken old primary answers read_only=OFF")
	}
	_ = sql.ErrNoRows
}

// A primary killed under semi-sync write load may hold transactions in its
// binlog that no replica acknowledged (AFTER_SYNC: written, never
// confirmed to a client). Restarted with --init-rpl-role=SLAVE, MariaDB
// truncates that tail, and the manager rejoins it as a replica; the sandbox
// writes the option into every semi-sync server's my.cnf, as production
// configs should.
func TestCrashedSemiSyncPrimaryRejoinsWithInitRplRoleSlave(t *testing.T) {
	t.Parallel()
	c, m := managedCluster(t, sandbox.Options{Replicas: 2, SemiSync: true})
	setupTable(t, c, "db1")
	wl, stop := directWriters(t, c, m.eng, 4)
	time.Sleep(500 * time.Millisecond)
	snap := killAndWaitFailover(t, c, m, "db1")
	time.Sleep(300 * time.Millisecond)
	stop()
	cnf, err := os.ReadFile(c.Node("db1").ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cnf), "init-rpl-role = SLAVE") {
		t.Fatalf("db1's my.cnf lacks init-rpl-role = SLAVE:\n%s", cnf)
	}
	sctx, scancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer scancel()
	if err := c.Start(sctx, "db1"); err != nil {
		t.Fatal(err)
	}
	got := sandboxtest.WaitSnapshot(t, m.eng, 15*time.Second, "db1 rejoined or quarantined", func(s *topology.Snapshot) bool {
		n := nodeOf(t, s, "db1")
		return n.Up && (n.Role == topology.RoleReplica || n.Role == topology.RoleQuarantined)
	})
	if n := nodeOf(t, got, "db1"); n.Role != topology.RoleReplica {
		for _, ns := range m.eng.Status().Nodes {
			if ns.Name == "db1" {
				t.Errorf("db1 after restart with init-rpl-role=SLAVE: role %s (%s), want a replica", n.Role, ns.Note)
			}
		}
	}
	checkAllPresent(t, sandboxtest.OpenDB(t, c.AdminDSN(snap.Primary)), wl.acked)
}
