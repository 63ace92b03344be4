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
	// ConnectTimeout bounds dialing a server when probing or acting (default 500ms).
	ConnectTimeout time.Duration `yaml:"connect_timeout,omitempty"`
	// ReadTimeout bounds every probe query (default 1s).
	ReadTimeout time.Duration `yaml:"read_timeout,omitempty"`
	// FailCount is how many consecutive probes of the primary must fail
	// before it can be declared dead (default 2).
	FailCount int `yaml:"fail_count,omitempty"`
	// AutoFailover enables automatic failover of a dead primary.
	AutoFailover bool `yaml:"auto_failover,omitempty"`
	// FailoverBlock is how long after a failover no automatic failover may
	// follow unless acknowledged with `vigil ack` (default 1h).
	FailoverBlock time.Duration `yaml:"failover_block,omitempty"`
	// MaxCandidateLag excludes replicas lagging more than this from
	// promotion (default 0: no limit; relay logs are always drained first).
	MaxCandidateLag time.Duration `yaml:"max_candidate_lag,omitempty"`
	// CatchupTimeout bounds waiting for the candidate to apply its relay log
	// (default 10s).
	CatchupTimeout time.Duration `yaml:"catchup_timeout,omitempty"`
	// SwitchoverGrace is how long a switchover lets running statements on
	// the old primary finish before it kills their connections (default 200ms).
	SwitchoverGrace time.Duration `yaml:"switchover_grace,omitempty"`
	// HeartbeatPeriod is the replication heartbeat the manager configures
	// when it points a replica at a primary (default 500ms).
	HeartbeatPeriod time.Duration `yaml:"heartbeat_period,omitempty"`
	// SemiSyncTimeout is rpl_semi_sync_master_timeout set on a promoted
	// primary when the cluster uses semi-sync (default 24h: never fall back
	// to asynchronous replication silently).
	SemiSyncTimeout time.Duration `yaml:"semisync_timeout,omitempty"`
	// FenceShutdown makes the manager shut down (SQL SHUTDOWN) a demoted
	// primary that answers again after a failover, so that a woken server
	// can never acknowledge a write (default true).
	FenceShutdown *bool `yaml:"fence_shutdown,omitempty"`
	// StateDir holds the manager's state file (default: the config's directory).
	StateDir string `yaml:"state_dir,omitempty"`
	// PreFailover and PostFailover are shell commands run before (non-zero
	// exit aborts an automatic failover) and after a failover or switchover,
	// with VIGIL_* environment variables describing it.
	PreFailover  []string `yaml:"pre_failover,omitempty"`
	PostFailover []string `yaml:"post_failover,omitempty"`
}

func (m *Manager) setDefaults() {
	if m.Listen == "" {
		m.Listen = "127.0.0.1:6035"
	}
	setDur(&m.ProbeInterval, 500*time.Millisecond)
	setDur(&m.ConnectTimeout, 500*time.Millisecond)
	setDur(&m.ReadTimeout, time.Second)
	setDur(&m.FailoverBlock, time.Hour)
	setDur(&m.CatchupTimeout, 10*time.Second)
	setDur(&m.SwitchoverGrace, 200*time.Millisecond)
	setDur(&m.HeartbeatPeriod, 500*time.Millisecond)
	setDur(&m.SemiSyncTimeout, 24*time.Hour)
	if m.FailCount == 0 {
		m.FailCount = 2
	}
	if m.FenceShutdown == nil {
		t := true
		m.FenceShutdown = &t
	}
}

func setDur(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}

// Validate checks addresses and durations.
func (m *Manager) Validate() error {
	if _, _, err := net.SplitHostPort(m.Listen); err != nil {
		return fmt.Errorf("listen %q: want host:port", m.Listen)
	}
	if m.ProbeInterval <= 0 || m.ConnectTimeout <= 0 || m.ReadTimeout <= 0 {
		return fmt.Errorf("probe_interval, connect_timeout and read_timeout must be positive")
	}
	if m.FailCount < 1 {
		return fmt.Errorf("fail_count must be at least 1")
	}
	for _, d := range []time.Duration{m.FailoverBlock, m.MaxCandidateLag, m.CatchupTimeout,
		m.SwitchoverGrace, m.HeartbeatPeriod, m.SemiSyncTimeout} {
		if d < 0 {
			return fmt.Errorf("durations must not be negative")
		}
	}
	return nil
}
