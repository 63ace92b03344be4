package topology

import (
	"context"
	"log/slog"
	"time"
)

// NodeFromProbe turns the latest probe of s into a routing node. The role is
// what the server itself says: writable and not replicating -> primary,
// replicating -> replica, otherwise unknown. Callers that know better (the
// manager) override Role.
func NodeFromProbe(s Server, p Probe, seen bool) Node {
	n := Node{Name: s.Name, Address: s.Address, Weight: s.Weight, Role: RoleUnknown, Lag: -1, ReadOnly: true}
	if !seen || !p.OK() {
		return n
	}
	n.Up, n.ReadOnly, n.GTIDCurrent = true, p.ReadOnly, p.GTIDCurrentPos
	switch {
	case p.Replica != nil:
		n.Role = RoleReplica
		if p.Replica.SQLRunning {
			n.Lag = p.Replica.Lag
		}
	case !p.ReadOnly:
		n.Role, n.Lag = RolePrimary, 0
	}
	return n
}

// Standalone derives snapshots from a Monitor alone, without a manager: the
// primary is the one reachable server with read_only=OFF that does not
// replicate (none if there are zero or several). The epoch increases
// whenever that designation changes. The proxy uses it when no manager_url
// is configured. It implements Source.
type Standalone struct {
	mon *Monitor
	log *slog.Logger
	pub *Publisher
}

// NewStandalone returns a source that follows mon; call Run.
func NewStandalone(mon *Monitor, log *slog.Logger) *Standalone {
	return &Standalone{mon: mon, log: log, pub: NewPublisher(&Snapshot{})}
}

// Current implements Source.
func (s *Standalone) Current() (*Snapshot, <-chan struct{}) { return s.pub.Current() }

// Run follows the monitor until ctx ends. It does not run the monitor.
func (s *Standalone) Run(ctx context.Context) error {
	for {
		obs, changed := s.mon.Observe()
		s.update(obs)
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		}
	}
}

func (s *Standalone) update(obs Observation) {
	cur, _ := s.pub.Current()
	next := &Snapshot{Epoch: cur.Epoch}
	var writers []string
	for _, srv := range s.mon.Config().Servers {
		p, seen := obs.Probes[srv.Name]
		n := NodeFromProbe(srv, p, seen)
		if n.Role == RolePrimary {
			writers = append(writers, n.Name)
		}
		next.Nodes = append(next.Nodes, n)
	}
	if len(writers) == 1 {
		next.Primary = writers[0]
	} else if len(writers) > 1 {
		s.log.Error("several writable servers; holding writes", "servers", writers)
	}
	if next.Primary != cur.Primary {
		next.Epoch++
	}
	if cur.Version != 0 && SameRouting(cur, next) {
		return
	}
	next.Version = NextVersion(cur.Version)
	s.pub.Publish(next)
}

// NextVersion returns a version greater than prev, taken from the wall clock
// (microseconds) when possible so that versions keep increasing across
// restarts of the publisher.
func NextVersion(prev uint64) uint64 {
	now := uint64(time.Now().UnixMicro())
	if now > prev {
		return now
	}
	return prev + 1
}

// SameRouting reports whether a and b route alike: same epoch, primary, and
// per node the same role, reachability, read_only, weight and lag (to the
// second). GTID positions are ignored so that write traffic alone does not
// cause publications.
func SameRouting(a, b *Snapshot) bool {
	if a.Epoch != b.Epoch || a.Primary != b.Primary || len(a.Nodes) != len(b.Nodes) {
		return false
	}
	for i := range a.Nodes {
		x, y := a.Nodes[i], b.Nodes[i]
		if x.Name != y.Name || x.Address != y.Address || x.Role != y.Role || x.Up != y.Up ||
			x.ReadOnly != y.ReadOnly || x.Weight != y.Weight || x.Lag.Truncate(time.Second) != y.Lag.Truncate(time.Second) ||
			(x.Lag < 0) != (y.Lag < 0) { // -1 (unknown, SQL thread stopped) truncates to 0
			return false
		}
	}
	return true
}
