package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"vigil/internal/config"
	"vigil/internal/pool"
	"vigil/internal/proxy"
	"vigil/internal/router"
	"vigil/internal/topology"
)

func newProxyCmd() *cobra.Command {
	var cfgPath, listen string
	var verbose, pprof bool
	cmd := &cobra.Command{
		Use:   "proxy",
		Short: "Run the MySQL-protocol proxy (read/write split, failover hold)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runProxy(cmd.Context(), proxyFlags{path: cfgPath, listen: listen, pprof: pprof}, newLogger(verbose))
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "vigil.yaml", "configuration file")
	cmd.Flags().StringVar(&listen, "listen", "", "MySQL listen address (overrides proxy.listen)")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "debug logging")
	cmd.Flags().BoolVar(&pprof, "pprof", false, "serve /debug/pprof/ on proxy.http_listen")
	cmd.AddCommand(newImportUsersCmd())
	return cmd
}

func newImportUsersCmd() *cobra.Command {
	var cfgPath, server string
	cmd := &cobra.Command{
		Use:   "import-users",
		Short: "Print the servers' mysql_native_password accounts as a users: list for the configuration",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(cfgPath)
			if err != nil {
				return err
			}
			srv, ok := cfg.Cluster.Server(server)
			if !ok {
				return fmt.Errorf("no server %q in %s", server, cfgPath)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			defer cancel()
			got, err := proxy.ImportUsers(ctx, srv.Address, cfg)
			if err != nil {
				return err
			}
			out, err := config.Marshal(&config.Config{Users: got.Users})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			for _, s := range got.Skipped {
				fmt.Fprintf(w, "# skipped %s\n", s)
			}
			_, err = w.Write(usersOnly(out))
			return err
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "vigil.yaml", "configuration file")
	cmd.Flags().StringVar(&server, "server", "db1", "server to read mysql.user from")
	return cmd
}

// usersOnly keeps the users: block of a marshalled configuration.
func usersOnly(yaml []byte) []byte {
	lines := strings.Split(string(yaml), "\n")
	var out []string
	in := false
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "users:"):
			in = true
		case l != "" && l[0] != ' ' && l[0] != '-':
			in = false
		}
		if in {
			out = append(out, l)
		}
	}
	return []byte(strings.Join(out, "\n") + "\n")
}

// proxyParts are the proxy's collaborators built from one configuration.
type proxyParts struct {
	cfg    *config.Config
	srv    *proxy.Server
	router *router.Router
	pool   *pool.Pool
	reg    *prometheus.Registry
	run    []func(context.Context) error // topology followers
}

func buildProxy(cfg *config.Config, log *slog.Logger) (*proxyParts, error) {
	parts := &proxyParts{cfg: cfg, reg: prometheus.NewRegistry()}
	pc, err := proxy.PoolConfigFrom(cfg, log)
	if err != nil {
		return nil, err
	}
	var src topology.Source
	if cfg.Proxy.ManagerURL != "" {
		r, err := topology.NewRemote(cfg.Proxy.ManagerURL, log)
		if err != nil {
			return nil, err
		}
		src, parts.run = r, append(parts.run, r.Run)
	} else {
		// The monitor that finds the writer connects as every other
		// connection of the proxy does: TLS as proxy.backend_tls says.
		mc := topology.MonitorConfigFrom(cfg)
		mc.TLS = pc.TLS
		mon, err := topology.NewMonitor(mc, log)
		if err != nil {
			return nil, err
		}
		sa := topology.NewStandalone(mon, log)
		src, parts.run = sa, append(parts.run, mon.Run, sa.Run)
	}
	p, err := pool.New(pc, nil)
	if err != nil {
		return nil, err
	}
	parts.pool = p
	rcfg, err := router.FromConfig(cfg)
	if err != nil {
		return nil, err
	}
	if parts.router, err = router.New(rcfg, parts.reg, log); err != nil {
		return nil, err
	}
	pcfg, err := proxy.ConfigFrom(cfg)
	if err != nil {
		return nil, err
	}
	parts.srv, err = proxy.New(pcfg, src, proxy.Options{Pool: p, Router: parts.router, Registry: parts.reg, Logger: log})
	return parts, err
}

// proxyFlags are the command-line flags of `vigil proxy`.
type proxyFlags struct {
	path, listen string
	pprof        bool
}

func runProxy(ctx context.Context, fl proxyFlags, log *slog.Logger) error {
	path := fl.path
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	if fl.listen != "" {
		cfg.Proxy.Listen = fl.listen
	}
	// The runtime's own GOMAXPROCS, before setThreads changes it, is the
	// CPUs this process may use (a container's CPU limit included).
	cfg.Proxy.Loops = cfg.Proxy.LoopsFor(runtime.GOMAXPROCS(0))
	setThreads(&cfg.Proxy, log)
	parts, err := buildProxy(cfg, log)
	if err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	l, err := net.Listen("tcp", cfg.Proxy.Listen)
	if err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	log.Info("proxy listening", "addr", l.Addr().String(), "manager", cfg.Proxy.ManagerURL)
	g, gctx := errgroup.WithContext(ctx)
	for _, run := range parts.run {
		g.Go(func() error { return run(gctx) })
	}
	g.Go(func() error { return parts.pool.Run(gctx) })
	g.Go(func() error { return parts.srv.Run(gctx) })
	g.Go(func() error {
		if err := parts.srv.Serve(l); !errors.Is(err, proxy.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), cfg.Proxy.ShutdownTimeout)
		defer cancel()
		_ = parts.srv.Shutdown(sctx)
		return nil
	})
	if cfg.Proxy.HTTPListen != "" {
		g.Go(func() error { return serveProxyHTTP(gctx, cfg.Proxy.HTTPListen, parts, fl.pprof) })
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	g.Go(func() error { return reloadOnHUP(gctx, hup, path, parts, log) })
	return g.Wait()
}

// setThreads applies proxy.threads to the Go runtime, on top of the Ps the
// event loops hold; with threads unset, an explicit GOMAXPROCS in the
// environment wins over the default.
func setThreads(p *config.Proxy, log *slog.Logger) {
	if p.Threads == 0 && os.Getenv("GOMAXPROCS") != "" {
		return
	}
	n := p.ThreadsFor(runtime.NumCPU()) + proxy.LoopProcs()
	if runtime.GOMAXPROCS(n) != n {
		log.Debug("proxy threads set", "threads", n, "cpus", runtime.NumCPU())
	}
}

func serveProxyHTTP(ctx context.Context, addr string, parts *proxyParts, withPprof bool) error {
	mux := http.NewServeMux()
	if withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	}
	mux.Handle("/health", parts.srv.HealthHandler())
	mux.Handle("/metrics", promhttp.HandlerFor(parts.reg, promhttp.HandlerOpts{}))
	mux.Handle("/api/v1/digests", parts.router.Stats().Handler())
	hs := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}()
	if err := hs.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("proxy http: %w", err)
	}
	return nil
}

// reloadOnHUP reloads users, limits, threads and routing rules on SIGHUP. Listen
// addresses and the topology source are not reloaded.
func reloadOnHUP(ctx context.Context, hup <-chan os.Signal, path string, parts *proxyParts, log *slog.Logger) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hup:
		}
		if err := reloadProxy(path, parts, log); err != nil {
			log.Error("configuration reload failed; keeping the running configuration", "path", path, "err", err)
			continue
		}
		log.Info("configuration reloaded", "path", path)
	}
}

func reloadProxy(path string, parts *proxyParts, log *slog.Logger) error {
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	pcfg, err := proxy.ConfigFrom(cfg)
	if err != nil {
		return err
	}
	rcfg, err := router.FromConfig(cfg)
	if err != nil {
		return err
	}
	if err := parts.router.Reload(rcfg); err != nil {
		return err
	}
	if err := parts.srv.Reload(pcfg); err != nil {
		return err
	}
	setThreads(&cfg.Proxy, log)
	return nil
}
