// Package topology is the cluster model shared by the manager, the proxy and
// the sandbox: which server is the primary, which are replicas, how healthy
// and how far behind each one is.
//
// A Snapshot is immutable once published. Its Epoch changes whenever the
// primary designation changes (including to "no primary" while a failover
// runs); its Version changes on every publication. Proxies send writes only
// to Snapshot.Primary of the newest epoch they have seen, and hold writes
// while Primary is empty.
//
// # Sources of snapshots
//
// Three things implement Source:
//
//   - Publisher: the in-process holder the manager publishes into.
//   - Remote: a proxy's view of a manager. topology.NewRemote(url, log) then
//     Run(ctx) long-polls GET {url}/api/v1/topology?after=<version>&wait=<dur>
//     (served by Handler), reconnects with backoff, and keeps the last
//     snapshot while the manager is unreachable.
//   - Standalone: no manager. NewStandalone(mon, log) follows a Monitor and
//     names as primary the one reachable, non-replicating server with
//     read_only=OFF (none if zero or several); the epoch moves when that
//     changes.
//
// # Monitor
//
// Monitor probes every server on its own kept-open connection (go-sql-driver
// with connect and read timeouts) every Interval: read_only, replication IO
// and SQL threads with their last errors, gtid_binlog_pos, gtid_slave_pos,
// gtid_current_pos, the received position (Gtid_IO_Pos), Seconds_Behind_Master
// and heartbeats, semi-sync state. Observe returns the newest Probe per
// server; ProbeNow asks for an immediate probe (the manager re-probes the
// replicas as soon as the primary fails one). Typical proxy wiring:
//
//	mon, _ := topology.NewMonitor(topology.MonitorConfigFrom(cfg), log)
//	src := topology.NewStandalone(mon, log)
//	go mon.Run(ctx); go src.Run(ctx) // src is the proxy's topology.Source
//
// GTIDPos parses and compares MariaDB GTID positions.
package topology

import "time"

// Role is what a server does in the cluster.
type Role string

// Roles a node can have.
const (
	RolePrimary     Role = "primary"
	RoleReplica     Role = "replica"
	RoleQuarantined Role = "quarantined" // out of routing: errant transactions or broken
	RoleUnknown     Role = "unknown"
)

// Node is one server as last observed.
type Node struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	Role    Role   `json:"role"`
	// Up is true when the last probe reached the server.
	Up bool `json:"up"`
	// ReadOnly is the server's read_only variable.
	ReadOnly bool `json:"read_only"`
	// Lag is the replica's delay behind the primary; -1 when unknown or
	// when the SQL thread is stopped (such a replica counts as lagging).
	Lag time.Duration `json:"lag_ns"`
	// GTIDCurrent is gtid_current_pos (MariaDB) or gtid_executed (MySQL).
	GTIDCurrent string `json:"gtid_current,omitempty"`
	// Weight is the relative share of reads.
	Weight int `json:"weight"`
}

// Snapshot is the published view of the cluster.
type Snapshot struct {
	// Epoch changes whenever the primary designation changes.
	Epoch uint64 `json:"epoch"`
	// Version changes on every publication; it orders snapshots.
	Version uint64 `json:"version"`
	// Primary is the name of the writable node; empty while none is (failover).
	Primary string `json:"primary"`
	// Nodes are all servers, primary included.
	Nodes []Node `json:"nodes"`
}

// Node returns the node with the given name.
func (s *Snapshot) Node(name string) (Node, bool) {
	for _, n := range s.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return Node{}, false
}

// PrimaryNode returns the primary, if there is one.
func (s *Snapshot) PrimaryNode() (Node, bool) {
	if s.Primary == "" {
		return Node{}, false
	}
	return s.Node(s.Primary)
}

// Source is where a consumer (the proxy) gets snapshots from: the manager's
// API, or a standalone read_only poller.
type Source interface {
	// Current returns the newest snapshot and a channel that is closed when a
	// newer one is available.
	Current() (*Snapshot, <-chan struct{})
}
