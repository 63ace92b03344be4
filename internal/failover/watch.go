package failover

import (
	"context"
	"fmt"
	"time"

	"vigil/internal/topology"
)

// bootstrap identifies the primary of a cluster the engine has no state for
// (or whose state names none): the server the replicas replicate from. If it
// is up and not replicating it is opened for writes. Epoch moves to the next
// number.
func (e *Engine) bootstrap(ctx context.Context, obs topology.Observation) {
	for _, s := range e.cfg.Servers {
		if _, ok := obs.Probes[s.Name]; !ok {
			return // wait until every server was probed once
		}
	}
	name, why := identifyPrimary(e.cfg.Servers, obs)
	if name == "" {
		e.report("bootstrap", "bootstrap", "", "cannot identify the primary: "+why)
		return
	}
	st := e.state()
	p := obs.Probes[name]
	st.Primary, st.Epoch = name, st.Epoch+1
	st.SemiSync = st.SemiSync || p.SemiSyncMasterEnabled || anySemiSyncReplica(obs)
	if p.OK() {
		if err := e.open(ctx, name, st.SemiSync); err != nil {
			e.report("bootstrap", "error", name, "cannot open the primary for writes: "+err.Error())
			return
		}
	}
	if e.commit(st) != nil {
		return
	}
	e.clearReport("bootstrap")
	e.event("bootstrap", name, fmt.Sprintf("%s is the primary (epoch %d, %s)", name, st.Epoch, why),
		map[string]string{"epoch": fmt.Sprint(st.Epoch), "semisync": fmt.Sprint(st.SemiSync)})
	e.converge(ctx, st, obs)
}

// identifyPrimary returns the server most replicas replicate from, or the
// only reachable non-replicating server when nothing replicates.
func identifyPrimary(servers []topology.Server, obs topology.Observation) (string, string) {
	votes := map[string]int{}
	var free []string
	for _, s := range servers {
		p := obs.Probes[s.Name]
		if !p.OK() {
			continue
		}
		if p.Replica == nil {
			free = append(free, s.Name)
			continue
		}
		for _, t := range servers {
			if t.Address == p.Replica.Source() {
				votes[t.Name]++
			}
		}
	}
	best, n, tie := "", 0, false
	for _, s := range servers {
		switch v := votes[s.Name]; {
		case v > n:
			best, n, tie = s.Name, v, false
		case v == n && v > 0:
			tie = true
		}
	}
	switch {
	case tie:
		return "", "replicas follow different sources"
	case best != "":
		if p := obs.Probes[best]; p.OK() && p.Replica != nil {
			return "", best + " is followed by replicas but replicates itself"
		}
		return best, fmt.Sprintf("%d replica(s) follow it", n)
	case len(free) == 1:
		return free[0], "the only server that does not replicate"
	}
	return "", fmt.Sprintf("%d servers do not replicate and none is followed", len(free))
}

func anySemiSyncReplica(obs topology.Observation) bool {
	for _, p := range obs.Probes {
		if p.OK() && p.Replica != nil && p.SemiSyncSlaveEnabled {
			return true
		}
	}
	return false
}

// open makes the identified primary writable (semi-sync settings first).
func (e *Engine) open(ctx context.Context, name string, semiSync bool) error {
	var qs []string
	if semiSync {
		qs = append(qs, "SET GLOBAL rpl_semi_sync_master_wait_point=AFTER_SYNC",
			fmt.Sprintf("SET GLOBAL rpl_semi_sync_master_timeout=%d", e.cfg.SemiSyncTimeout.Milliseconds()),
			"SET GLOBAL rpl_semi_sync_master_enabled=ON")
	}
	qs = append(qs, "SET GLOBAL read_only=OFF")
	defer e.touch()
	return e.act.exec(ctx, name, qs...)
}

// converge re-points replicas of the primary whose heartbeat period is not
// the configured one, so that a hung primary is noticed quickly.
func (e *Engine) converge(ctx context.Context, st State, obs topology.Observation) {
	defer e.touch()
	prim, _ := e.cfg.server(st.Primary)
	for _, name := range e.others(st, st.Primary) {
		p := obs.Probes[name]
		if !p.OK() || p.Replica == nil || p.Replica.Source() != prim.Address {
			continue
		}
		d := p.Replica.HeartbeatPeriod - e.cfg.HeartbeatPeriod
		if d < -time.Millisecond || d > time.Millisecond {
			if err := e.act.pointTo(ctx, name, prim, false, st.SemiSync); err != nil {
				e.event("error", name, "cannot set the replication heartbeat: "+err.Error(), nil)
			} else {
				e.event("replica", name, fmt.Sprintf("replication heartbeat set to %v", e.cfg.HeartbeatPeriod), nil)
			}
		}
	}
}

// watchPrimary runs detection and, when the primary is dead and the
// policy allows, an automatic failover.
func (e *Engine) watchPrimary(ctx context.Context, obs topology.Observation, st State) {
	prim, _ := e.cfg.server(st.Primary)
	others := e.others(st, st.Primary)
	a := e.det.Assess(obs, prim, others)
	e.mu.Lock()
	e.health = a
	e.mu.Unlock()
	switch a.Health {
	case Healthy:
		e.clearReport("primary")
		e.keepPrimaryOpen(ctx, st, obs.Probes[st.Primary])
		e.semiSyncGuard(ctx, st, obs)
	case Suspect:
		e.kickReplicas(others)
		e.recheck(st.Primary, obs.Probes[st.Primary])
		e.report("primary", "suspect", st.Primary, "primary not answering: "+a.Reason)
	case Unreachable:
		e.report("primary", "unreachable", st.Primary, "primary unreachable, no failover: "+a.Reason)
	case Dead:
		e.onDead(ctx, st, a)
	}
}

func (e *Engine) onDead(ctx context.Context, st State, a Assessment) {
	e.report("primary", "dead", st.Primary, "primary is dead: "+a.Reason)
	if !e.cfg.AutoFailover {
		e.report("auto", "failover_off", st.Primary, "automatic failover is off; run `vigil failover --force`")
		return
	}
	if until := e.blockedUntil(st); e.cfg.Clock.Now().Before(until) {
		e.report("blocked", "blocked", st.Primary, fmt.Sprintf(
			"automatic failover blocked until %s (anti-flap after the failover at %s); run `vigil ack` or `vigil failover --force`",
			until.Format(time.RFC3339), st.LastFailover.Format(time.RFC3339)))
		return
	}
	e.mu.Lock()
	wait := e.cfg.Clock.Now().Before(e.nextRetry)
	e.mu.Unlock()
	if wait {
		return
	}
	if _, err := e.failover(ctx, "primary dead: "+a.Reason, "", false); err != nil {
		e.mu.Lock()
		e.nextRetry = e.cfg.Clock.Now().Add(2 * time.Second)
		e.mu.Unlock()
	}
}

func (e *Engine) kickReplicas(names []string) {
	now := e.cfg.Clock.Now()
	e.mu.Lock()
	due := now.Sub(e.lastKick) > 20*time.Millisecond
	if due {
		e.lastKick = now
	}
	e.mu.Unlock()
	if due {
		e.mon.ProbeNow(names...)
	}
}

// semiSyncGuard turns semi-sync on again on a primary that runs without it
// (see unprotect) once a semi-sync replica follows it.
func (e *Engine) semiSyncGuard(ctx context.Context, st State, obs topology.Observation) {
	p := obs.Probes[st.Primary]
	if !st.SemiSync || !p.OK() || p.SemiSyncMasterEnabled || !e.fresh(p) {
		return
	}
	prim, _ := e.cfg.server(st.Primary)
	for _, name := range e.others(st, st.Primary) {
		r := obs.Probes[name]
		if r.OK() && r.SemiSyncSlaveEnabled && r.Replica != nil && r.Replica.Source() == prim.Address && r.Replica.IOConnected() {
			if err := e.open(ctx, st.Primary, true); err != nil {
				e.report("semisync", "error", st.Primary, "cannot turn semi-sync on: "+err.Error())
				return
			}
			e.clearReport("semisync")
			e.event("semisync", st.Primary, name+" follows the primary: semi-sync on again", nil)
			return
		}
	}
}

// recheck probes the primary again RecheckDelay after a failed probe, once
// per failure, so that FailCount failures take milliseconds, not intervals.
func (e *Engine) recheck(name string, p topology.Probe) {
	if p.OK() || p.Failures >= e.cfg.FailCount {
		return
	}
	e.mu.Lock()
	due := e.rechecked != p.At
	e.rechecked = p.At
	e.mu.Unlock()
	if due {
		time.AfterFunc(e.cfg.RecheckDelay, func() { e.mon.ProbeNow(name) })
	}
}

// keepPrimaryOpen re-opens the designated primary when it answers
// read_only=ON without replicating (e.g. restarted before anyone noticed).
func (e *Engine) keepPrimaryOpen(ctx context.Context, st State, p topology.Probe) {
	if !p.OK() || !p.ReadOnly || p.Replica != nil || !e.fresh(p) {
		return
	}
	if err := e.open(ctx, st.Primary, st.SemiSync); err != nil {
		e.report("reopen", "error", st.Primary, "cannot reopen the primary: "+err.Error())
		return
	}
	e.clearReport("reopen")
	e.event("reopen", st.Primary, "primary answered read_only=ON; opened it for writes again", nil)
}

// resume finishes an operation a previous manager process left half done:
// the cluster has no primary, so it fails over (manually: the block does
// not apply), retrying every few seconds.
func (e *Engine) resume(ctx context.Context, st State) {
	e.mu.Lock()
	wait := e.cfg.Clock.Now().Before(e.nextRetry)
	e.mu.Unlock()
	if wait {
		return
	}
	if _, err := e.failover(ctx, "completing interrupted "+st.Op, "", true); err != nil {
		e.mu.Lock()
		e.nextRetry = e.cfg.Clock.Now().Add(2 * time.Second)
		e.mu.Unlock()
	}
}
