package proxy

import (
	"context"
	"log/slog"

	"vigil/internal/config"
	"vigil/internal/pool"
	"vigil/internal/topology"
)

// PoolConfigFrom builds the backend pool's configuration from the shared
// file: its limits, TLS to the servers (proxy.backend_tls, whose files it
// loads), and warm-up logged in as the admin account (the one account
// besides the application users whose password the proxy knows;
// COM_CHANGE_USER hands a warm connection to any user).
func PoolConfigFrom(c *config.Config, log *slog.Logger) (pool.Config, error) {
	t, err := backendTLS(c.Proxy.BackendTLS)
	if err != nil {
		return pool.Config{}, err
	}
	pc := pool.Config{
		MaxPerServer: c.Proxy.PoolMaxPerServer, MaxIdle: c.Proxy.PoolMaxIdle,
		IdleTimeout: c.Proxy.PoolIdleTimeout, ConnectTimeout: c.Proxy.ConnectTimeout,
		WarmUser: c.Accounts.Admin.User, WarmPassword: c.Accounts.Admin.Password,
		Logger: log, TLS: t,
	}
	if c.Proxy.PoolMinIdle != nil {
		pc.MinIdle = *c.Proxy.PoolMinIdle
	}
	return pc, nil
}

// Run keeps the pool's warm servers (pool.SetWarm) on the servers the
// proxy routes to, following the topology source until ctx ends: the
// primary, and with a router the replicas that are up. After a failover
// the new primary is warmed as soon as a snapshot names it. With a router
// it also keeps the router's set of stored functions fresh (see
// RefreshStoredFunctions). Returns nil once its goroutines have ended.
func (s *Server) Run(ctx context.Context) error {
	if s.router != nil {
		done := make(chan struct{})
		go func() { defer close(done); s.followStoredFunctions(ctx) }()
		defer func() { <-done }()
	}
	for {
		snap, changed := s.src.Current()
		s.pool.SetWarm(warmTargets(snap, s.router != nil))
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		}
	}
}

// warmTargets are the addresses of the servers that statements may go to
// under snap.
func warmTargets(snap *topology.Snapshot, replicas bool) []string {
	if snap == nil {
		return nil
	}
	var out []string
	for _, n := range snap.Nodes {
		switch {
		case n.Name == snap.Primary && n.Up:
			out = append(out, n.Address)
		case replicas && n.Up && n.Role == topology.RoleReplica:
			out = append(out, n.Address)
		}
	}
	return out
}
