package failover

import (
	"fmt"

	"vigil/internal/topology"
)

// Status reports the cluster as the engine sees it.
func (e *Engine) Status() topology.Status {
	e.mu.Lock()
	st, obs, health, failovers := e.st.clone(), e.obs, e.health, e.failovers
	e.mu.Unlock()
	s := topology.Status{
		Cluster: e.cfg.Cluster, Epoch: st.Epoch, Primary: st.Primary, SemiSync: st.SemiSync,
		Operation: st.Op, Health: string(health.Health), AutoFailover: e.cfg.AutoFailover,
		LastFailover: st.LastFailover, Failovers: failovers, Followers: e.follow.List(),
	}
	if st.Primary == "" {
		s.Health = "none"
	}
	if until := e.blockedUntil(st); e.cfg.Clock.Now().Before(until) {
		s.BlockedUntil = until
	}
	snap := e.snapshot(st, obs)
	for _, n := range snap.Nodes {
		ns := topology.NodeStatus{Node: n}
		p, seen := obs.Probes[n.Name]
		switch {
		case !seen:
			ns.Note = "not probed yet"
		case !p.OK():
			ns.Note = fmt.Sprintf("unreachable (%d failed probes): %s", p.Failures, p.Err)
		}
		if p.OK() {
			fillReplication(&ns, p, e.cfg)
		}
		if r, ok := st.Quarantined[n.Name]; ok {
			ns.Note = "quarantined: " + r
		} else if f, ok := st.Detached[n.Name]; ok {
			ns.Note = "demoted primary, waiting to rejoin (fork point " + f + ")"
		}
		s.Nodes = append(s.Nodes, ns)
	}
	return s
}

func fillReplication(ns *topology.NodeStatus, p topology.Probe, cfg Config) {
	if p.SemiSyncMasterEnabled && !p.ReadOnly {
		ns.SemiSync = "primary"
	} else if p.SemiSyncSlaveEnabled {
		ns.SemiSync = "replica"
	}
	rs := p.Replica
	if rs == nil {
		return
	}
	ns.Source = rs.Source()
	if s, ok := cfg.serverByAddr(ns.Source); ok {
		ns.Source = s.Name
	}
	ns.IORunning, ns.SQLRunning = rs.IORunning, rs.SQLRunning
	switch {
	case rs.LastIOErrno != 0:
		ns.LastError = fmt.Sprintf("IO %d: %s", rs.LastIOErrno, rs.LastIOError)
	case rs.LastSQLErrno != 0:
		ns.LastError = fmt.Sprintf("SQL %d: %s", rs.LastSQLErrno, rs.LastSQLError)
	}
}

// Failovers returns how many failovers this process completed.
func (e *Engine) Failovers() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.failovers
}
