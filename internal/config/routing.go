package config

import (
	"fmt"
	"time"
)

// Routing configures how the proxy splits reads and writes.
type Routing struct {
	// MaxReplicaLag is the largest lag a replica may have and still serve reads.
	MaxReplicaLag time.Duration `yaml:"max_replica_lag,omitempty"`
}

func (r *Routing) setDefaults() {
	if r.MaxReplicaLag == 0 {
		r.MaxReplicaLag = 5 * time.Second
	}
}

// Validate checks the section.
func (r *Routing) Validate() error {
	if r.MaxReplicaLag < 0 {
		return fmt.Errorf("max_replica_lag must not be negative")
	}
	return nil
}
