package config

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

// Cluster names the cluster and lists its MySQL/MariaDB servers.
type Cluster struct {
	// Name identifies the cluster in logs, metrics and the API.
	Name string `yaml:"name"`
	// Flavor is "mariadb" (default) or "mysql".
	Flavor string `yaml:"flavor,omitempty"`
	// Servers are every database server of the cluster.
	Servers []Server `yaml:"servers"`
	// TLS is how Vigil's components connect to the servers: the manager's
	// probes and every connection of its actions, and the proxy's
	// connections when proxy.backend_tls is unset (default: off, plain
	// TCP). Replication between the servers is not affected: CHANGE
	// MASTER keeps the servers' own settings.
	TLS BackendTLS `yaml:"tls,omitempty"`
}

// Server is one database server.
type Server struct {
	// Name is unique in the cluster (e.g. db1).
	Name string `yaml:"name"`
	// Address is host:port.
	Address string `yaml:"address"`
	// Weight is the relative share of reads this server gets as a replica (default 1).
	Weight int `yaml:"weight,omitempty"`
	// Candidate is the failover preference: "prefer", "never" or "" (neutral).
	Candidate string `yaml:"candidate,omitempty"`
}

// Accounts are Vigil's own MySQL accounts.
type Accounts struct {
	// Replication is used by replicas to connect to the primary.
	Replication Credentials `yaml:"replication"`
	// Admin is used by the manager and the proxy to probe and manage servers.
	Admin Credentials `yaml:"admin"`
}

// Credentials are a MySQL user name and clear-text password.
type Credentials struct {
	User     string `yaml:"user"`
	Password string `yaml:"password"`
}

// User is an application account served by the proxy.
type User struct {
	// Name is the MySQL user name.
	Name string `yaml:"name"`
	// Password is clear text, or a mysql_native_password hash ("*" + 40 hex
	// digits) as stored in mysql.user.
	Password string `yaml:"password"`
	// DefaultRoute is "auto" (read/write split, default), "primary" or "replica".
	DefaultRoute string `yaml:"default_route,omitempty"`
	// MaxConnections caps concurrent client sessions of this user (0: no cap).
	MaxConnections int `yaml:"max_connections,omitempty"`
}

func (c *Cluster) setDefaults() {
	if c.Flavor == "" {
		c.Flavor = "mariadb"
	}
	for i := range c.Servers {
		if c.Servers[i].Weight == 0 {
			c.Servers[i].Weight = 1
		}
	}
}

// Validate checks names, addresses and enumerations.
func (c *Cluster) Validate() error {
	if c.Flavor != "mariadb" && c.Flavor != "mysql" {
		return fmt.Errorf("flavor %q: want mariadb or mysql", c.Flavor)
	}
	if err := c.TLS.Validate(); err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	seen := map[string]bool{}
	for i, s := range c.Servers {
		if s.Name == "" {
			return fmt.Errorf("servers[%d]: name is empty", i)
		}
		if seen[s.Name] {
			return fmt.Errorf("servers[%d]: duplicate server name %q", i, s.Name)
		}
		seen[s.Name] = true
		if _, _, err := net.SplitHostPort(s.Address); err != nil {
			return fmt.Errorf("servers[%d] (%s): address %q: want host:port", i, s.Name, s.Address)
		}
		if s.Weight < 0 {
			return fmt.Errorf("servers[%d] (%s): weight %d is negative", i, s.Name, s.Weight)
		}
		switch s.Candidate {
		case "", "prefer", "never":
		default:
			return fmt.Errorf("servers[%d] (%s): candidate %q: want prefer, never or empty", i, s.Name, s.Candidate)
		}
	}
	return nil
}

// Server returns the server with the given name.
func (c *Cluster) Server(name string) (Server, bool) {
	for _, s := range c.Servers {
		if s.Name == name {
			return s, true
		}
	}
	return Server{}, false
}

func (u *User) setDefaults() {
	if u.DefaultRoute == "" {
		u.DefaultRoute = "auto"
	}
}

// Validate checks the name, route and password hash form.
func (u *User) Validate() error {
	if u.Name == "" {
		return errors.New("name is empty")
	}
	switch u.DefaultRoute {
	case "auto", "primary", "replica":
	default:
		return fmt.Errorf("user %s: default_route %q: want auto, primary or replica", u.Name, u.DefaultRoute)
	}
	if strings.HasPrefix(u.Password, "*") && !IsNativeHash(u.Password) {
		return fmt.Errorf("user %s: password starts with * but is not a mysql_native_password hash (* and 40 hex digits)", u.Name)
	}
	if u.MaxConnections < 0 {
		return fmt.Errorf("user %s: max_connections is negative", u.Name)
	}
	return nil
}

// IsNativeHash reports whether s looks like a mysql_native_password hash.
func IsNativeHash(s string) bool {
	if len(s) != 41 || s[0] != '*' {
		return false
	}
	for _, r := range s[1:] {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return true
}
