package cli

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vigil/internal/config"
	"vigil/internal/manager"
	"vigil/internal/mysqlwire"
	"vigil/internal/sandbox"
	"vigil/internal/sandbox/sandboxtest"
	"vigil/internal/topology"
)

// TestManagerClusterTLS runs `vigil manager` against servers that accept
// only secure transport (require_secure_transport=ON): with cluster.tls
// verify_ca it bootstraps the primary, sees the cluster healthy and
// performs a planned switchover, every probe and action over TLS; with
// cluster.tls unset its probes fail and their errors name the likely cause.
func TestManagerClusterTLS(t *testing.T) {
	c := sandboxtest.New(t, sandbox.Options{Replicas: 1, TLS: true})
	for _, n := range []string{"db1", "db2"} {
		if _, err := sandboxtest.OpenDB(t, c.AdminDSN(n)).Exec("SET GLOBAL require_secure_transport = ON"); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("off", func(t *testing.T) {
		client := startManager(t, c.Config(), slog.New(slog.DiscardHandler))
		st := waitStatus(t, client, 10*time.Second, "a probe error naming require_secure_transport", func(st topology.Status) bool {
			return len(st.Nodes) > 0 && strings.Contains(st.Nodes[0].Note, "require_secure_transport=ON")
		})
		if st.Primary != "" || st.Nodes[0].Up {
			t.Errorf("status %+v: want no primary and db1 down", st)
		}
		t.Logf("db1: %s", st.Nodes[0].Note)
	})

	t.Run("verify_ca", func(t *testing.T) {
		cfg := c.Config()
		cfg.Cluster.TLS = config.BackendTLS{Mode: "verify_ca", CA: c.CAFile()}
		client := startManager(t, cfg, slog.New(slog.DiscardHandler))
		healthy := func(primary string) func(topology.Status) bool {
			return func(st topology.Status) bool {
				if st.Primary != primary || st.Health != "healthy" || st.Operation != "" {
					return false
				}
				for _, n := range st.Nodes {
					if !n.Up || n.ReadOnly != (n.Name != primary) {
						return false
					}
				}
				return true
			}
		}
		waitStatus(t, client, 15*time.Second, "db1 bootstrapped as the primary, all servers up", healthy("db1"))

		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		res, err := client.Switchover(ctx, "db2")
		if err != nil {
			t.Fatalf("switchover to db2: %v", err)
		}
		if res.From != "db1" || res.To != "db2" {
			t.Fatalf("switchover: %+v; want db1 -> db2", res)
		}
		t.Logf("switchover %s -> %s: writes held %v", res.From, res.To, res.Held.Round(time.Millisecond))
		waitStatus(t, client, 15*time.Second, "db2 the primary, all servers up", healthy("db2"))
		// The demoted db1 replicates from db2 over TLS (MASTER_SSL=1): a
		// plain replication connection would be refused.
		waitStatus(t, client, 15*time.Second, "db1 replicating from db2", func(st topology.Status) bool {
			for _, n := range st.Nodes {
				if n.Name == "db1" {
					return n.Source == "db2" && n.IORunning == "Yes"
				}
			}
			return false
		})

		// Check the servers themselves, over TLS as the manager connects.
		tls, err := mysqlwire.LoadClientTLS(cfg.Cluster.TLS.Mode, cfg.Cluster.TLS.CA, "", "")
		if err != nil {
			t.Fatal(err)
		}
		admin := cfg.Accounts.Admin
		for _, s := range cfg.Cluster.Servers {
			db, err := topology.Open(admin.User, admin.Password, s.Address, time.Second, 5*time.Second, tls)
			if err != nil {
				t.Fatal(err)
			}
			var ro int
			err = db.QueryRow("SELECT @@read_only").Scan(&ro)
			db.Close()
			if err != nil || (ro == 1) != (s.Name != "db2") {
				t.Errorf("%s: read_only=%d, %v; want only db2 writable", s.Name, ro, err)
			}
		}
	})
}

// startManager runs `vigil manager` with cfg (tight timings, a free API
// port, its own state directory) until the test ends, and returns a
// client of its API.
func startManager(t *testing.T, cfg *config.Config, log *slog.Logger) *manager.Client {
	t.Helper()
	m := &cfg.Manager
	m.ProbeInterval, m.ConnectTimeout, m.ReadTimeout = 100*time.Millisecond, 500*time.Millisecond, time.Second
	m.AutoFailover, m.StateDir = false, t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m.Listen = l.Addr().String()
	l.Close()
	path := filepath.Join(t.TempDir(), "vigil.yaml")
	sandboxtest.WriteConfig(t, path, cfg)
	loaded, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runManager(ctx, loaded, path, log) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("vigil manager returned %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("vigil manager did not stop")
		}
	})
	return manager.NewClient(m.Listen)
}

// waitStatus polls the manager's status until ok holds, for up to d.
func waitStatus(t *testing.T, c *manager.Client, d time.Duration, what string, ok func(topology.Status) bool) topology.Status {
	t.Helper()
	var st topology.Status
	var err error
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		st, err = c.Status(ctx)
		cancel()
		if err == nil && ok(st) {
			return st
		}
	}
	t.Fatalf("no %s within %v: last status %+v, %v", what, d, st, err)
	return st
}
