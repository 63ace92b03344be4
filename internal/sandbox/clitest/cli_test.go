package clitest

import (
	"encoding/json"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	_ "github.com/go-sql-driver/mysql"
	"vigil/internal/config"
	"vigil/internal/sandbox"
	"vigil/internal/sandbox/sandboxtest"
)

func status(t *testing.T, dir string) sandbox.Status {
	t.Helper()
	out := mustVigil(t, "sandbox", "status", "--dir", dir, "--json")
	var st sandbox.Status
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	return st
}

// freePort picks the proxy's port the way the sandbox picks its own: below
// the ephemeral range, so the proxy can be restarted on it.
func freePort(t *testing.T) int {
	t.Helper()
	ports, err := sandbox.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	return ports[0]
}

// TestServersOnlyCommands drives the server commands through the CLI
// without manager and proxy: up, status, stop/start/kill NODE, down, up
// again with data kept, destroy.
func TestServersOnlyCommands(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "sb")
	t.Cleanup(func() { vigil(t, "sandbox", "destroy", "--dir", dir) })
	out := mustVigil(t, "sandbox", "up", "--dir", dir, "--base-port", "0", "--servers-only", "--app-user", "u1", "--app-password", "p1")
	if !strings.Contains(out, "mariadb -h 127.0.0.1 -P") {
		t.Errorf("up output has no mariadb command line:\n%s", out)
	}
	cfg, err := config.Load(filepath.Join(dir, "vigil.yaml"))
	if err != nil {
		t.Fatalf("the written vigil.yaml does not load: %v", err)
	}
	if st, _ := os.Stat(filepath.Join(dir, "vigil.yaml")); st.Mode().Perm() != 0o600 {
		t.Errorf("vigil.yaml mode %v, want 0600", st.Mode().Perm())
	}
	db1 := cfg.Cluster.Servers[0].Address
	db := sandboxtest.OpenDB(t, "u1:p1@tcp("+db1+")/moodle")
	sandboxtest.Exec(t, db, "CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1)")

	st := status(t, dir)
	if got := len(st.Servers); got != 3 {
		t.Fatalf("status: %d servers, want 3", got)
	}
	for i, want := range []string{"primary", "replica", "replica"} {
		if s := st.Servers[i]; !s.Up || s.Role != want {
			t.Errorf("status %s: up=%v role=%q, want up %s", s.Name, s.Up, s.Role, want)
		}
	}
	if st.Manager.Running || st.Proxy.Running {
		t.Errorf("servers-only: manager running=%v proxy running=%v, want neither", st.Manager.Running, st.Proxy.Running)
	}
	for _, action := range []string{"stop", "kill"} {
		mustVigil(t, "sandbox", action, "db3", "--dir", dir)
		if s := status(t, dir).Servers[2]; s.Up || s.PID != 0 {
			t.Errorf("after %s db3: up=%v pid=%d, want down", action, s.Up, s.PID)
		}
		mustVigil(t, "sandbox", "start", "db3", "--dir", dir)
		if s := status(t, dir).Servers[2]; !s.Up {
			t.Errorf("after start db3: down, want up (%s)", s.Error)
		}
	}
	if code, out := vigil(t, "sandbox", "kill", "db9", "--dir", dir); code == 0 || !strings.Contains(out, "no such node") {
		t.Errorf("kill db9: exit %d %q, want an error naming the node", code, out)
	}
	mustVigil(t, "sandbox", "down", "--dir", dir)
	for _, s := range status(t, dir).Servers {
		if s.Up {
			t.Errorf("after down: %s is up", s.Name)
		}
	}
	code, out := vigil(t, "sandbox", "up", "--dir", dir, "--servers-only", "--replicas", "1", "--app-user", "u1")
	if code == 0 || !strings.Contains(out, "--replicas 1 (it has 2)") || strings.Contains(out, "--app-user") {
		t.Errorf("up with --replicas 1 on a 2-replica sandbox: exit %d %q, want an error naming --replicas only", code, out)
	}
	if s := status(t, dir).Servers[0]; s.Up {
		t.Error("the refused up started db1")
	}
	mustVigil(t, "sandbox", "up", "--dir", dir, "--servers-only", "--replicas", "2", "--app-user", "u1")
	db = sandboxtest.OpenDB(t, "u1:p1@tcp("+db1+")/moodle")
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM t").Scan(&n); err != nil || n != 1 {
		t.Errorf("after down and up: %d rows, %v; want 1", n, err)
	}
	text := mustVigil(t, "sandbox", "status", "--dir", dir)
	if !strings.Contains(text, "primary") || !strings.Contains(text, "replica") {
		t.Errorf("status text:\n%s", text)
	}
	mustVigil(t, "sandbox", "destroy", "--dir", dir)
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("after destroy: %v, want the dir gone", err)
	}
}

// TestUpServesQueriesThroughProxy is the whole `vigil sandbox up`: servers,
// manager and proxy, a write and a read through the proxy, proxy kill and
// start, down and destroy. It needs working `vigil manager` and `vigil
// proxy` roles.
func TestUpServesQueriesThroughProxy(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "sb")
	t.Cleanup(func() { vigil(t, "sandbox", "destroy", "--dir", dir) })
	proxyPort := strconv.Itoa(freePort(t))
	out := mustVigil(t, "sandbox", "up", "--dir", dir, "--base-port", "0", "--proxy-port", proxyPort)
	for _, want := range []string{"127.0.0.1:" + proxyPort, "$CFG->dbtype    = 'mariadb'", "'dbport' => " + proxyPort, "mariadb -h 127.0.0.1 -P " + proxyPort} {
		if !strings.Contains(out, want) {
			t.Errorf("up output lacks %q:\n%s", want, out)
		}
	}
	db := sandboxtest.OpenDB(t, "moodle:moodle@tcp(127.0.0.1:"+proxyPort+")/moodle")
	sandboxtest.Exec(t, db, "CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1)")
	t.Run("mariadb client", func(t *testing.T) {
		// The command line `up` prints, as a user would paste it.
		cmd := osexec.Command("mariadb", "-h", "127.0.0.1", "-P", proxyPort, "-u", "moodle", "-pmoodle", "moodle",
			"-N", "-e", "INSERT INTO t VALUES (2); SELECT COUNT(*) FROM t")
		out, err := cmd.CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "2" {
			t.Errorf("mariadb through the proxy: %q, %v; want 2", out, err)
		}
	})
	t.Run("php mysqli", func(t *testing.T) {
		script := `$m = new mysqli("127.0.0.1", "moodle", "moodle", "moodle", ` + proxyPort + `);
$m->query("INSERT INTO t VALUES (3)") or die($m->error);
echo $m->query("SELECT COUNT(*) FROM t")->fetch_row()[0];`
		out, err := osexec.Command("php", "-r", script).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "3" {
			t.Errorf("php mysqli through the proxy: %q, %v; want 3", out, err)
		}
	})
	st := status(t, dir)
	if !st.Manager.Running || !st.Proxy.Running || st.Proxy.HTTPStatus != 200 || st.Manager.HTTPStatus != 200 {
		t.Errorf("status: manager %+v proxy %+v, want both running and healthy", st.Manager, st.Proxy)
	}
	if st.Servers[0].ReadOnly {
		t.Error("db1 is read_only after up: the manager did not open the primary")
	}
	mustVigil(t, "sandbox", "stop", "manager", "--dir", dir)
	if status(t, dir).Manager.Running {
		t.Error("manager still running after stop")
	}
	mustVigil(t, "sandbox", "start", "manager", "--dir", dir)
	if !status(t, dir).Manager.Running {
		t.Error("manager not running after start")
	}
	mustVigil(t, "sandbox", "kill", "proxy", "--dir", dir)
	if status(t, dir).Proxy.Running {
		t.Error("proxy still running after kill")
	}
	out = mustVigil(t, "sandbox", "up", "--dir", dir) // idempotent: starts what is stopped
	db = sandboxtest.OpenDB(t, "moodle:moodle@tcp(127.0.0.1:"+proxyPort+")/moodle")
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM t").Scan(&n); err != nil || n != 3 {
		t.Errorf("after up again: %d rows, %v; want 3", n, err)
	}
	mustVigil(t, "sandbox", "down", "--dir", dir)
	if st := status(t, dir); st.Manager.Running || st.Proxy.Running || st.Servers[0].Up {
		t.Errorf("after down: %+v, want everything stopped", st)
	}
}
