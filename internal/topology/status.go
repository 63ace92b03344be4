package topology

import "time"

// Status is the manager's full report: what `vigil status` prints and
// GET /api/v1/status returns.
type Status struct {
	Cluster  string `json:"cluster"`
	Epoch    uint64 `json:"epoch"`
	Primary  string `json:"primary"`
	SemiSync bool   `json:"semisync"`
	// Operation is the running operation ("failover", "switchover") or "".
	Operation string `json:"operation,omitempty"`
	// Health summarises the primary: healthy, suspect, unreachable, dead, none.
	Health string `json:"health"`
	// AutoFailover reports whether automatic failover is on; BlockedUntil,
	// when in the future, is the end of the anti-flap block.
	AutoFailover bool      `json:"auto_failover"`
	BlockedUntil time.Time `json:"blocked_until,omitzero"`
	LastFailover time.Time `json:"last_failover,omitzero"`
	// Failovers counts failovers this manager process completed.
	Failovers int          `json:"failovers"`
	Nodes     []NodeStatus `json:"nodes"`
	// Followers are the proxies long-polling the manager's topology, as
	// recorded by Followers.
	Followers []FollowerStatus `json:"followers,omitempty"`
}

// NodeStatus is one server in a Status.
type NodeStatus struct {
	Node
	// Source is the server it replicates from ("" if none).
	Source     string `json:"source,omitempty"`
	IORunning  string `json:"io_running,omitempty"`
	SQLRunning bool   `json:"sql_running,omitempty"`
	LastError  string `json:"last_error,omitempty"`
	SemiSync   string `json:"semisync,omitempty"`
	// Note explains a quarantine, a detached old primary or a probe error.
	Note string `json:"note,omitempty"`
}

// OpResult describes a finished failover or switchover.
type OpResult struct {
	Kind     string        `json:"kind"`
	From     string        `json:"from"`
	To       string        `json:"to"`
	Epoch    uint64        `json:"epoch"`
	Took     time.Duration `json:"took_ns"`
	Held     time.Duration `json:"writes_held_ns"`
	Warnings []string      `json:"warnings,omitempty"`
}
