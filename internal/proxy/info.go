package proxy

import (
	"context"
	"sync"
	"time"

	"vigil/internal/mysqlwire"
)

// fallbackVersion is presented when no server could be reached to learn
// the real version.
const fallbackVersion = "5.5.5-10.11.0-MariaDB-vigil"

// serverInfo caches what a real backend announced in its greeting, so that
// clients see the backend's version and capabilities.
type serverInfo struct {
	mu       sync.Mutex
	g        *mysqlwire.Greeting
	failedAt time.Time // last time no server answered
}

// greeting returns the backend's greeting, learning it on first use by
// logging into the primary (or any configured server) as the admin user.
// If no server answers, a fallback is returned and learning is retried on
// the next call.
func (s *Server) greeting(ctx context.Context) mysqlwire.Greeting {
	s.info.mu.Lock()
	defer s.info.mu.Unlock()
	if s.info.g != nil {
		return *s.info.g
	}
	fallback := mysqlwire.Greeting{ServerVersion: fallbackVersion, Caps: mysqlwire.ProxyCaps, Charset: 45}
	if time.Since(s.info.failedAt) < 5*time.Second {
		return fallback
	}
	cfg := s.config()
	var addrs []string
	if snap, _ := s.src.Current(); snap != nil {
		if n, ok := snap.PrimaryNode(); ok {
			addrs = append(addrs, n.Address)
		}
	}
	addrs = append(addrs, cfg.Servers...)
	for _, a := range addrs {
		c, err := mysqlwire.Dial(ctx, mysqlwire.DialConfig{
			Addr: a, User: cfg.Admin.User, Password: cfg.Admin.Password, Timeout: cfg.ConnectTimeout,
			TLS: s.pool.TLS(),
		})
		if err != nil {
			s.log.Warn("cannot learn the server version", "addr", a, "err", err)
			continue
		}
		_ = c.WriteCommand([]byte{mysqlwire.ComQuit})
		c.Close()
		g := *c.Greeting
		s.info.g = &g
		s.log.Info("presenting backend server version", "version", g.ServerVersion, "addr", a)
		return g
	}
	s.info.failedAt = time.Now()
	return fallback
}
