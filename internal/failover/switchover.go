package failover

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"vigil/internal/topology"
)

// Switchover hands the primary role to another replica without losing a
// write (`vigil switchover [--to NODE]`): hold writes (epoch with no
// primary), wait until the proxies following the manager took the hold and
// let running statements finish, both within SwitchoverGrace, set
// read_only on the old primary and kill its remaining connections, wait
// until the candidate applied everything, promote it, publish, then make
// the old primary a replica of it. On failure before promotion the old
// primary is reopened.
func (e *Engine) Switchover(ctx context.Context, to string) (topology.OpResult, error) {
	if err := e.acquireOp(ctx); err != nil {
		return topology.OpResult{}, err
	}
	defer e.opMu.Unlock()
	st := e.state()
	from := st.Primary
	res := topology.OpResult{Kind: "switchover", From: from}
	if from == "" {
		return res, errors.New("switchover: the cluster has no primary")
	}
	to, env, err := e.prepareSwitchover(ctx, st, from, to)
	if err != nil {
		return res, fmt.Errorf("switchover: %w", err)
	}
	t0 := time.Now()
	e.setOpStart(t0)
	defer e.setOpStart(time.Time{})
	e.event("switchover_start", from, fmt.Sprintf("switchover %s -> %s started", from, to), nil)
	st.Op, st.OpFrom, st.Primary, st.Epoch = "switchover", from, "", st.Epoch+1
	if err := e.commit(st); err != nil {
		return res, err
	}
	holdAt := time.Now()
	hold, _ := e.pub.Current()
	e.event("hold", from, fmt.Sprintf("epoch %d published with no primary: proxies hold writes", st.Epoch),
		map[string]string{"version": fmt.Sprint(hold.Version)})
	target, err := e.demoteForSwitchover(ctx, from, hold.Version, holdAt.Add(e.cfg.SwitchoverGrace))
	if err == nil {
		err = e.catchUp(ctx, to, target)
	}
	var fork string
	if err == nil {
		fork, err = e.act.detach(ctx, to, st.SemiSync)
	}
	if err != nil {
		return res, e.rollbackSwitchover(ctx, st, from, err)
	}
	// From here the old primary is being re-pointed: no way back. If the
	// new primary cannot be opened, the state keeps the operation and the
	// engine completes it as a failover.
	oldErr := e.repointWithOld(ctx, st, to, from)
	if err := e.act.exec(ctx, to, "SET GLOBAL read_only=OFF"); err != nil {
		e.event("switchover_failed", to, "cannot open the new primary; completing as a failover: "+err.Error(), nil)
		return res, fmt.Errorf("switchover: %w", err)
	}
	st.Primary, st.Epoch, st.Op, st.OpFrom = to, st.Epoch+1, "", ""
	if oldErr != nil {
		st.Detached[from] = fork
	}
	if err := e.commit(st); err != nil {
		return res, err
	}
	res.To, res.Epoch, res.Held = to, st.Epoch, time.Since(t0)
	e.event("promoted", to, fmt.Sprintf("epoch %d: %s is the primary; writes released after %v", st.Epoch, to, res.Held.Round(time.Millisecond)),
		map[string]string{"epoch": fmt.Sprint(st.Epoch), "fork_gtid": fork, "held_ms": fmt.Sprint(res.Held.Milliseconds())})
	res.Took = time.Since(t0)
	e.event("switchover_done", to, fmt.Sprintf("switchover %s -> %s done in %v", from, to, res.Took.Round(time.Millisecond)), nil)
	env["EPOCH"] = fmt.Sprint(st.Epoch)
	e.postHooks(env)
	return res, nil
}

// repointWithOld points the other replicas and the old primary (demoted)
// at the new primary, in parallel; the error is the old primary's.
func (e *Engine) repointWithOld(ctx context.Context, st State, to, from string) error {
	prim, _ := e.cfg.server(to)
	done := make(chan error, 1)
	go func() { done <- e.act.pointTo(ctx, from, prim, true, st.SemiSync) }()
	_ = e.repointAll(ctx, st, to, from)
	if err := <-done; err != nil {
		e.event("error", from, "old primary not yet a replica (will retry as a rejoin): "+err.Error(), nil)
		return err
	}
	e.event("repointed", from, "old primary now replicates from "+to, nil)
	return nil
}

// settleTime is how long a switchover waits after publishing the hold
// epoch when no proxy follows the manager (none can acknowledge it);
// ackedSettle is the wait once every follower acknowledged it, for a
// statement a proxy routed just before to reach the old primary and be
// counted as running.
const (
	settleTime  = 20 * time.Millisecond
	ackedSettle = 3 * time.Millisecond
)

// demoteForSwitchover waits until the proxies took the hold snapshot
// (holdVersion), then for client statements on the old primary to finish,
// both until deadline (the hold plus SwitchoverGrace); then it makes the old
// primary read-only, kills its client connections and returns its final
// GTID position.
func (e *Engine) demoteForSwitchover(ctx context.Context, from string, holdVersion uint64, deadline time.Time) (string, error) {
	e.waitHoldTaken(ctx, holdVersion, deadline)
	for time.Now().Before(deadline) {
		n, err := e.activeStatements(ctx, from)
		if err != nil || n == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := e.act.exec(ctx, from, "SET GLOBAL read_only=ON"); err != nil {
		return "", err
	}
	n, err := e.act.killClients(ctx, from)
	if err != nil {
		return "", err
	}
	pos, err := e.act.gtidCurrent(ctx, from)
	if err != nil {
		return "", err
	}
	e.event("fence", from, fmt.Sprintf("old primary read-only, %d connection(s) killed, final position %s", n, pos), nil)
	return pos, nil
}

// waitHoldTaken waits until every live follower (a proxy long-polling the
// manager) acknowledged holdVersion, or until deadline; followers that did
// not are reported in a hold_unacked event and the switchover goes on. A
// proxy that acknowledged has published the hold, and it reads the snapshot
// for every statement, so only statements it routed before can still reach
// the old primary: those are waited for next. With no followers it waits
// settleTime.
func (e *Engine) waitHoldTaken(ctx context.Context, holdVersion uint64, deadline time.Time) {
	if e.follow.Len() == 0 {
		sleepFor(ctx, min(settleTime, time.Until(deadline)))
		return
	}
	start := time.Now()
	if missing := e.follow.WaitAcked(ctx, holdVersion, time.Until(deadline)); len(missing) > 0 {
		e.event("hold_unacked", "", fmt.Sprintf("%d proxy(ies) did not acknowledge the hold within switchover_grace (%v) (going on; a write they still send to the old primary is refused as read-only: they run it again on the new primary unless the session is pinned there, which then gets the error): %s",
			len(missing), e.cfg.SwitchoverGrace, strings.Join(missing, ", ")),
			map[string]string{"followers": strings.Join(missing, ",")})
		return
	}
	e.event("hold_acked", "", "every proxy following the manager took the hold", map[string]string{
		"followers": fmt.Sprint(e.follow.Len()), "took_ms": fmt.Sprint(time.Since(start).Milliseconds())})
	sleepFor(ctx, min(ackedSettle, time.Until(deadline)))
}

// sleepFor sleeps for d or until ctx ends.
func sleepFor(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
}

func (e *Engine) activeStatements(ctx context.Context, name string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.ActionTimeout)
	defer cancel()
	_, n, err := e.act.clientThreads(ctx, name)
	return n, err
}

// prepareSwitchover chooses the target, runs the pre hooks and lets the
// target catch up before anything is held.
func (e *Engine) prepareSwitchover(ctx context.Context, st State, from, to string) (string, map[string]string, error) {
	names := e.others(st, from)
	states := make([]ReplicaState, 0, len(names))
	for _, n := range names {
		states = append(states, e.act.replicaState(ctx, n))
	}
	choice, err := Choose(states, e.cfg.Candidate, e.cfg.MaxCandidateLag, to)
	if err != nil {
		return "", nil, err
	}
	to = choice.Name
	env := map[string]string{"CLUSTER": e.cfg.Cluster, "COMMAND": "switchover", "OLD_PRIMARY": from, "NEW_PRIMARY": to}
	if err := RunHooks(ctx, e.cfg.PreHooks, env); err != nil {
		return "", nil, err
	}
	return to, env, e.preCatchUp(ctx, from, to)
}

// preCatchUp lets the candidate apply what the primary has now, twice,
// before writes are held, so that the hold only covers the last few
// transactions even when the candidate lags.
func (e *Engine) preCatchUp(ctx context.Context, from, to string) error {
	for range 2 {
		pos, err := e.act.gtidCurrent(ctx, from)
		if err != nil {
			return err
		}
		ok, err := e.act.waitApplied(ctx, to, pos, e.cfg.CatchupTimeout)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%s lags: it did not apply %s within %v", to, pos, e.cfg.CatchupTimeout)
		}
	}
	return nil
}

func (e *Engine) catchUp(ctx context.Context, to, target string) error {
	start := time.Now()
	ok, err := e.act.waitApplied(ctx, to, target, e.cfg.CatchupTimeout)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s did not reach %s within %v", to, target, e.cfg.CatchupTimeout)
	}
	e.event("caught_up", to, "applied everything up to "+target, map[string]string{"took_ms": fmt.Sprint(time.Since(start).Milliseconds())})
	return nil
}

func (e *Engine) rollbackSwitchover(ctx context.Context, st State, from string, cause error) error {
	st.Primary, st.Epoch, st.Op, st.OpFrom = from, st.Epoch+1, "", ""
	reopenErr := e.open(ctx, from, st.SemiSync)
	if err := e.commit(st); err != nil {
		return errors.Join(cause, err)
	}
	msg := fmt.Sprintf("switchover aborted, %s stays primary (epoch %d): %v", from, st.Epoch, cause)
	if reopenErr != nil {
		msg += "; reopening it failed (will retry): " + reopenErr.Error()
	}
	e.event("switchover_failed", from, strings.TrimSpace(msg), nil)
	return fmt.Errorf("switchover: %w", cause)
}
