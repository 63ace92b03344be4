package failover

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"vigil/internal/config"
	"vigil/internal/mysqlwire"
	"vigil/internal/topology"
)

// Clock tells the time; tests inject a fake one.
type Clock interface{ Now() time.Time }

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// Config configures an Engine. FromConfig builds it from the shared file.
type Config struct {
	// Cluster names the cluster in events and hooks.
	Cluster string
	// Servers are all servers in configuration order.
	Servers []topology.Server
	// Candidate maps a server name to "prefer" or "never" (absent: neutral).
	Candidate map[string]string
	// Admin is the account the engine acts with; Repl is what replicas use
	// to connect to the primary.
	Admin, Repl config.Credentials
	// TLS secures every connection of the engine's actions in the modes of
	// topology.MonitorConfig.TLS (nil: plain TCP). FromConfig leaves it
	// nil; `vigil manager` sets it, and its monitor's, from cluster.tls.
	// In required mode and stricter, replicas are also pointed at their
	// primary with MASTER_SSL=1.
	TLS *mysqlwire.ClientTLS
	// ConnectTimeout bounds dialing a server for an action.
	ConnectTimeout time.Duration
	// ActionTimeout bounds one SQL action (fence, stop, promote) on one server.
	ActionTimeout time.Duration
	// FailCount consecutive failed probes make the primary a suspect.
	FailCount int
	// RecheckDelay is how soon the primary is probed again after a failed
	// probe (instead of waiting for the next interval).
	RecheckDelay time.Duration
	// AutoFailover enables automatic failover.
	AutoFailover bool
	// FailoverBlock is the anti-flap period after a failover.
	FailoverBlock time.Duration
	// MaxCandidateLag excludes lagging replicas (0: no limit).
	MaxCandidateLag time.Duration
	// CatchupTimeout bounds waiting for a candidate to apply its relay log.
	CatchupTimeout time.Duration
	// SwitchoverGrace lets running statements finish before a switchover
	// sets read_only and kills connections.
	SwitchoverGrace time.Duration
	// HeartbeatPeriod is set on every replica the engine points somewhere.
	HeartbeatPeriod time.Duration
	// SemiSyncTimeout is rpl_semi_sync_master_timeout on a promoted primary.
	SemiSyncTimeout time.Duration
	// FenceShutdown shuts down a demoted primary that is writable again.
	FenceShutdown bool
	// StatePath is the state file (epoch, primary, detached servers).
	StatePath string
	// PreHooks and PostHooks are shell commands (see RunHooks).
	PreHooks, PostHooks []string
	// Flavor is the cluster's server flavor; only "mariadb" is supported.
	Flavor string
	// Clock defaults to the wall clock.
	Clock Clock
}

// FromConfig builds the engine configuration; configPath locates the
// default state directory.
func FromConfig(cfg *config.Config, configPath string) Config {
	m := cfg.Manager
	dir := m.StateDir
	if dir == "" {
		dir = filepath.Dir(configPath)
	}
	c := Config{
		Cluster: cfg.Cluster.Name, Candidate: map[string]string{},
		Admin: cfg.Accounts.Admin, Repl: cfg.Accounts.Replication,
		ConnectTimeout: m.ConnectTimeout, ActionTimeout: 2 * m.ReadTimeout,
		FailCount: m.FailCount, RecheckDelay: m.ProbeInterval / 5, AutoFailover: m.AutoFailover, FailoverBlock: m.FailoverBlock,
		MaxCandidateLag: m.MaxCandidateLag, CatchupTimeout: m.CatchupTimeout,
		SwitchoverGrace: m.SwitchoverGrace, HeartbeatPeriod: m.HeartbeatPeriod,
		SemiSyncTimeout: m.SemiSyncTimeout, FenceShutdown: m.FenceShutdown == nil || *m.FenceShutdown,
		StatePath: filepath.Join(dir, "vigil-manager-"+safeName(cfg.Cluster.Name)+".state.json"),
		PreHooks:  m.PreFailover, PostHooks: m.PostFailover, Flavor: cfg.Cluster.Flavor,
	}
	for _, s := range cfg.Cluster.Servers {
		c.Servers = append(c.Servers, topology.Server{Name: s.Name, Address: s.Address, Weight: s.Weight})
		if s.Candidate != "" {
			c.Candidate[s.Name] = s.Candidate
		}
	}
	return c
}

func safeName(s string) string {
	if s == "" {
		return "cluster"
	}
	b := []byte(s)
	for i, ch := range b {
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.ConnectTimeout, 500*time.Millisecond)
	def(&c.ActionTimeout, 2*time.Second)
	def(&c.CatchupTimeout, 10*time.Second)
	def(&c.SwitchoverGrace, 200*time.Millisecond)
	def(&c.HeartbeatPeriod, 500*time.Millisecond)
	def(&c.RecheckDelay, 100*time.Millisecond)
	def(&c.SemiSyncTimeout, 24*time.Hour)
	if c.FailCount == 0 {
		c.FailCount = 2
	}
	if c.Clock == nil {
		c.Clock = wallClock{}
	}
	if c.Candidate == nil {
		c.Candidate = map[string]string{}
	}
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if len(c.Servers) == 0 {
		return errors.New("failover: no servers")
	}
	if c.StatePath == "" {
		return errors.New("failover: no state path")
	}
	if c.FailCount < 1 {
		return errors.New("failover: fail count must be at least 1")
	}
	if c.Flavor != "" && c.Flavor != "mariadb" {
		return fmt.Errorf("failover: flavor %q is not supported yet: the manager speaks MariaDB GTID", c.Flavor)
	}
	return nil
}

func (c *Config) server(name string) (topology.Server, bool) {
	for _, s := range c.Servers {
		if s.Name == name {
			return s, true
		}
	}
	return topology.Server{}, false
}

// serverByAddr finds the server listening on addr (host:port).
func (c *Config) serverByAddr(addr string) (topology.Server, bool) {
	for _, s := range c.Servers {
		if s.Address == addr {
			return s, true
		}
	}
	return topology.Server{}, false
}
