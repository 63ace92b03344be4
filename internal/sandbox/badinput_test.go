package sandbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"vigil/internal/sandbox"
	"vigil/internal/sandbox/sandboxtest"
)

func TestPortInUseIsNamed(t *testing.T) {
	t.Parallel()
	l, port := listenAfterFreePort(t)
	defer l.Close()
	dir := t.TempDir()
	_, err := sandbox.Up(testCtx(t), sandbox.Options{Dir: dir, Replicas: 1, BasePort: port - 1})
	if err == nil {
		t.Fatal("Up with a taken port: got nil error")
	}
	if want := "port " + strconv.Itoa(port) + " (for db2) is already in use"; !strings.Contains(err.Error(), want) {
		t.Errorf("got %q, want it to contain %q", err, want)
	}
	if pids := strayProcesses(dir); len(pids) > 0 {
		t.Errorf("processes left: %v", pids)
	}
}

// listenAfterFreePort listens on a port whose predecessor is free (checked
// by binding it), outside the ephemeral range, so that a sandbox based on the
// predecessor finds db1's port free and db2's taken.
func listenAfterFreePort(t *testing.T) (net.Listener, int) {
	t.Helper()
	for range 50 {
		ports, err := sandbox.FreePorts(1)
		if err != nil {
			t.Fatal(err)
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]+1)))
		if err != nil {
			continue
		}
		return l, ports[0] + 1
	}
	t.Fatal("no free pair of consecutive ports found")
	return nil, 0
}

func TestPortTakenWhileStoppedIsNamed(t *testing.T) {
	t.Parallel()
	c := up(t, sandbox.Options{Replicas: 0})
	if err := c.Stop(testCtx(t), "db1"); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", c.Node("db1").Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	err = c.Start(testCtx(t), "db1")
	if err == nil || !strings.Contains(err.Error(), "port "+strconv.Itoa(c.Node("db1").Port)+" (for db1)") {
		t.Errorf("Start with its port taken: got %v, want an error naming the port", err)
	}
}

func TestDirNotWritable(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(file, "sandbox") // a directory under a regular file
	_, err := sandbox.Up(testCtx(t), sandbox.Options{Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "is not writable") || !strings.Contains(err.Error(), dir) {
		t.Errorf("got %v, want a 'not writable' error naming %s", err, dir)
	}
}

func TestMariaDBMissing(t *testing.T) {
	t.Parallel()
	missing := func(file string) (string, error) { return "", exec.ErrNotFound }
	dir := t.TempDir()
	_, err := sandbox.Up(testCtx(t), sandbox.Options{Dir: dir, LookPath: missing})
	if !errors.Is(err, sandbox.ErrMariaDBMissing) {
		t.Fatalf("got %v, want ErrMariaDBMissing", err)
	}
	for _, pkg := range []string{"mariadb-server", "mariadb-client"} {
		if !strings.Contains(err.Error(), pkg) {
			t.Errorf("error %q does not name the package %s", err, pkg)
		}
	}
}

func TestFailingServerShowsErrorLogTail(t *testing.T) {
	t.Parallel()
	c := up(t, sandbox.Options{Replicas: 0})
	n := c.Node("db1")
	if err := c.Stop(testCtx(t), "db1"); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(n.ConfigFile, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("no-such-option = 1\n")
	f.Close()
	err = c.Start(testCtx(t), "db1")
	if err == nil {
		t.Fatal("Start with a broken my.cnf: got nil error")
	}
	for _, want := range []string{"db1 failed to start", "no-such-option"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("got %q, want it to contain %q", err, want)
		}
	}
	if c.Running("db1") {
		t.Error("db1 runs after a failed start")
	}
}

// TestInterruptedUpThenUpAgain cancels a first Up part way, then checks that
// nothing is left running and that the next Up and Destroy work.
func TestInterruptedUpThenUpAgain(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "sb")
	opts := sandbox.Options{Dir: dir, Replicas: 1, KillWithParent: true}
	for _, after := range []time.Duration{50 * time.Millisecond, 400 * time.Millisecond} {
		ctx, cancel := context.WithTimeout(context.Background(), after)
		c, err := sandbox.Up(ctx, opts)
		cancel()
		if err == nil { // the machine was faster than the deadline
			_ = c.Close()
			continue
		}
		t.Logf("interrupted after %v: %v", after, err)
		if pids := strayProcesses(dir); len(pids) > 0 {
			t.Fatalf("interrupted after %v (%v): processes left: %v", after, err, pids)
		}
	}
	c := up(t, opts)
	if got := sandboxtest.QueryInt(t, sandboxtest.OpenDB(t, c.AdminDSN("db2")), "SELECT 1"); got != 1 {
		t.Errorf("after re-up: got %d", got)
	}
	if err := c.Destroy(); err != nil {
		t.Fatal(err)
	}
	if pids := strayProcesses(dir); len(pids) > 0 {
		t.Errorf("processes left after Destroy: %v", pids)
	}
}

// TestUpAfterCrashMidBootstrap leaves running servers and a state file that
// says "not bootstrapped" (as a killed `up` would) and checks that Up cleans
// them and creates the cluster afresh.
func TestUpAfterCrashMidBootstrap(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "sb")
	opts := sandbox.Options{Dir: dir, Replicas: 1, KillWithParent: true}
	first := up(t, opts)
	oldPID := first.PID("db1")
	statePath := filepath.Join(dir, "sandbox.json")
	data, err := os.ReadFile(statePath)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	st["bootstrapped"] = false
	data, _ = json.Marshal(st)
	if err := os.WriteFile(statePath, data, 0o600); err != nil {
		t.Fatal(err)
	}
	c := up(t, opts)
	if newPID := c.PID("db1"); newPID == 0 || newPID == oldPID {
		t.Errorf("db1 pid after re-up: got %d, want a new server (old %d)", newPID, oldPID)
	}
	if got := sandboxtest.QueryInt(t, sandboxtest.OpenDB(t, c.AdminDSN("db2")), "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME='moodle'"); got != 1 {
		t.Errorf("moodle database on db2 after re-up: got %d, want 1", got)
	}
}

func TestDestroyRefusesANonSandboxDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := sandbox.Open(sandbox.Options{Dir: dir}); !errors.Is(err, sandbox.ErrNoSandbox) {
		t.Errorf("Open of an empty dir: got %v, want ErrNoSandbox", err)
	}
}

func TestUpRefusesANonEmptyForeignDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	keep := filepath.Join(dir, "db1", "precious")
	if err := os.MkdirAll(keep, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := sandbox.Up(testCtx(t), sandbox.Options{Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "holds no sandbox") {
		t.Errorf("Up in a foreign non-empty dir: got %v, want a refusal", err)
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("the foreign directory's content was touched: %v", err)
	}
}
