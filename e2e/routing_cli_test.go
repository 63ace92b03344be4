package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"vigil/internal/config"
	"vigil/internal/sandbox"
	"vigil/internal/sandbox/sandboxtest"
)

// TestRoutingCLIReloadAndTop runs the real `vigil proxy` binary in front of
// a sandbox cluster, changes the query rules in its file and sends SIGHUP,
// and reads the busiest digests with `vigil top`.
func TestRoutingCLIReloadAndTop(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "vigil")
	build := exec.Command("go", "build", "-o", bin, "../cmd/vigil")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	c := sandboxtest.New(t, sandbox.Options{Replicas: 2, PrimaryWritable: true})
	cfg := c.Config()
	cfg.Proxy.Listen = rtFreeAddr(t)
	cfg.Proxy.HTTPListen = rtFreeAddr(t)
	cfg.Proxy.ManagerURL = ""
	path := filepath.Join(dir, "vigil.yaml")
	sandboxtest.WriteConfig(t, path, cfg)

	ctx, cancel := context.WithCancel(context.Background())
	var logs bytes.Buffer
	proxy := exec.CommandContext(ctx, bin, "proxy", "--config", path)
	proxy.Stdout, proxy.Stderr = &logs, &logs
	if err := proxy.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = proxy.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = proxy.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cancel()
			<-done
		}
		cancel()
		if t.Failed() {
			t.Logf("proxy log:\n%s", logs.String())
		}
	})
	rtWaitHealthy(t, "http://"+cfg.Proxy.HTTPListen+"/health")

	mc := mysql.NewConfig()
	mc.User, mc.Passwd, mc.Net, mc.Addr, mc.DBName = c.App().User, c.App().Password, "tcp", cfg.Proxy.Listen, c.Database()
	mc.InterpolateParams = true
	db, err := sql.Open("mysql", mc.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i := 0; i < 5; i++ {
		rtOneRow(t, conn, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'mysql'")
	}
	// No rule yet: the server answers (database does not exist).
	if _, err := conn.ExecContext(context.Background(), "DROP DATABASE vigil_not_there"); rtSQLErrNumber(err) != 1008 {
		t.Fatalf("DROP DATABASE before the rule: %v, want error 1008 from the server", err)
	}

	cfg.Routing.Rules = []config.QueryRule{{Name: "no-drop", Match: `(?i)^\s*DROP\s+DATABASE`, Action: "reject", Message: "reloaded rule says no"}}
	sandboxtest.WriteConfig(t, path, cfg)
	if err := proxy.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := conn.ExecContext(context.Background(), "DROP DATABASE vigil_not_there")
		if rtSQLErrNumber(err) == 1105 && strings.Contains(err.Error(), "reloaded rule says no") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after SIGHUP: %v, want the reloaded rule's rejection", err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	top := exec.Command(bin, "top", "--config", path, "-n", "5")
	out, err := top.CombinedOutput()
	if err != nil {
		t.Fatalf("vigil top: %v\n%s", err, out)
	}
	text := string(out)
	for _, want := range []string{"COUNT", "DIGEST", "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = ?", "DROP DATABASE vigil_not_there"} {
		if !strings.Contains(text, want) {
			t.Errorf("vigil top output lacks %q:\n%s", want, text)
		}
	}
}

func rtFreeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func rtWaitHealthy(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never became healthy: %v", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
