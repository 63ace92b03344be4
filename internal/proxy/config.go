package proxy

import (
	"crypto/rsa"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"vigil/internal/config"
	"vigil/internal/mysqlwire"
)

// User is an application account the proxy authenticates.
type User struct {
	Name string
	// Cred is the password as stored (stage-2 hash, stage-1 if known).
	Cred mysqlwire.Credentials
	// MaxConnections caps this user's concurrent sessions (0: no cap).
	MaxConnections int
}

// Config configures a Server. Build it with ConfigFrom.
type Config struct {
	// Users by name.
	Users map[string]User
	// Admin is the account used for KILL QUERY on backends and to learn the
	// server version.
	Admin config.Credentials
	// Servers are the configured server addresses, used to learn the server
	// version before the topology names a primary.
	Servers []string
	// Flavor is "mariadb" or "mysql".
	Flavor string
	// HoldTimeout bounds the wait for a writable primary.
	HoldTimeout time.Duration
	// ConnectTimeout bounds opening a backend connection.
	ConnectTimeout time.Duration
	// QueryTimeout bounds waiting for a backend answer (0: none).
	QueryTimeout time.Duration
	// ClientIdleTimeout closes idle client sessions (0: never).
	ClientIdleTimeout time.Duration
	// MaxConnections caps client sessions (error 1040 beyond).
	MaxConnections int
	// TLS, when set, is offered to clients.
	TLS *tls.Config
	// RSAKey is the key of caching_sha2_password full authentication on
	// plain connections; nil: New generates one, kept across reloads.
	RSAKey *rsa.PrivateKey
	// AuthPlugin is the plugin the greeting proposes: NativePassword (the
	// default) or CachingSHA2Password.
	AuthPlugin string
	// DataPath is DataPathLoop (the default: event loops serve sessions
	// between commands and run simple statements in place, loop.go) or
	// DataPathGoroutines (each session's goroutine does all its I/O). Fixed at New;
	// Reload does not change it.
	DataPath string
	// Loops is the number of event loops (0: one per CPU), each on a
	// thread and a P of its own (GOMAXPROCS grows by Loops while the
	// server runs). Fixed at New.
	Loops int
	// Pipelines is the number of shared connections per server and session
	// state on which each loop pipelines independent reads (0: none;
	// pipeline.go). Fixed at New.
	Pipelines int
}

// Data paths (Config.DataPath).
const (
	DataPathLoop       = "loop"
	DataPathGoroutines = "goroutines"
)

// ConfigFrom builds the proxy configuration from the shared file.
func ConfigFrom(c *config.Config) (Config, error) {
	pc := Config{
		Users:             make(map[string]User, len(c.Users)),
		Admin:             c.Accounts.Admin,
		Flavor:            c.Cluster.Flavor,
		HoldTimeout:       c.Proxy.HoldTimeout,
		ConnectTimeout:    c.Proxy.ConnectTimeout,
		QueryTimeout:      c.Proxy.QueryTimeout,
		ClientIdleTimeout: c.Proxy.ClientIdleTimeout,
		MaxConnections:    c.Proxy.MaxConnections,
		AuthPlugin:        c.Proxy.DefaultAuthPlugin,
		DataPath:          c.Proxy.DataPath,
		Loops:             c.Proxy.Loops,
		Pipelines:         c.Proxy.Pipelines,
	}
	for _, s := range c.Cluster.Servers {
		pc.Servers = append(pc.Servers, s.Address)
	}
	tc, err := tlsConfig(c.Proxy)
	if err != nil {
		return Config{}, err
	}
	pc.TLS = tc
	if pc.RSAKey, err = rsaKey(c.Proxy); err != nil {
		return Config{}, err
	}
	for _, u := range c.Users {
		cred, err := mysqlwire.CredentialsFor(u.Password)
		if err != nil {
			return Config{}, fmt.Errorf("user %s: %w", u.Name, err)
		}
		pc.Users[u.Name] = User{Name: u.Name, Cred: cred, MaxConnections: u.MaxConnections}
	}
	return pc, pc.Validate()
}

func (c *Config) setDefaults() {
	if c.HoldTimeout == 0 {
		c.HoldTimeout = 10 * time.Second
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = 2 * time.Second
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = 10000
	}
	if c.Flavor == "" {
		c.Flavor = "mariadb"
	}
	if c.AuthPlugin == "" {
		c.AuthPlugin = mysqlwire.NativePassword
	}
	if c.DataPath == "" {
		c.DataPath = DataPathLoop
	}
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if c.HoldTimeout < 0 || c.ConnectTimeout < 0 || c.QueryTimeout < 0 || c.ClientIdleTimeout < 0 {
		return errors.New("proxy: durations must not be negative")
	}
	if c.MaxConnections < 0 {
		return errors.New("proxy: max_connections must not be negative")
	}
	if c.Loops < 0 {
		return errors.New("proxy: loops must not be negative")
	}
	if c.AuthPlugin != mysqlwire.NativePassword && c.AuthPlugin != mysqlwire.CachingSHA2Password {
		return fmt.Errorf("proxy: default auth plugin %q: want %s or %s",
			c.AuthPlugin, mysqlwire.NativePassword, mysqlwire.CachingSHA2Password)
	}
	if c.DataPath != "" && c.DataPath != DataPathLoop && c.DataPath != DataPathGoroutines {
		return fmt.Errorf("proxy: data_path %q: want %s or %s", c.DataPath, DataPathLoop, DataPathGoroutines)
	}
	return nil
}
