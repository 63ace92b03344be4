package config

import (
	"fmt"
	"net"
	"time"
)

// Manager configures `vigil manager`.
type Manager struct {
	// Listen is the HTTP API address (default 127.0.0.1:6035).
	Listen string `yaml:"listen,omitempty"`
	// ProbeInterval is how often every server is probed (default 500ms).
	ProbeInterval time.Duration `yaml:"probe_interval,omitempty"`
	// AutoFailover enables automatic failover of a dead primary.
	AutoFailover bool `yaml:"auto_failover,omitempty"`
}

func (m *Manager) setDefaults() {
	if m.Listen == "" {
		m.Listen = "127.0.0.1:6035"
	}
	if m.ProbeInterval == 0 {
		m.ProbeInterval = 500 * time.Millisecond
	}
}

// Validate checks addresses and durations.
func (m *Manager) Validate() error {
	if _, _, err := net.SplitHostPort(m.Listen); err != nil {
		return fmt.Errorf("listen %q: want host:port", m.Listen)
	}
	if m.ProbeInterval <= 0 {
		return fmt.Errorf("probe_interval must be positive")
	}
	return nil
}
