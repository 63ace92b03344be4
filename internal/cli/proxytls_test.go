package cli

import (
	"bytes"
	"database/sql"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"vigil/internal/config"
	"vigil/internal/sandbox"
	"vigil/internal/sandbox/sandboxtest"
)

// TestStandaloneProxyBackendTLS runs `vigil proxy` in standalone mode in
// front of servers that accept only secure transport
// (require_secure_transport=ON): with proxy.backend_tls verify_ca its
// monitor finds the primary and the proxy serves writes and reads; with
// backend_tls off the monitor's probe errors name the likely cause.
func TestStandaloneProxyBackendTLS(t *testing.T) {
	c := sandboxtest.New(t, sandbox.Options{Replicas: 1, PrimaryWritable: true, TLS: true})
	for _, n := range []string{"db1", "db2"} {
		if _, err := sandboxtest.OpenDB(t, c.AdminDSN(n)).Exec("SET GLOBAL require_secure_transport = ON"); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("verify_ca", func(t *testing.T) {
		cfg := c.Config()
		cfg.Proxy.BackendTLS = config.BackendTLS{Mode: "verify_ca", CA: c.CAFile()}
		db := startStandaloneProxy(t, c, cfg, slog.New(slog.DiscardHandler))
		var err error
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if _, err = db.Exec("CREATE TABLE IF NOT EXISTS tls_probe (id INT PRIMARY KEY)"); err == nil {
				break
			}
		}
		if err != nil {
			t.Fatalf("write through the standalone proxy: %v", err)
		}
		if _, err := db.Exec("INSERT INTO tls_probe VALUES (1)"); err != nil {
			t.Fatalf("insert: %v", err)
		}
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM tls_probe").Scan(&n); err != nil || n != 1 {
			t.Fatalf("read: %d rows, %v; want 1", n, err)
		}
	})

	t.Run("off", func(t *testing.T) {
		cfg := c.Config()
		cfg.Proxy.HoldTimeout = time.Second
		var logs syncBuffer
		db := startStandaloneProxy(t, c, cfg, slog.New(slog.NewTextHandler(&logs, nil)))
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(logs.String(), "require_secure_transport=ON") && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		var line string
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, "server probe failed") && strings.Contains(l, "server=db1") {
				line = l
			}
		}
		if !strings.Contains(line, "require_secure_transport=ON") {
			t.Fatalf("no probe failure of db1 naming require_secure_transport in the log:\n%s", logs.String())
		}
		t.Logf("monitor: %s", line)
		if _, err := db.Exec("CREATE TABLE IF NOT EXISTS tls_probe (id INT PRIMARY KEY)"); err == nil {
			t.Error("a write succeeded although the proxy cannot find the primary")
		}
	})
}

// startStandaloneProxy runs `vigil proxy` with cfg in standalone mode (no
// manager_url) on a free port until the test ends and returns a handle
// for c's application account through it.
func startStandaloneProxy(t *testing.T, c *sandbox.Cluster, cfg *config.Config, log *slog.Logger) *sql.DB {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Proxy.Listen = l.Addr().String()
	l.Close()
	cfg.Proxy.ManagerURL, cfg.Proxy.HTTPListen = "", ""
	path := filepath.Join(t.TempDir(), "vigil.yaml")
	sandboxtest.WriteConfig(t, path, cfg)
	startProxy(t, path, log)
	app := c.App()
	mc := mysql.NewConfig()
	mc.User, mc.Passwd, mc.Net, mc.Addr, mc.DBName = app.User, app.Password, "tcp", cfg.Proxy.Listen, c.Database()
	db := sandboxtest.OpenDB(t, mc.FormatDSN())
	db.SetMaxOpenConns(1)
	return db
}

// syncBuffer is a bytes.Buffer safe for a logger and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
