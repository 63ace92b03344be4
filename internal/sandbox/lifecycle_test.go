package sandbox_test

import (
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"vigil/internal/config"
	"vigil/internal/sandbox"
	"vigil/internal/sandbox/sandboxtest"
)

// TestLifecycle drives one cluster through the drills in order: replication,
// stop/start, kill/start, SIGSTOP/SIGCONT, down and up again with data kept,
// reopening from another handle, and destroy.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "sb")
	opts := sandbox.Options{Dir: dir, Replicas: 2, PrimaryWritable: true}
	c := up(t, opts)
	app := c.App()
	db1 := sandboxtest.OpenDB(t, c.DSN("db1", app.User, app.Password, "moodle"))

	t.Run("replication", func(t *testing.T) {
		sandboxtest.Exec(t, db1, "CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1)")
		for _, r := range []string{"db2", "db3"} {
			sandboxtest.WaitReplicated(t, c, 20*time.Second, "db1", r)
			if got := sandboxtest.QueryInt(t, sandboxtest.OpenDB(t, c.AdminDSN(r)), "SELECT COUNT(*) FROM moodle.t"); got != 1 {
				t.Errorf("%s: got %d rows, want 1", r, got)
			}
		}
	})
	t.Run("stop and start keep data", func(t *testing.T) {
		if err := c.Stop(testCtx(t), "db2"); err != nil {
			t.Fatal(err)
		}
		if c.Running("db2") {
			t.Fatal("db2 still running after Stop")
		}
		sandboxtest.Exec(t, db1, "INSERT INTO t VALUES (2)")
		if err := c.Start(testCtx(t), "db2"); err != nil {
			t.Fatal(err)
		}
		sandboxtest.WaitReplicated(t, c, 20*time.Second, "db1", "db2")
		if got := sandboxtest.QueryInt(t, sandboxtest.OpenDB(t, c.AdminDSN("db2")), "SELECT COUNT(*) FROM moodle.t"); got != 2 {
			t.Errorf("db2 after restart: got %d rows, want 2", got)
		}
	})
	t.Run("kill and start", func(t *testing.T) {
		pid := c.PID("db3")
		if pid == 0 {
			t.Fatal("db3 has no pid")
		}
		if err := c.Kill("db3"); err != nil {
			t.Fatal(err)
		}
		if got := c.PID("db3"); got != 0 {
			t.Fatalf("PID(db3) after Kill = %d, want 0", got)
		}
		sandboxtest.Exec(t, db1, "INSERT INTO t VALUES (3)")
		if err := c.Start(testCtx(t), "db3"); err != nil {
			t.Fatal(err)
		}
		sandboxtest.WaitReplicated(t, c, 20*time.Second, "db1", "db3")
	})
	t.Run("sigstop and sigcont", func(t *testing.T) {
		if err := c.Signal("db2", syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		db := sandboxtest.OpenDB(t, c.AdminDSN("db2")+"&readTimeout=500ms")
		if err := db.Ping(); err == nil {
			t.Error("ping of a SIGSTOPped server succeeded, want a timeout")
		}
		if err := c.Signal("db2", syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		sandboxtest.WaitReplicated(t, c, 20*time.Second, "db1", "db2")
	})
	outer := t
	t.Run("down and up keep data and ports", func(t *testing.T) {
		ports := nodePorts(c)
		if err := c.Down(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		if pids := strayProcesses(dir); len(pids) > 0 {
			t.Fatalf("processes left after Down: %v", pids)
		}
		c2 := up(outer, opts)
		if got := nodePorts(c2); got != ports {
			t.Errorf("ports after up again: got %v, want %v", got, ports)
		}
		db := sandboxtest.OpenDB(t, c2.DSN("db1", app.User, app.Password, "moodle"))
		sandboxtest.Exec(t, db, "INSERT INTO t VALUES (4)") // PrimaryWritable applied again
		sandboxtest.WaitReplicated(t, c2, 20*time.Second, "db1", "db3")
		if got := sandboxtest.QueryInt(t, sandboxtest.OpenDB(t, c2.AdminDSN("db3")), "SELECT COUNT(*) FROM moodle.t"); got != 4 {
			t.Errorf("db3 after down/up: got %d rows, want 4", got)
		}
	})
	t.Run("open finds running servers", func(t *testing.T) {
		o, err := sandbox.Open(sandbox.Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range o.Nodes() {
			if o.PID(n.Name) == 0 {
				t.Errorf("Open: %s has no pid, want the running server's", n.Name)
			}
		}
		// Replicas started with their primary retry the connection every second.
		var st *sandbox.Status
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if st = o.Status(testCtx(t)); replicating(st) {
				break
			}
		}
		wantRoles := []string{"primary", "replica", "replica"}
		for i, s := range st.Servers {
			if !s.Up || s.Role != wantRoles[i] || s.Error != "" {
				t.Errorf("status %s: up=%v role=%q err=%q, want up, %s", s.Name, s.Up, s.Role, s.Error, wantRoles[i])
			}
			if i > 0 && (s.Replication == nil || s.Replication.IORunning != "Yes" || s.Replication.SQLRunning != "Yes") {
				t.Errorf("status %s: replication %+v, want both threads running", s.Name, s.Replication)
			}
		}
	})
	t.Run("destroy", func(t *testing.T) {
		if err := c.Destroy(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("dir after Destroy: stat err %v, want not exist", err)
		}
		if pids := strayProcesses(dir); len(pids) > 0 {
			t.Errorf("processes left after Destroy: %v", pids)
		}
	})
}

func replicating(st *sandbox.Status) bool {
	for _, s := range st.Servers[1:] {
		if r := s.Replication; r == nil || r.IORunning != "Yes" || r.SQLRunning != "Yes" {
			return false
		}
	}
	return true
}

func nodePorts(c *sandbox.Cluster) [3]int {
	var p [3]int
	for i, n := range c.Nodes() {
		p[i] = n.Port
	}
	return p
}

func TestConfigRoundTripsThroughAFile(t *testing.T) {
	t.Parallel()
	c := up(t, sandbox.Options{Replicas: 1, AppUser: "app", AppPassword: "pw"})
	data, err := config.Marshal(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "vigil.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("Load of the sandbox config: %v\n%s", err, data)
	}
	if got, want := len(cfg.Cluster.Servers), 2; got != want {
		t.Fatalf("servers: got %d, want %d", got, want)
	}
	if got, want := cfg.Cluster.Servers[1].Address, c.Node("db2").Addr; got != want {
		t.Errorf("db2 address: got %s, want %s", got, want)
	}
	if got := cfg.Users; len(got) != 1 || got[0].Name != "app" || got[0].Password != "pw" {
		t.Errorf("users: got %+v, want app/pw", got)
	}
	adm := cfg.Accounts.Admin
	db := sandboxtest.OpenDB(t, c.DSN("db2", adm.User, adm.Password, ""))
	if got := sandboxtest.QueryInt(t, db, "SELECT 1"); got != 1 {
		t.Errorf("admin login on db2: got %d", got)
	}
	st, err := os.Stat(filepath.Join(c.Dir, "sandbox.json"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("sandbox.json mode: got %v, %v; want 0600", st.Mode().Perm(), err)
	}
}

func TestSemiSync(t *testing.T) {
	t.Parallel()
	c := up(t, sandbox.Options{Replicas: 1, SemiSync: true, PrimaryWritable: true})
	db1 := sandboxtest.OpenDB(t, c.AdminDSN("db1"))
	var name, status string
	if err := db1.QueryRow("SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_status'").Scan(&name, &status); err != nil || status != "ON" {
		t.Fatalf("Rpl_semi_sync_master_status = %q, %v; want ON", status, err)
	}
	var wait string
	if err := db1.QueryRow("SELECT @@rpl_semi_sync_master_wait_point").Scan(&wait); err != nil || wait != "AFTER_SYNC" {
		t.Errorf("wait point = %q, %v; want AFTER_SYNC", wait, err)
	}
	start := time.Now()
	sandboxtest.Exec(t, db1, "CREATE TABLE moodle.s (id INT PRIMARY KEY)", "INSERT INTO moodle.s VALUES (1)")
	if time.Since(start) > 5*time.Second {
		t.Errorf("semi-sync writes took %v: the replica does not acknowledge", time.Since(start))
	}
	var yes string
	if err := db1.QueryRow("SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_yes_tx'").Scan(&name, &yes); err != nil || yes == "0" {
		t.Errorf("Rpl_semi_sync_master_yes_tx = %q, %v; want > 0", yes, err)
	}
}

// TestPrimaryWritableFollowsTheRealPrimary swaps the roles by hand (as a
// failover would) and checks that a later Up opens db2, not db1.
func TestPrimaryWritableFollowsTheRealPrimary(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "sb")
	opts := sandbox.Options{Dir: dir, Replicas: 1, PrimaryWritable: true}
	c := up(t, opts)
	db1, db2 := sandboxtest.OpenDB(t, c.AdminDSN("db1")), sandboxtest.OpenDB(t, c.AdminDSN("db2"))
	repl := c.Replication()
	sandboxtest.Exec(t, db1, "SET GLOBAL read_only=ON")
	sandboxtest.WaitReplicated(t, c, 20*time.Second, "db1", "db2")
	sandboxtest.Exec(t, db2, "STOP SLAVE", "RESET SLAVE ALL")
	sandboxtest.Exec(t, db1, "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT="+strconv.Itoa(c.Node("db2").Port)+
		", MASTER_USER='"+repl.User+"', MASTER_PASSWORD='"+repl.Password+"', MASTER_USE_GTID=slave_pos", "START SLAVE")
	if err := c.Down(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	c2 := up(t, opts)
	for name, want := range map[string]int{"db1": 1, "db2": 0} {
		if got := sandboxtest.QueryInt(t, sandboxtest.OpenDB(t, c2.AdminDSN(name)), "SELECT @@global.read_only"); got != want {
			t.Errorf("%s read_only after up: got %d, want %d", name, got, want)
		}
	}
}
