package config

import (
	"fmt"
	"net"
	"time"
)

// Proxy configures `vigil proxy`.
type Proxy struct {
	// Listen is the MySQL endpoint for applications (default 127.0.0.1:6033).
	Listen string `yaml:"listen,omitempty"`
	// HTTPListen serves /health and /metrics (empty: off).
	HTTPListen string `yaml:"http_listen,omitempty"`
	// ManagerURL is the manager's HTTP API; the proxy follows its topology.
	// Empty means standalone mode: the proxy finds the writer by polling read_only.
	ManagerURL string `yaml:"manager_url,omitempty"`
	// HoldTimeout is how long statements wait for a primary during a failover.
	HoldTimeout time.Duration `yaml:"hold_timeout,omitempty"`
}

func (p *Proxy) setDefaults() {
	if p.Listen == "" {
		p.Listen = "127.0.0.1:6033"
	}
	if p.HoldTimeout == 0 {
		p.HoldTimeout = 10 * time.Second
	}
}

// Validate checks addresses and durations.
func (p *Proxy) Validate() error {
	if _, _, err := net.SplitHostPort(p.Listen); err != nil {
		return fmt.Errorf("listen %q: want host:port", p.Listen)
	}
	if p.HTTPListen != "" {
		if _, _, err := net.SplitHostPort(p.HTTPListen); err != nil {
			return fmt.Errorf("http_listen %q: want host:port", p.HTTPListen)
		}
	}
	if p.HoldTimeout < 0 {
		return fmt.Errorf("durations must not be negative")
	}
	return nil
}
