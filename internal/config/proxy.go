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
	// MaxConnections caps concurrent client sessions (default 10000); more
	// get error 1040.
	MaxConnections int `yaml:"max_connections,omitempty"`
	// ConnectTimeout bounds opening and logging into a backend connection
	// (default 2s).
	ConnectTimeout time.Duration `yaml:"connect_timeout,omitempty"`
	// QueryTimeout bounds the wait for a backend's answer to one statement
	// (0, the default: no limit). The client gets error 2013 and the backend
	// connection is closed.
	QueryTimeout time.Duration `yaml:"query_timeout,omitempty"`
	// ClientIdleTimeout closes client sessions idle for longer (0: never).
	ClientIdleTimeout time.Duration `yaml:"client_idle_timeout,omitempty"`
	// PoolMaxPerServer caps open backend connections per server (default 1000).
	PoolMaxPerServer int `yaml:"pool_max_per_server,omitempty"`
	// PoolMaxIdle caps idle backend connections kept per server (default 64).
	PoolMaxIdle int `yaml:"pool_max_idle,omitempty"`
	// PoolIdleTimeout closes idle backend connections after this (default 5m).
	PoolIdleTimeout time.Duration `yaml:"pool_idle_timeout,omitempty"`
	// PoolMinIdle is how many idle backend connections the proxy keeps open
	// ahead of demand (warm-up) per server it routes to and per client
	// capability profile seen within pool_idle_timeout, logged in as the
	// admin account and switched to the session's user by COM_CHANGE_USER
	// (default 4; 0 turns warm-up off).
	PoolMinIdle *int `yaml:"pool_min_idle,omitempty"`
	// ShutdownTimeout is how long a graceful shutdown lets sessions finish
	// their current statement or transaction (default 10s).
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout,omitempty"`
	// Threads is how many CPUs the proxy runs Go code on at once besides
	// its event loops (GOMAXPROCS, plus one per loop with data_path
	// loop). 0, the default, means one per four CPUs, at least one, unless
	// the GOMAXPROCS environment variable is set. With data_path loop this
	// is what runs the session goroutines' work (commands other than the
	// simple statements the loops run, opening backend connections),
	// the monitor and the HTTP API. With data_path goroutines it is all of
	// the relay: there, on a 2-CPU host, 1 thread instead of 2 cut the
	// added latency per statement from ~55 to ~30 µs at one client thread
	// (bench/README.md).
	Threads int `yaml:"threads,omitempty"`
	// DataPath chooses how the proxy moves statements: "loop" (the
	// default) serves sessions between commands on event loops that run
	// simple statements (a COM_QUERY or EXECUTE on a backend connection the
	// session holds, whose answer fits in 32 KiB) in place and hand
	// everything else to the session's goroutine; "goroutines" does all of
	// a session's I/O on its goroutine: under load the proxy's own
	// goroutines (topology updates, the HTTP API) wait less for a CPU, the
	// relay costs more (README, "The data path").
	DataPath string `yaml:"data_path,omitempty"`
	// Loops is the number of event loops of data_path loop (0, the
	// default: one per CPU the process may use, cgroup limits included, as
	// HAProxy's threads). Each keeps an OS thread, on top of threads, and
	// spreads sessions over the CPUs.
	Loops int `yaml:"loops,omitempty"`
	// Pipelines, when above 0, lets each event loop send independent reads of
	// different sessions (autocommit SELECTs that depend on nothing of the
	// session but its schema and settings) over up to Pipelines shared backend
	// connections per server and session state, several at a time, instead
	// of one at a time over each session's own connection (README,
	// "Pipelined reads"). 0, the default: off.
	Pipelines int `yaml:"pipelines,omitempty"`
	// TLSCert and TLSKey are PEM files; when set, clients may use TLS.
	TLSCert string `yaml:"tls_cert,omitempty"`
	TLSKey  string `yaml:"tls_key,omitempty"`
	// TLSSelfSigned offers TLS with a certificate generated at start
	// (when no tls_cert is given).
	TLSSelfSigned bool `yaml:"tls_self_signed,omitempty"`
	// RSAPrivateKey is a PEM file with the RSA key of caching_sha2_password
	// full authentication without TLS (clients get its public half); empty,
	// the default: a 2048-bit key generated on the first login that needs it.
	RSAPrivateKey string `yaml:"rsa_private_key,omitempty"`
	// DefaultAuthPlugin is the authentication plugin the greeting proposes:
	// mysql_native_password (the default, as MariaDB) or
	// caching_sha2_password (as MySQL 8). Clients may answer with either.
	DefaultAuthPlugin string `yaml:"default_auth_plugin,omitempty"`
	// BackendTLS secures the connections to the servers (default, when
	// entirely unset: cluster.tls). Read at start; a reload keeps the
	// running setting.
	BackendTLS BackendTLS `yaml:"backend_tls,omitempty"`
}

func (p *Proxy) setDefaults() {
	if p.Listen == "" {
		p.Listen = "127.0.0.1:6033"
	}
	if p.HoldTimeout == 0 {
		p.HoldTimeout = 10 * time.Second
	}
	if p.MaxConnections == 0 {
		p.MaxConnections = 10000
	}
	if p.ConnectTimeout == 0 {
		p.ConnectTimeout = 2 * time.Second
	}
	if p.PoolMaxPerServer == 0 {
		p.PoolMaxPerServer = 1000
	}
	if p.PoolMaxIdle == 0 {
		p.PoolMaxIdle = min(64, p.PoolMaxPerServer)
	}
	if p.PoolIdleTimeout == 0 {
		p.PoolIdleTimeout = 5 * time.Minute
	}
	if p.PoolMinIdle == nil {
		n := min(4, p.PoolMaxIdle)
		p.PoolMinIdle = &n
	}
	if p.ShutdownTimeout == 0 {
		p.ShutdownTimeout = 10 * time.Second
	}
	if p.DefaultAuthPlugin == "" {
		p.DefaultAuthPlugin = "mysql_native_password"
	}
}

// Validate checks addresses, limits and durations.
func (p *Proxy) Validate() error {
	if _, _, err := net.SplitHostPort(p.Listen); err != nil {
		return fmt.Errorf("listen %q: want host:port", p.Listen)
	}
	if p.HTTPListen != "" {
		if _, _, err := net.SplitHostPort(p.HTTPListen); err != nil {
			return fmt.Errorf("http_listen %q: want host:port", p.HTTPListen)
		}
	}
	for _, d := range []time.Duration{p.HoldTimeout, p.ConnectTimeout, p.QueryTimeout,
		p.ClientIdleTimeout, p.PoolIdleTimeout, p.ShutdownTimeout} {
		if d < 0 {
			return fmt.Errorf("durations must not be negative")
		}
	}
	if p.MaxConnections < 0 || p.PoolMaxPerServer < 0 || p.PoolMaxIdle < 0 || p.Threads < 0 || p.Loops < 0 || p.Pipelines < 0 {
		return fmt.Errorf("limits must not be negative")
	}
	switch p.DataPath {
	case "", "loop", "goroutines":
	default:
		return fmt.Errorf("data_path %q: want loop or goroutines", p.DataPath)
	}
	if (p.TLSCert == "") != (p.TLSKey == "") {
		return fmt.Errorf("tls_cert and tls_key must be set together")
	}
	switch p.DefaultAuthPlugin {
	case "mysql_native_password", "caching_sha2_password":
	default:
		return fmt.Errorf("default_auth_plugin %q: want mysql_native_password or caching_sha2_password", p.DefaultAuthPlugin)
	}
	if err := p.BackendTLS.Validate(); err != nil {
		return fmt.Errorf("backend_tls: %w", err)
	}
	if p.PoolMaxIdle > p.PoolMaxPerServer {
		return fmt.Errorf("pool_max_idle %d exceeds pool_max_per_server %d", p.PoolMaxIdle, p.PoolMaxPerServer)
	}
	if p.PoolMinIdle != nil && (*p.PoolMinIdle < 0 || *p.PoolMinIdle > p.PoolMaxIdle) {
		return fmt.Errorf("pool_min_idle %d: want 0 to pool_max_idle (%d)", *p.PoolMinIdle, p.PoolMaxIdle)
	}
	return nil
}

// LoopsFor is the number of event loops on a host where the proxy may use
// cpus CPUs: Loops, or when it is 0 one per CPU.
func (p *Proxy) LoopsFor(cpus int) int {
	if p.Loops > 0 {
		return p.Loops
	}
	return max(1, cpus)
}

// ThreadsFor is the proxy's thread count on a host with numCPU CPUs:
// Threads, or when it is 0 one per four CPUs, at least one.
func (p *Proxy) ThreadsFor(numCPU int) int {
	if p.Threads > 0 {
		return p.Threads
	}
	return max(1, numCPU/4)
}
