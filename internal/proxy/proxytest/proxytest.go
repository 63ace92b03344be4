// Package proxytest runs an in-process proxy (pool, router and server
// wired as `vigil proxy` wires them) on a free loopback port for tests.
package proxytest

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"vigil/internal/config"
	"vigil/internal/pool"
	"vigil/internal/proxy"
	"vigil/internal/router"
	"vigil/internal/topology"
)

// Options tune Start; the zero value is fine.
type Options struct {
	// Logger receives the proxy's and router's logs; nil means Logger().
	Logger *slog.Logger
	// ConnectTimeout bounds backend dials; zero means 2s.
	ConnectTimeout time.Duration
	// Run are background loops (a monitor, a topology source, ...) run
	// until cleanup, after the proxy has shut down.
	Run []func(context.Context) error
	// RunPool also runs the pool's background loop (pool.Run: idle reaper,
	// health checks, warm-up per cfg's proxy.pool_min_idle) until cleanup.
	RunPool bool
}

// Proxy is a running in-process proxy.
type Proxy struct {
	Addr     string // host:port clients connect to
	Server   *proxy.Server
	Router   *router.Router
	Pool     *pool.Pool
	Registry *prometheus.Registry // a fresh registry holding its metrics
}

// Logger discards logs unless VIGIL_TEST_LOG is set, then it writes debug
// logs to stderr.
func Logger() *slog.Logger {
	if os.Getenv("VIGIL_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// Start builds the proxy for cfg, following src, and serves it until
// t's cleanup, which shuts it down, checks that Serve returned
// proxy.ErrServerClosed, stops the background loops and closes the pool.
func Start(t testing.TB, cfg *config.Config, src topology.Source, o Options) *Proxy {
	t.Helper()
	log := o.Logger
	if log == nil {
		log = Logger()
	}
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = 2 * time.Second
	}
	p := &Proxy{Registry: prometheus.NewRegistry()}
	pc, err := proxy.PoolConfigFrom(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	pc.ConnectTimeout = o.ConnectTimeout
	if p.Pool, err = pool.New(pc, nil); err != nil {
		t.Fatal(err)
	}
	rcfg, err := router.FromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if p.Router, err = router.New(rcfg, p.Registry, log); err != nil {
		t.Fatal(err)
	}
	pcfg, err := proxy.ConfigFrom(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if p.Server, err = proxy.New(pcfg, src, proxy.Options{Pool: p.Pool, Router: p.Router, Registry: p.Registry, Logger: log}); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.Addr = l.Addr().String()
	p.serve(t, l, o)
	return p
}

// serve runs the server and the background loops until t's cleanup.
func (p *Proxy) serve(t testing.TB, l net.Listener, o Options) {
	runs := append(o.Run[:len(o.Run):len(o.Run)], p.Server.Run) // warm targets; inert without pool.Run
	if o.RunPool {
		runs = append(runs, p.Pool.Run)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, run := range runs {
		wg.Add(1)
		go func() { defer wg.Done(); _ = run(ctx) }()
	}
	served := make(chan error, 1)
	go func() { served <- p.Server.Serve(l) }()
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = p.Server.Shutdown(sctx)
		if err := <-served; !errors.Is(err, proxy.ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
		cancel()
		wg.Wait()
		p.Pool.Close()
	})
}
