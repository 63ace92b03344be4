package failover

import (
	"context"
	"fmt"

	"vigil/internal/topology"
)

// tend looks after every server but the primary on each observation:
//   - a demoted primary (detached) that answers is fenced if writable, then
//     rejoined as a replica if its GTID history is contained in the fork
//     point, or quarantined (errant transactions) if not;
//   - a quarantined server that is writable is fenced; one that an operator
//     rebuilt (replicating from the primary without errors) is released;
//   - any other writable server is fenced (never two writers), and a
//     replica following the wrong source is re-pointed if its history fits.
//
// The caller holds opMu.
func (e *Engine) tend(ctx context.Context, obs topology.Observation) {
	st := e.state()
	if st.Primary == "" {
		return
	}
	prim, _ := e.cfg.server(st.Primary)
	pp := obs.Probes[st.Primary]
	for _, s := range e.cfg.Servers {
		p := obs.Probes[s.Name]
		if s.Name == st.Primary || !p.OK() || !e.fresh(p) {
			continue
		}
		_, detached := st.Detached[s.Name]
		_, quarantined := st.Quarantined[s.Name]
		switch {
		case !p.ReadOnly:
			e.fenceStray(ctx, s.Name, detached)
		case detached:
			e.rejoin(ctx, st, s.Name, p, prim, pp)
		case quarantined:
			e.release(ctx, st, s.Name, p, prim)
		case p.Replica == nil || p.Replica.Source() != prim.Address:
			e.adopt(ctx, st, s.Name, p, prim, pp)
		}
	}
}

// fenceStray fences a writable server that is not the primary. A demoted
// primary that woke up writable is shut down when FenceShutdown is set, so
// that it can never acknowledge a write.
func (e *Engine) fenceStray(ctx context.Context, name string, demoted bool) {
	defer e.touch()
	n, _ := e.act.killClients(ctx, name)
	if demoted && e.cfg.FenceShutdown {
		err := e.act.exec(ctx, name, "SHUTDOWN")
		if err == nil || !isAlive(ctx, e, name) {
			e.event("fence", name, fmt.Sprintf("demoted primary answered writable: killed %d connection(s) and shut it down", n), nil)
			return
		}
	}
	err := e.act.exec(ctx, name, "SET GLOBAL read_only=ON")
	n2, _ := e.act.killClients(ctx, name)
	if err != nil {
		e.report("fence:"+name, "error", name, "cannot fence writable server: "+err.Error())
		return
	}
	e.event("fence", name, fmt.Sprintf("writable server that is not the primary fenced: read_only=ON, %d connection(s) killed", n+n2), nil)
}

func isAlive(ctx context.Context, e *Engine, name string) bool {
	_, err := e.act.gtidCurrent(ctx, name)
	return err == nil
}

// rejoin makes a returning demoted primary a replica of the new primary, or
// quarantines it.
func (e *Engine) rejoin(ctx context.Context, st State, name string, p topology.Probe, prim topology.Server, pp topology.Probe) {
	if p.Replica != nil && p.Replica.Source() == prim.Address && p.Replica.IORunning == "Yes" && p.Replica.SQLRunning {
		delete(st.Detached, name)
		if e.commit(st) == nil {
			e.event("rejoined", name, "demoted primary replicates from "+st.Primary, nil)
		}
		return
	}
	if !pp.OK() {
		return // judge against a primary we can read
	}
	// A woken demoted primary may still hold client sessions, one of them
	// waiting for the semi-sync acknowledgement of a commit only it has;
	// pointTo turns semi-sync off there, which would answer that client
	// OK. Fence first (the sessions are killed: their clients get an
	// error, never an OK), then judge its binlog as it is after that, so
	// that such a commit counts as errant.
	if err := e.act.fence(ctx, name); err != nil {
		e.report("rejoin:"+name, "error", name, "cannot fence the demoted primary before it rejoins: "+err.Error())
		return
	}
	if fresh, err := e.act.read(ctx, name); err == nil {
		p = fresh
	} else {
		return
	}
	mine, err1 := topology.ParseGTIDPos(p.GTIDBinlogPos)
	fork, err2 := topology.ParseGTIDPos(st.Detached[name])
	if err1 != nil || err2 != nil {
		e.report("rejoin:"+name, "error", name, fmt.Sprintf("cannot compare GTID positions: %v %v", err1, err2))
		return
	}
	if !fork.Contains(mine) {
		e.quarantine(st, name, fmt.Sprintf("errant transactions: its binlog %s is not contained in the fork point %s (extra: %v)",
			mine, fork, mine.Extra(fork)))
		return
	}
	defer e.touch()
	if err := e.act.pointTo(ctx, name, prim, true, st.SemiSync); err != nil {
		e.report("rejoin:"+name, "error", name, "cannot rejoin as a replica: "+err.Error())
		return
	}
	delete(st.Detached, name)
	if e.commit(st) == nil {
		e.event("rejoined", name, fmt.Sprintf("demoted primary rejoined as a replica of %s (its history %s fits the fork point %s)",
			st.Primary, mine, fork), nil)
	}
}

func (e *Engine) quarantine(st State, name, reason string) {
	delete(st.Detached, name)
	st.Quarantined[name] = reason
	if e.commit(st) == nil {
		e.event("quarantine", name, "quarantined: "+reason, nil)
	}
}

// release returns a quarantined server to service once it replicates
// cleanly from the primary (an operator rebuilt it).
func (e *Engine) release(ctx context.Context, st State, name string, p topology.Probe, prim topology.Server) {
	rs := p.Replica
	if rs == nil || rs.Source() != prim.Address || rs.IORunning != "Yes" || !rs.SQLRunning || rs.LastSQLErrno != 0 {
		return
	}
	delete(st.Quarantined, name)
	if e.commit(st) == nil {
		e.event("released", name, "quarantined server replicates cleanly from the primary; back in service", nil)
	}
}

// adopt re-points a read-only server that does not follow the primary (a
// replica that was down during a failover) if its history fits.
func (e *Engine) adopt(ctx context.Context, st State, name string, p topology.Probe, prim topology.Server, pp topology.Probe) {
	if !pp.OK() {
		return
	}
	mine, err1 := topology.ParseGTIDPos(p.GTIDCurrentPos)
	theirs, err2 := topology.ParseGTIDPos(pp.GTIDCurrentPos)
	if err1 != nil || err2 != nil {
		return
	}
	if !theirs.Contains(mine) {
		e.quarantine(st, name, fmt.Sprintf("has transactions the primary lacks: %s not contained in %s", mine, theirs))
		return
	}
	defer e.touch()
	// MASTER_DEMOTE_TO_SLAVE: a server that has its own binlog history
	// (it was a primary once) continues from gtid_current_pos; for a plain
	// replica that is its gtid_slave_pos anyway.
	if err := e.act.pointTo(ctx, name, prim, true, st.SemiSync); err != nil {
		e.report("adopt:"+name, "error", name, "cannot point replica at the primary: "+err.Error())
		return
	}
	e.clearReport("adopt:" + name)
	e.event("repointed", name, "replica now follows the primary "+st.Primary, nil)
}
