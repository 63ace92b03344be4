package failover

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"vigil/internal/topology"
)

// Failover replaces the primary now, whatever its health (`vigil failover
// --force`): the anti-flap block does not apply. to, when set, names the
// replica to promote.
func (e *Engine) Failover(ctx context.Context, to string) (topology.OpResult, error) {
	if err := e.acquireOp(ctx); err != nil {
		return topology.OpResult{}, err
	}
	defer e.opMu.Unlock()
	return e.failover(ctx, "forced by operator", to, true)
}

// failover runs the failover sequence; the caller holds opMu. Steps, each an
// event: hold writes (epoch with no primary) -> fence the old primary (in
// the background, best effort) -> stop every replica's IO thread and read
// it -> choose -> wait for the relay log -> promote -> publish -> re-point.
func (e *Engine) failover(ctx context.Context, reason, want string, manual bool) (topology.OpResult, error) {
	st := e.state()
	from := st.Primary
	if from == "" {
		from = st.OpFrom
	}
	t0 := time.Now()
	e.setOpStart(t0)
	defer e.setOpStart(time.Time{})
	res := topology.OpResult{Kind: "failover", From: from}
	e.event("failover_start", from, "failover started: "+reason, map[string]string{"manual": fmt.Sprint(manual)})
	env := map[string]string{"CLUSTER": e.cfg.Cluster, "COMMAND": "failover", "OLD_PRIMARY": from, "REASON": reason}
	if st.Primary != "" {
		if err := RunHooks(ctx, e.cfg.PreHooks, env); err != nil {
			e.event("failover_failed", from, "pre-failover hook failed; failover aborted: "+err.Error(), nil)
			return res, err
		}
		st.Op, st.OpFrom, st.Primary, st.Epoch = "failover", from, "", st.Epoch+1
		if err := e.commit(st); err != nil {
			return res, err
		}
		e.event("hold", from, fmt.Sprintf("epoch %d published with no primary: proxies hold writes", st.Epoch), nil)
	}
	fenced := e.fenceAsync(ctx, from)
	if manual && from != "" {
		e.drainLive(ctx, st, from, fenced)
	}
	to, fork, warn, err := e.replace(ctx, st, from, want)
	res.Warnings = warn
	if err != nil {
		return res, err
	}
	st.Primary, st.Epoch, st.Op, st.OpFrom = to, st.Epoch+1, "", ""
	st.LastFailover = e.cfg.Clock.Now()
	if from != "" {
		st.Detached[from] = fork
	}
	if err := e.commit(st); err != nil {
		return res, err
	}
	res.To, res.Epoch, res.Held = to, st.Epoch, time.Since(t0)
	e.event("promoted", to, fmt.Sprintf("epoch %d: %s is the primary; writes released", st.Epoch, to),
		map[string]string{"epoch": fmt.Sprint(st.Epoch), "fork_gtid": fork})
	if err := waitFence(fenced, e.cfg.ActionTimeout); err != nil {
		e.event("fence", from, "old primary not fenced yet (it will be fenced when it answers): "+oneLine(err), nil)
	}
	res.Took = time.Since(t0)
	e.event("failover_done", to, fmt.Sprintf("failover %s -> %s done in %v", from, to, res.Took.Round(time.Millisecond)),
		map[string]string{"took_ms": fmt.Sprint(res.Took.Milliseconds())})
	e.mu.Lock()
	e.failovers++
	e.mu.Unlock()
	env["NEW_PRIMARY"], env["EPOCH"] = to, fmt.Sprint(st.Epoch)
	e.postHooks(env)
	return res, nil
}

// drainLive serves a forced failover of a primary that still answers: once
// it is fenced, the replicas get up to CatchupTimeout to apply its final
// position (the first one that does ends the wait), so that nothing it
// acknowledged is left behind. The fence result is put back for the caller.
func (e *Engine) drainLive(ctx context.Context, st State, from string, fenced chan error) {
	select {
	case err := <-fenced:
		fenced <- err
		if err != nil {
			return // dead or hung: nothing to drain from
		}
	case <-time.After(e.cfg.ActionTimeout):
		return
	}
	target, err := e.act.gtidCurrent(ctx, from)
	if err != nil {
		return
	}
	names := e.others(st, from)
	done := make(chan bool, len(names))
	for _, n := range names {
		go func() {
			ok, _ := e.act.waitApplied(ctx, n, target, e.cfg.CatchupTimeout)
			done <- ok
		}()
	}
	for range names {
		if <-done {
			e.event("drained", from, "old primary fenced; a replica applied its final position "+target, nil)
			return
		}
	}
}

// replace chooses, catches up, detaches and opens the new primary, with
// the other replicas re-pointed at it first. It returns the new primary
// and its fork position.
func (e *Engine) replace(ctx context.Context, st State, from, want string) (string, string, []string, error) {
	choice, states, err := e.chooseFrozen(ctx, st, from, want)
	if err != nil {
		e.event("failover_failed", from, "no candidate: "+err.Error()+"; writes stay held, retrying", nil)
		return "", "", nil, err
	}
	semi := st.SemiSync && reachableExcept(states, choice.Name) > 0
	if st.SemiSync && !semi {
		e.event("warning", choice.Name, "no other replica is reachable: promoting without semi-sync (writes are not copied anywhere until a replica returns)", nil)
	}
	to, fork, warn, err := e.promoteFirst(ctx, semi, choice, states)
	if err == nil {
		if n := e.repointAll(ctx, st, to, from); n == 0 && semi {
			e.unprotect(ctx, to)
		}
		err = e.act.exec(ctx, to, "SET GLOBAL read_only=OFF")
	}
	if err != nil {
		e.event("failover_failed", from, "promotion failed: "+err.Error()+"; writes stay held, retrying", nil)
		return "", "", warn, err
	}
	return to, fork, warn, nil
}

func (e *Engine) postHooks(env map[string]string) {
	if len(e.cfg.PostHooks) == 0 {
		return
	}
	go func() {
		if err := RunHooks(context.Background(), e.cfg.PostHooks, env); err != nil {
			e.event("error", "", "post hook failed: "+err.Error(), nil)
		}
	}()
}

// fenceAsync fences the old primary in the background; the channel
// receives the result.
func (e *Engine) fenceAsync(ctx context.Context, name string) chan error {
	ch := make(chan error, 1)
	if name == "" {
		ch <- nil
		return ch
	}
	go func() {
		start := time.Now()
		err := e.act.fence(ctx, name)
		if err == nil {
			e.event("fence", name, "old primary fenced: read_only=ON, client connections killed",
				map[string]string{"took_ms": fmt.Sprint(time.Since(start).Milliseconds())})
		}
		ch <- err
	}()
	return ch
}

// oneLine joins a multi-line (errors.Join) error into one line.
func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }

func waitFence(ch <-chan error, d time.Duration) error {
	select {
	case err := <-ch:
		return err
	case <-time.After(d):
		return errors.New("timed out")
	}
}

// chooseFrozen stops the IO thread of every candidate (so that nothing more
// arrives from the old primary should it wake), reads them afresh and
// chooses.
func (e *Engine) chooseFrozen(ctx context.Context, st State, from, want string) (Choice, map[string]ReplicaState, error) {
	names := e.others(st, from)
	states := make([]ReplicaState, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = e.act.execT(ctx, n, e.act.stopTimeout(), "STOP SLAVE IO_THREAD")
			states[i] = e.act.replicaState(ctx, n)
		}()
	}
	wg.Wait()
	byName := map[string]ReplicaState{}
	for _, s := range states {
		byName[s.Name] = s
	}
	choice, err := Choose(states, e.cfg.Candidate, e.cfg.MaxCandidateLag, want)
	if err == nil {
		e.event("candidate", choice.Name, fmt.Sprintf("chose %s (ranked %s)", choice.Name, strings.Join(choice.Ranked, ",")),
			map[string]string{"received": byName[choice.Name].Received.String(), "excluded": describe(choice.Excluded)})
	}
	return choice, byName, err
}

// promoteFirst waits for the best candidate's relay log and detaches it
// (still read-only), falling back to the next ranked candidate if that
// fails. It returns the new primary and its fork position.
func (e *Engine) promoteFirst(ctx context.Context, semiSync bool, ch Choice, states map[string]ReplicaState) (string, string, []string, error) {
	order := []string{ch.Name}
	for _, n := range ch.Ranked {
		if n != ch.Name {
			order = append(order, n)
		}
	}
	var warns []string
	var errs []error
	for _, name := range order {
		recv := states[name].Received.String()
		start := time.Now()
		ok, err := e.act.waitApplied(ctx, name, recv, e.cfg.CatchupTimeout)
		switch {
		case err != nil:
			errs = append(errs, err)
			continue
		case !ok:
			w := fmt.Sprintf("%s did not apply its relay log up to %s within %v; promoting anyway", name, recv, e.cfg.CatchupTimeout)
			warns = append(warns, w)
			e.event("warning", name, w, nil)
		default:
			e.event("caught_up", name, "relay log applied up to "+recv,
				map[string]string{"took_ms": fmt.Sprint(time.Since(start).Milliseconds())})
		}
		pstart := time.Now()
		fork, err := e.act.detach(ctx, name, semiSync)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		msg := "replication stopped and reset"
		if semiSync {
			msg += "; semi-sync primary side on"
		}
		e.event("detached", name, msg, map[string]string{"took_ms": fmt.Sprint(time.Since(pstart).Milliseconds())})
		return name, fork, warns, nil
	}
	return "", "", warns, errors.Join(errs...)
}

func reachableExcept(states map[string]ReplicaState, name string) int {
	n := 0
	for _, s := range states {
		if s.Name != name && s.Err == "" {
			n++
		}
	}
	return n
}

// unprotect turns semi-sync off on a primary no replica follows, so that
// its writes do not wait for an acknowledgement that cannot come. The
// guard in watchPrimary turns it on again once a replica follows.
func (e *Engine) unprotect(ctx context.Context, name string) {
	if err := e.act.exec(ctx, name, "SET GLOBAL rpl_semi_sync_master_enabled=OFF"); err != nil {
		e.event("error", name, "cannot turn semi-sync off on a primary without replicas: "+err.Error(), nil)
		return
	}
	e.event("warning", name, "no replica follows the new primary: semi-sync off until one does", nil)
}

// repointAll points every other replica at the new primary, in parallel,
// and returns how many now follow it.
func (e *Engine) repointAll(ctx context.Context, st State, to, from string) int {
	prim, _ := e.cfg.server(to)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for _, n := range e.others(st, to) {
		if n == from {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			if err := e.act.pointTo(ctx, n, prim, false, st.SemiSync); err != nil {
				e.event("error", n, "cannot re-point replica (will retry): "+err.Error(), nil)
				return
			}
			e.event("repointed", n, "now replicates from "+to, map[string]string{"took_ms": fmt.Sprint(time.Since(start).Milliseconds())})
			mu.Lock()
			ok++
			mu.Unlock()
		}()
	}
	wg.Wait()
	e.touch()
	return ok
}
