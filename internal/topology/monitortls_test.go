package topology_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"vigil/internal/mysqlwire"
	"vigil/internal/sandbox"
	"vigil/internal/sandbox/sandboxtest"
	"vigil/internal/topology"
)

// TestMonitorTLS probes a server that accepts only secure transport
// (require_secure_transport=ON) in every TLS mode, and without TLS.
func TestMonitorTLS(t *testing.T) {
	t.Parallel()
	c := sandboxtest.New(t, sandbox.Options{PrimaryWritable: true, TLS: true})
	if _, err := sandboxtest.OpenDB(t, c.AdminDSN("db1")).Exec("SET GLOBAL require_secure_transport = ON"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mode, ca string
		wantErr  string // "" when the probe must succeed
	}{
		{mode: "off", wantErr: "require_secure_transport=ON"},
		{mode: "preferred"},
		{mode: "required"},
		{mode: "verify_ca", ca: c.CAFile()},
		{mode: "verify_identity", ca: c.CAFile()},
		{mode: "verify_ca", ca: sandboxtest.ForeignCA(t), wantErr: "certificate"},
	} {
		t.Run(tc.mode+"/"+filepath.Base(tc.ca), func(t *testing.T) {
			p := firstProbe(t, c, tc.mode, tc.ca)
			if tc.wantErr == "" {
				if !p.OK() || p.ReadOnly {
					t.Fatalf("probe: %v; want db1 up and writable", p)
				}
				return
			}
			if p.OK() || !strings.Contains(p.Err, tc.wantErr) {
				t.Fatalf("probe: %v; want an error mentioning %q", p, tc.wantErr)
			}
			t.Logf("probe error: %s", p.Err)
		})
	}
}

// TestMonitorTLSPreferredFallback probes a server without TLS: preferred
// falls back to plain TCP, required fails.
func TestMonitorTLSPreferredFallback(t *testing.T) {
	t.Parallel()
	c := sandboxtest.New(t, sandbox.Options{PrimaryWritable: true})
	if p := firstProbe(t, c, "preferred", ""); !p.OK() {
		t.Errorf("preferred: %v; want a plain connection", p)
	}
	if p := firstProbe(t, c, "required", ""); p.OK() || !strings.Contains(p.Err, "TLS") {
		t.Errorf("required: %v; want an error mentioning TLS", p)
	} else {
		t.Logf("required: %s", p.Err)
	}
}

// firstProbe runs a monitor of c's db1 in TLS mode with the CA file ca and
// returns its first probe.
func firstProbe(t *testing.T, c *sandbox.Cluster, mode, ca string) topology.Probe {
	t.Helper()
	cfg := topology.MonitorConfigFrom(c.Config())
	cfg.Interval, cfg.ConnectTimeout, cfg.ReadTimeout = 50*time.Millisecond, time.Second, time.Second
	var err error
	if cfg.TLS, err = mysqlwire.LoadClientTLS(mode, ca, "", ""); err != nil {
		t.Fatal(err)
	}
	mon, err := topology.NewMonitor(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = mon.Run(ctx) }()
	defer func() { cancel(); wg.Wait() }()
	timeout := time.After(10 * time.Second)
	for {
		obs, changed := mon.Observe()
		if p, ok := obs.Probes["db1"]; ok {
			return p
		}
		select {
		case <-changed:
		case <-timeout:
			t.Fatal("no probe of db1 within 10s")
		}
	}
}
