package failover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	"vigil/internal/topology"
)

// Observer is what the engine needs from the monitor (*topology.Monitor).
type Observer interface {
	Observe() (topology.Observation, <-chan struct{})
	ProbeNow(names ...string)
}

// ErrBusy is returned when another operation is running.
var ErrBusy = errors.New("another failover or switchover is running")

// Engine is the manager's brain: it follows the monitor, keeps the cluster
// model (state persisted in Config.StatePath), publishes snapshots with
// epochs, detects a dead primary, fails over, fences, rejoins, and runs
// operator commands. Run owns the automatic side; Switchover, Failover, Ack,
// Status, Events and Current may be called from any goroutine. At most one
// operation runs at a time (opMu).
type Engine struct {
	cfg     Config
	log     *slog.Logger
	mon     Observer
	act     *actor
	pub     *topology.Publisher
	follow  *topology.Followers // proxies long-polling pub (the API's topology.Handler records them)
	journal *topology.Journal
	det     *Detector

	opMu  sync.Mutex // held by bootstrap, failover, switchover and tending
	pubMu sync.Mutex // serialises publish: reading the state and publishing it is one step

	mu        sync.Mutex // guards the fields below
	st        State
	obs       topology.Observation
	health    Assessment
	reported  map[string]string
	opStart   time.Time
	lastKick  time.Time
	rechecked time.Time // At of the failed primary probe last rechecked
	nextRetry time.Time
	changedAt time.Time // last state change or SQL action that changes roles
	failovers int
}

// New loads the state file and returns an engine; call Run.
func New(cfg Config, mon Observer, log *slog.Logger) (*Engine, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	st, err := LoadState(cfg.StatePath)
	if err != nil {
		return nil, err
	}
	if _, ok := cfg.server(st.Primary); st.Primary != "" && !ok {
		log.Warn("state names a primary that is not configured; identifying the primary again", "primary", st.Primary)
		st.Primary = ""
	}
	e := &Engine{cfg: cfg, log: log, mon: mon, journal: topology.NewJournal(1000),
		det: NewDetector(cfg.FailCount, cfg.Clock), st: st, reported: map[string]string{},
		health: Assessment{Health: "none"}}
	e.act = newActor(&e.cfg)
	e.pub = topology.NewPublisher(&topology.Snapshot{Epoch: st.Epoch, Primary: st.Primary})
	e.follow = topology.NewFollowers()
	if st.Epoch > 0 {
		e.event("restart", st.Primary, fmt.Sprintf("state loaded: epoch %d, primary %q, operation %q", st.Epoch, st.Primary, st.Op), nil)
	}
	return e, nil
}

// Current implements topology.Source.
func (e *Engine) Current() (*topology.Snapshot, <-chan struct{}) { return e.pub.Current() }

// Followers returns the registry of proxies following the engine's
// snapshots; the API's topology handler records their polls in it.
func (e *Engine) Followers() *topology.Followers { return e.follow }

// Events returns the journal's events with Seq > after.
func (e *Engine) Events(after uint64) []topology.Event { return e.journal.Since(after) }

// Run follows the monitor until ctx ends; it returns nil on cancellation.
func (e *Engine) Run(ctx context.Context) error {
	defer e.act.close()
	for {
		obs, changed := e.mon.Observe()
		e.step(ctx, obs)
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		}
	}
}

func (e *Engine) step(ctx context.Context, obs topology.Observation) {
	e.mu.Lock()
	e.obs = obs
	st := e.st.clone()
	e.mu.Unlock()
	if !e.opMu.TryLock() {
		e.publish()
		return
	}
	defer e.opMu.Unlock()
	switch {
	case st.Primary == "" && st.Op != "":
		e.resume(ctx, st)
	case st.Primary == "":
		e.bootstrap(ctx, obs)
	default:
		e.watchPrimary(ctx, obs, st)
	}
	e.tend(ctx, obs)
	e.publish()
}

// state returns a copy of the current state.
func (e *Engine) state() State {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.st.clone()
}

// commit persists st and then publishes it; the state file always holds an
// epoch at least as new as anything published.
func (e *Engine) commit(st State) error {
	if err := SaveState(e.cfg.StatePath, st); err != nil {
		e.event("error", "", "cannot persist state: "+err.Error(), nil)
		return err
	}
	e.mu.Lock()
	e.st = st.clone()
	e.mu.Unlock()
	e.touch()
	e.publish()
	return nil
}

// touch records that roles changed now: probes taken before are stale for
// tending and reopening, so every server is probed again at once.
func (e *Engine) touch() {
	e.mu.Lock()
	e.changedAt = time.Now()
	e.mu.Unlock()
	e.mon.ProbeNow()
}

// fresh reports whether p was taken after the last role change.
func (e *Engine) fresh(p topology.Probe) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return p.At.After(e.changedAt)
}

// event records e in the journal and the log.
func (e *Engine) event(kind, node, msg string, fields map[string]string) topology.Event {
	e.mu.Lock()
	start := e.opStart
	e.mu.Unlock()
	ev := topology.Event{Kind: kind, Node: node, Message: msg, Fields: fields}
	if !start.IsZero() {
		ev.Since = time.Since(start)
	}
	ev = e.journal.Add(ev)
	attrs := []any{"kind", kind}
	if node != "" {
		attrs = append(attrs, "node", node)
	}
	if ev.Since > 0 {
		attrs = append(attrs, "since_start_ms", float64(ev.Since.Microseconds())/1000)
	}
	for _, k := range sortedKeys(fields) {
		attrs = append(attrs, k, fields[k])
	}
	level := slog.LevelInfo
	if kind == "error" || kind == "failover_failed" || kind == "quarantine" {
		level = slog.LevelError
	}
	e.log.Log(context.Background(), level, msg, attrs...)
	return ev
}

// report records a condition event once until the condition changes.
func (e *Engine) report(key, kind, node, msg string) {
	e.mu.Lock()
	same := e.reported[key] == msg
	e.reported[key] = msg
	e.mu.Unlock()
	if !same {
		e.event(kind, node, msg, nil)
	}
}

func (e *Engine) clearReport(key string) {
	e.mu.Lock()
	delete(e.reported, key)
	e.mu.Unlock()
}

func (e *Engine) setOpStart(t time.Time) {
	e.mu.Lock()
	e.opStart = t
	e.mu.Unlock()
}

// acquireOp takes opMu for an operator's command. The routine step holds
// opMu for each probe cycle's work; a command waits for that (until ctx
// ends) instead of failing, but does not queue behind a failover or
// switchover in progress: then it fails with ErrBusy at once.
func (e *Engine) acquireOp(ctx context.Context) error {
	for {
		if e.opMu.TryLock() {
			return nil
		}
		e.mu.Lock()
		running := !e.opStart.IsZero()
		e.mu.Unlock()
		if running {
			return ErrBusy
		}
		t := time.NewTimer(5 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (waited for the manager's routine step until: %v)", ErrBusy, ctx.Err())
		case <-t.C:
		}
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range maps.Keys(m) {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

// publish builds a snapshot from the state and the newest observation and
// publishes it when routing changed. It runs under pubMu, so that a
// routine step publishing while an operation commits cannot publish the
// state it read before the commit after the commit's snapshot.
func (e *Engine) publish() {
	e.pubMu.Lock()
	defer e.pubMu.Unlock()
	e.mu.Lock()
	st, obs := e.st.clone(), e.obs
	e.mu.Unlock()
	cur, _ := e.pub.Current()
	next := e.snapshot(st, obs)
	if cur.Version != 0 && topology.SameRouting(cur, next) {
		return
	}
	next.Version = topology.NextVersion(cur.Version)
	e.pub.Publish(next)
}

func (e *Engine) snapshot(st State, obs topology.Observation) *topology.Snapshot {
	snap := &topology.Snapshot{Epoch: st.Epoch, Primary: st.Primary}
	primaryAddr := ""
	if s, ok := e.cfg.server(st.Primary); ok {
		primaryAddr = s.Address
	}
	for _, s := range e.cfg.Servers {
		p, seen := obs.Probes[s.Name]
		n := topology.NodeFromProbe(s, p, seen)
		_, detached := st.Detached[s.Name]
		_, quarantined := st.Quarantined[s.Name]
		switch {
		case s.Name == st.Primary:
			n.Role, n.Lag = topology.RolePrimary, 0
		case detached || quarantined || n.Role == topology.RolePrimary:
			n.Role = topology.RoleQuarantined
		case n.Role == topology.RoleReplica && primaryAddr != "" && p.Replica.Source() != primaryAddr:
			n.Role = topology.RoleUnknown
		}
		snap.Nodes = append(snap.Nodes, n)
	}
	return snap
}

// others returns the servers that may vouch for or replace the primary:
// every server except the primary, detached and quarantined ones.
func (e *Engine) others(st State, primary string) []string {
	var out []string
	for _, s := range e.cfg.Servers {
		_, d := st.Detached[s.Name]
		_, q := st.Quarantined[s.Name]
		if s.Name != primary && !d && !q {
			out = append(out, s.Name)
		}
	}
	return out
}

// blockedUntil is the end of the anti-flap block (zero: not blocked).
func (e *Engine) blockedUntil(st State) time.Time {
	if st.LastFailover.IsZero() || e.cfg.FailoverBlock <= 0 {
		return time.Time{}
	}
	return st.LastFailover.Add(e.cfg.FailoverBlock)
}

// Ack clears the anti-flap block so that the next automatic failover may run.
func (e *Engine) Ack() {
	e.opMu.Lock()
	defer e.opMu.Unlock()
	e.mu.Lock()
	st := e.st.clone()
	e.mu.Unlock()
	st.LastFailover = time.Time{}
	if err := e.commit(st); err == nil {
		e.clearReport("blocked")
		e.event("ack", "", "anti-flap block acknowledged: automatic failover allowed again", nil)
	}
}
