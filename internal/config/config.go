// Package config decodes Vigil's one configuration file format: a YAML
// document that describes a cluster (its servers, internal accounts and
// application users) and the settings of each role (proxy, manager, vip).
//
// Decoding is strict: an unknown key is an error that names its line. Each
// role reads the sections it needs; Load applies defaults and validates.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"gopkg.in/yaml.v3"
)

// Config is the whole file. Every role loads the same file.
type Config struct {
	// Cluster names the cluster and lists its servers.
	Cluster Cluster `yaml:"cluster"`
	// Accounts are the internal MySQL accounts Vigil itself uses.
	Accounts Accounts `yaml:"accounts"`
	// Users are the application accounts the proxy authenticates.
	Users []User `yaml:"users"`
	// Proxy configures `vigil proxy`.
	Proxy Proxy `yaml:"proxy"`
	// Routing configures the proxy's read/write split, rules and causal reads.
	Routing Routing `yaml:"routing"`
	// Manager configures `vigil manager`.
	Manager Manager `yaml:"manager"`
	// VIP configures `vigil vip`.
	VIP VIP `yaml:"vip"`
}

// Load reads, strictly decodes, defaults and validates the file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// Parse strictly decodes data, applies defaults and validates the result.
func Parse(data []byte) (*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var cfg Config
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// Marshal encodes cfg as YAML (used by the sandbox to write a real file).
func Marshal(cfg *Config) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(cfg); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (c *Config) setDefaults() {
	c.Cluster.setDefaults()
	for i := range c.Users {
		c.Users[i].setDefaults()
	}
	c.Proxy.setDefaults()
	// proxy.backend_tls, entirely unset, is cluster.tls; "mode: off" is set.
	if c.Proxy.BackendTLS == (BackendTLS{}) {
		c.Proxy.BackendTLS = c.Cluster.TLS
	}
	c.Routing.setDefaults()
	c.Manager.setDefaults()
	c.VIP.setDefaults()
}

// Validate checks every section and returns the first problem found.
func (c *Config) Validate() error {
	if err := c.Cluster.Validate(); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	seen := map[string]bool{}
	for i, u := range c.Users {
		if err := u.Validate(); err != nil {
			return fmt.Errorf("users[%d]: %w", i, err)
		}
		if seen[u.Name] {
			return fmt.Errorf("users[%d]: duplicate user %q", i, u.Name)
		}
		seen[u.Name] = true
	}
	if err := c.Proxy.Validate(); err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	if err := c.Routing.Validate(); err != nil {
		return fmt.Errorf("routing: %w", err)
	}
	if err := c.Manager.Validate(); err != nil {
		return fmt.Errorf("manager: %w", err)
	}
	if err := c.VIP.Validate(); err != nil {
		return fmt.Errorf("vip: %w", err)
	}
	return nil
}
