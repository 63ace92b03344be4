package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vigil/internal/config"
	"vigil/internal/failover"
	"vigil/internal/manager"
	"vigil/internal/sandbox"
	"vigil/internal/sandbox/sandboxtest"
	"vigil/internal/topology"
)

func bootstrapped(t *testing.T, m *mgr) *topology.Snapshot {
	t.Helper()
	return sandboxtest.WaitSnapshot(t, m.eng, 10*time.Second, "bootstrap", func(s *topology.Snapshot) bool {
		return s.Primary == "db1" && !nodeOf(t, s, "db1").ReadOnly
	})
}

func killAndWaitFailover(t *testing.T, c *sandbox.Cluster, m *mgr, victim string) *topology.Snapshot {
	t.Helper()
	if err := c.Kill(victim); err != nil {
		t.Fatal(err)
	}
	return sandboxtest.WaitSnapshot(t, m.eng, 10*time.Second, "failover away from "+victim, func(s *topology.Snapshot) bool {
		return s.Primary != "" && s.Primary != victim
	})
}

// restart starts the stopped server node again (within 60s).
func restart(t *testing.T, c *sandbox.Cluster, node string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.Start(ctx, node); err != nil {
		t.Fatal(err)
	}
}

func TestOldPrimaryRestartedRejoinsReadOnly(t *testing.T) {
	t.Parallel()
	c, m := managedCluster(t, sandbox.Options{Replicas: 2})
	setupTable(t, c, "db1")
	sandboxtest.WaitReplicated(t, c, 10*time.Second, "db1", "db2", "db3")
	snap := killAndWaitFailover(t, c, m, "db1")
	restart(t, c, "db1")
	sandboxtest.WaitSnapshot(t, m.eng, 10*time.Second, "db1 to rejoin as a replica", func(s *topology.Snapshot) bool {
		n := nodeOf(t, s, "db1")
		return n.Up && n.Role == topology.RoleReplica && n.ReadOnly
	})
	app := c.App()
	sandboxtest.Exec(t, sandboxtest.OpenDB(t, c.DSN(snap.Primary, app.User, app.Password, "")), "INSERT INTO t.w (id, writer) VALUES (77, 1)")
	var pos string
	if err := sandboxtest.OpenDB(t, c.AdminDSN(snap.Primary)).QueryRow("SELECT @@gtid_binlog_pos").Scan(&pos); err != nil {
		t.Fatal(err)
	}
	var waited int
	db1 := sandboxtest.OpenDB(t, c.AdminDSN("db1"))
	if err := db1.QueryRow("SELECT MASTER_GTID_WAIT(?, 10)", pos).Scan(&waited); err != nil || waited != 0 {
		t.Fatalf("rejoined db1 did not replicate %s from %s: %d, %v", pos, snap.Primary, waited, err)
	}
	if _, err := sandboxtest.OpenDB(t, c.DSN("db1", app.User, app.Password, "")).Exec("INSERT INTO t.w (id, writer) VALUES (78, 1)"); err == nil {
		t.Errorf("app write on the rejoined old primary succeeded; want read-only")
	}
}

func TestErrantOldPrimaryIsQuarantinedAcrossManagerRestart(t *testing.T) {
	t.Parallel()
	c := sandboxtest.New(t, sandbox.Options{Replicas: 2})
	stateDir := t.TempDir()
	m := startManager(t, c, stateDir, nil)
	bootstrapped(t, m)
	snap := killAndWaitFailover(t, c, m, "db1")
	m.stop() // the manager is down while db1 comes back detached

	restart(t, c, "db1")
	sandboxtest.Exec(t, sandboxtest.OpenDB(t, c.AdminDSN("db1")), "SET GLOBAL read_only=OFF", "CREATE DATABASE errant", "SET GLOBAL read_only=ON")

	m2 := startManager(t, c, stateDir, nil)
	got := sandboxtest.WaitSnapshot(t, m2.eng, 10*time.Second, "db1 quarantined", func(s *topology.Snapshot) bool {
		n := nodeOf(t, s, "db1")
		return n.Up && n.Role == topology.RoleQuarantined
	})
	if got.Epoch < snap.Epoch || got.Primary != snap.Primary {
		t.Errorf("restarted manager: epoch %d primary %q, want >= %d and %q", got.Epoch, got.Primary, snap.Epoch, snap.Primary)
	}
	time.Sleep(500 * time.Millisecond)
	st := m2.eng.Status()
	for _, n := range st.Nodes {
		if n.Name == "db1" && !strings.Contains(n.Note, "errant") {
			t.Errorf("db1 status note %q, want it to report errant transactions", n.Note)
		}
	}
	var src string
	_ = sandboxtest.OpenDB(t, c.AdminDSN("db1")).QueryRow("SELECT COUNT(*) FROM information_schema.SLAVE_STATUS").Scan(&src)
	if src != "0" && src != "" {
		t.Errorf("quarantined db1 replicates (%s slave connections), want it left alone", src)
	}
}

func TestAntiFlapBlocksSecondFailoverUntilAck(t *testing.T) {
	t.Parallel()
	c, m := managedCluster(t, sandbox.Options{Replicas: 2})
	first := killAndWaitFailover(t, c, m, "db1")
	other := map[string]string{"db2": "db3", "db3": "db2"}[first.Primary]
	sandboxtest.WaitSnapshot(t, m.eng, 5*time.Second, other+" following "+first.Primary, func(s *topology.Snapshot) bool {
		return nodeOf(t, s, other).Role == topology.RoleReplica
	})
	if err := c.Kill(first.Primary); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	s, _ := m.eng.Current()
	if s.Primary == other {
		t.Fatalf("a second automatic failover ran within the block period")
	}
	blocked := false
	for _, e := range m.eng.Events(0) {
		blocked = blocked || e.Kind == "blocked"
	}
	if !blocked {
		t.Errorf("no 'blocked' event after the second failure")
	}
	if err := manager.NewClient(m.url).Ack(context.Background()); err != nil {
		t.Fatal(err)
	}
	sandboxtest.WaitSnapshot(t, m.eng, 10*time.Second, "failover to "+other+" after ack", func(s *topology.Snapshot) bool { return s.Primary == other })
}

func TestManagerRestartedMidFailoverCompletesIt(t *testing.T) {
	t.Parallel()
	c := sandboxtest.New(t, sandbox.Options{Replicas: 2})
	stateDir := t.TempDir()
	m := startManager(t, c, stateDir, nil)
	bootstrapped(t, m)
	m.stop()
	// The manager "crashed" right after publishing the hold epoch and
	// before promoting: that is what its state file says.
	path := failover.FromConfig(c.Config(), filepath.Join(stateDir, "vigil.yaml")).StatePath
	st, err := failover.LoadState(path)
	if err != nil {
		t.Fatal(err)
	}
	st.Epoch, st.Primary, st.Op, st.OpFrom = st.Epoch+1, "", "failover", "db1"
	if err := failover.SaveState(path, st); err != nil {
		t.Fatal(err)
	}
	if err := c.Kill("db1"); err != nil {
		t.Fatal(err)
	}
	m2 := startManager(t, c, stateDir, nil)
	s := sandboxtest.WaitSnapshot(t, m2.eng, 10*time.Second, "the interrupted failover to complete", func(s *topology.Snapshot) bool {
		return s.Primary != "" && s.Primary != "db1"
	})
	if s.Epoch != 3 {
		t.Errorf("epoch after completing: got %d, want 3", s.Epoch)
	}
	data, _ := os.ReadFile(path)
	var saved failover.State
	if err := json.Unmarshal(data, &saved); err != nil || saved.Primary != s.Primary || saved.Op != "" {
		t.Errorf("state file after completion: %s (%v); want primary %s and no operation", data, err, s.Primary)
	}
}

func TestFailoverHooks(t *testing.T) {
	t.Parallel()
	c := sandboxtest.New(t, sandbox.Options{Replicas: 2})
	dir := t.TempDir()
	gate := filepath.Join(dir, "allow")
	post := filepath.Join(dir, "post")
	m := startManager(t, c, "", func(cfg *config.Config) {
		cfg.Manager.PreFailover = []string{"test -e " + gate}
		cfg.Manager.PostFailover = []string{`echo "$VIGIL_COMMAND $VIGIL_OLD_PRIMARY $VIGIL_NEW_PRIMARY $VIGIL_EPOCH" > ` + post}
	})
	bootstrapped(t, m)
	if err := c.Kill("db1"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	if s, _ := m.eng.Current(); s.Primary != "db1" || s.Epoch != 1 {
		t.Fatalf("pre-failover hook failed but the failover ran: primary %q epoch %d", s.Primary, s.Epoch)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s := sandboxtest.WaitSnapshot(t, m.eng, 10*time.Second, "failover once the hook allows it", func(s *topology.Snapshot) bool {
		return s.Primary != "" && s.Primary != "db1"
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		data, _ := os.ReadFile(post)
		want := "failover db1 " + s.Primary + " 3"
		if strings.TrimSpace(string(data)) == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("post hook wrote %q, want %q", data, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A replica that was down during the failover still points at the old
// primary when it returns; the manager re-points it at the new one.
func TestReplicaDownDuringFailoverIsAdopted(t *testing.T) {
	t.Parallel()
	c, m := managedCluster(t, sandbox.Options{Replicas: 2})
	setupTable(t, c, "db1")
	sandboxtest.WaitReplicated(t, c, 10*time.Second, "db1", "db2", "db3")
	if err := c.Kill("db3"); err != nil {
		t.Fatal(err)
	}
	snap := killAndWaitFailover(t, c, m, "db1")
	if snap.Primary != "db2" {
		t.Fatalf("got primary %s, want db2 (the only replica left)", snap.Primary)
	}
	app := c.App()
	sandboxtest.Exec(t, sandboxtest.OpenDB(t, c.DSN("db2", app.User, app.Password, "")), "INSERT INTO t.w (id, writer) VALUES (5, 5)")
	restart(t, c, "db3")
	sandboxtest.WaitSnapshot(t, m.eng, 10*time.Second, "db3 following db2", func(s *topology.Snapshot) bool {
		n := nodeOf(t, s, "db3")
		return n.Up && n.Role == topology.RoleReplica
	})
	sandboxtest.WaitReplicated(t, c, 10*time.Second, "db2", "db3")
}

// The manager loses access to the primary (its account is locked there
// and its connections killed) while replication keeps flowing: the
// replicas deny that the primary is gone, so there is no failover.
func TestPrimaryUnreachableFromManagerOnlyIsNoFailover(t *testing.T) {
	t.Parallel()
	c, m := managedCluster(t, sandbox.Options{Replicas: 2})
	app := c.App()
	db1 := sandboxtest.OpenDB(t, c.DSN("db1", app.User, app.Password, ""))
	db1.SetMaxOpenConns(1)
	var host string
	admin := c.Admin().User
	if err := db1.QueryRow("SELECT Host FROM mysql.user WHERE User = ? LIMIT 1", admin).Scan(&host); err != nil {
		t.Fatal(err)
	}
	sandboxtest.Exec(t, db1, "SET SESSION sql_log_bin=0", fmt.Sprintf("ALTER USER '%s'@'%s' ACCOUNT LOCK", admin, host))
	rows, err := db1.Query("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ?", admin)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		_ = rows.Scan(&id)
		ids = append(ids, id)
	}
	rows.Close()
	for _, id := range ids {
		_, _ = db1.Exec(fmt.Sprintf("KILL CONNECTION %d", id))
	}
	time.Sleep(3 * time.Second)
	s, _ := m.eng.Current()
	if s.Primary != "db1" || s.Epoch != 1 {
		t.Fatalf("manager locked out of the primary only: got primary %q epoch %d, want db1 1 (no failover)", s.Primary, s.Epoch)
	}
	var reported string
	for _, e := range m.eng.Events(0) {
		if e.Kind == "unreachable" {
			reported = e.Message
		}
	}
	if !strings.Contains(reported, "still receives") {
		t.Errorf("unreachable event %q, want the replicas to deny the failure", reported)
	}
	sandboxtest.Exec(t, db1, fmt.Sprintf("ALTER USER '%s'@'%s' ACCOUNT UNLOCK", admin, host))
}

// A forced failover of a live primary under write load (asynchronous
// replication) lets a replica apply everything the old primary
// acknowledged before promoting, so no acknowledged write is lost and the
// old primary rejoins.
func TestForcedFailoverOfLivePrimaryLosesNothing(t *testing.T) {
	t.Parallel()
	c, m := managedCluster(t, sandbox.Options{Replicas: 2})
	setupTable(t, c, "db1")
	wl, stop := directWriters(t, c, m.eng, 4)
	time.Sleep(500 * time.Millisecond)
	res, err := manager.NewClient(m.url).Failover(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	stop()
	t.Logf("forced failover %s -> %s, writes held %v", res.From, res.To, res.Held)
	checkAllPresent(t, sandboxtest.OpenDB(t, c.AdminDSN(res.To)), wl.acked)
	sandboxtest.WaitSnapshot(t, m.eng, 10*time.Second, "db1 rejoined", func(s *topology.Snapshot) bool {
		return nodeOf(t, s, "db1").Role == topology.RoleReplica
	})
}
