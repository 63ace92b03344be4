package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"vigil/internal/config"
	"vigil/internal/failover"
	"vigil/internal/manager"
	"vigil/internal/mysqlwire"
	"vigil/internal/topology"
)

// newManagerCmd is `vigil manager --config FILE`: monitor, failover engine
// and HTTP API.
func newManagerCmd() *cobra.Command {
	var path string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "manager",
		Short: "Monitor the servers, fail over a dead primary, serve the topology and the API",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(path)
			if err != nil {
				return err
			}
			log := newLogger(verbose).With("role", "manager", "cluster", cfg.Cluster.Name)
			return runManager(cmd.Context(), cfg, path, log)
		},
	}
	cmd.Flags().StringVar(&path, "config", "vigil.yaml", "configuration file")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "debug logging")
	return cmd
}

// runManager runs the manager of cfg (read from path) until ctx ends. Its
// probes and actions connect to the servers over TLS as cluster.tls says.
func runManager(ctx context.Context, cfg *config.Config, path string, log *slog.Logger) error {
	t := cfg.Cluster.TLS
	tls, err := mysqlwire.LoadClientTLS(t.Mode, t.CA, t.Cert, t.Key)
	if err != nil {
		return fmt.Errorf("cluster tls: %w", err)
	}
	mc := topology.MonitorConfigFrom(cfg)
	mc.TLS = tls
	mon, err := topology.NewMonitor(mc, log)
	if err != nil {
		return err
	}
	fc := failover.FromConfig(cfg, path)
	fc.TLS = tls
	eng, err := failover.New(fc, mon, log)
	if err != nil {
		return err
	}
	api, err := manager.New(manager.Config{Listen: cfg.Manager.Listen, Busy: failover.ErrBusy}, eng, prometheus.NewRegistry(), log)
	if err != nil {
		return err
	}
	return runAll(ctx, mon.Run, eng.Run, api.Run)
}

// runAll runs every fn until ctx ends or one of them fails; it then cancels
// the others, waits for them and returns the first error.
func runAll(ctx context.Context, fns ...func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(fns))
	for i, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = fn(ctx); errs[i] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
