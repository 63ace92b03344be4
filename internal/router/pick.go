package router

import (
	"sync"
	"sync/atomic"
	"time"

	"vigil/internal/topology"
)

// balancer spreads reads over replicas: it counts outstanding statements
// per replica and caches each snapshot's parsed replica list. Safe for
// concurrent use.
type balancer struct {
	mu     sync.Mutex
	counts map[string]*atomic.Int64
	// applied holds, per replica, the highest position a causal wait
	// confirmed: topology snapshots are not republished for GTID changes
	// alone, so this keeps other sessions from waiting for it again.
	applied map[string]Position
	// failedWait holds, per replica, when a causal wait on it last timed out.
	failedWait map[string]time.Time
	cache      atomic.Pointer[snapCache]
	rr         atomic.Uint64
}

// snapCache is one snapshot's replicas, with GTID positions parsed once.
type snapCache struct {
	snap   *topology.Snapshot
	flavor string
	cands  []candidate
}

type candidate struct {
	name    string
	primary bool
	usable  bool // Up, role replica
	lag     time.Duration
	weight  int64
	pos     Position
	count   *atomic.Int64
}

func newBalancer() *balancer {
	return &balancer{counts: map[string]*atomic.Int64{}, applied: map[string]Position{}, failedWait: map[string]time.Time{}}
}

func (b *balancer) counter(name string) *atomic.Int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	c, ok := b.counts[name]
	if !ok {
		c = new(atomic.Int64)
		b.counts[name] = c
	}
	return c
}

// Outstanding returns the number of statements in flight on a replica.
func (r *Router) Outstanding(name string) int64 { return r.bal.counter(name).Load() }

// candidates returns the parsed replica list of snap.
func (b *balancer) candidates(snap *topology.Snapshot, flavor string) []candidate {
	if c := b.cache.Load(); c != nil && c.snap == snap && c.flavor == flavor {
		return c.cands
	}
	c := &snapCache{snap: snap, flavor: flavor}
	for _, n := range snap.Nodes {
		pos, _ := ParsePosition(flavor, n.GTIDCurrent) // unparsable: covers nothing
		w := int64(n.Weight)
		if w <= 0 {
			w = 1
		}
		c.cands = append(c.cands, candidate{
			name:    n.Name,
			primary: n.Name == snap.Primary,
			usable:  n.Up && n.Role == topology.RoleReplica,
			lag:     n.Lag,
			weight:  w,
			pos:     pos,
			count:   b.counter(n.Name),
		})
	}
	b.cache.Store(c)
	return c.cands
}

// pick chooses a replica for a read. prefer (the session's current
// replica) is kept while it fits. With a non-empty need, replicas whose
// position covers it come first; covered says whether the chosen one does.
// ok is false when no replica fits at all. A new choice takes the fitting
// replica with the fewest outstanding statements per weight; ties rotate
// (the rotation advances only on new choices, so sessions alternate).
func (b *balancer) pick(snap *topology.Snapshot, cfg *Config, prefer string, need Position) (name string, covered, ok bool) {
	if snap == nil {
		return "", false, false
	}
	cands := b.candidates(snap, flavorOf(cfg))
	fits := func(c *candidate) bool {
		return c.usable && !c.primary && c.lag >= 0 && c.lag <= cfg.MaxReplicaLag
	}
	covers := func(c *candidate) bool {
		return need.IsZero() || c.pos.Covers(need) || b.confirmed(c.name, need)
	}
	preferFits := false
	for k := range cands {
		if c := &cands[k]; c.name == prefer && fits(c) {
			if covers(c) {
				return c.name, true, true
			}
			preferFits = true
		}
	}
	n := 0
	for k := range cands {
		if fits(&cands[k]) {
			n++
		}
	}
	if n == 0 {
		return "", false, false
	}
	// Visit the n fitting replicas starting at a rotating offset, so that
	// ties go to each in turn.
	off := int(b.rr.Add(1) % uint64(n))
	var best, bestCovered *candidate
	for pass := 0; pass < 2; pass++ {
		fi := 0
		for k := range cands {
			c := &cands[k]
			if !fits(c) {
				continue
			}
			visit := (pass == 0) == (fi >= off)
			fi++
			if !visit {
				continue
			}
			if best == nil || less(c, best) {
				best = c
			}
			if (bestCovered == nil || less(c, bestCovered)) && covers(c) {
				bestCovered = c
			}
		}
	}
	switch {
	case bestCovered != nil:
		return bestCovered.name, true, true
	case preferFits:
		return prefer, false, true // wait on the session's own replica
	case best != nil:
		return best.name, false, true
	}
	return "", false, false
}

// less orders replicas by outstanding statements per weight.
func less(a, b *candidate) bool {
	return (a.count.Load()+1)*b.weight < (b.count.Load()+1)*a.weight
}

// confirm records that a causal wait proved replica name has applied gtid.
func (b *balancer) confirm(name, flavor, gtid string) {
	p, err := ParsePosition(flavor, gtid)
	if err != nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.applied[name] = b.applied[name].Merge(p)
	delete(b.failedWait, name)
}

// confirmed reports whether a causal wait already proved that replica name
// has applied need.
func (b *balancer) confirmed(name string, need Position) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.applied[name].Covers(need)
}

// behindFor is how long after a timed-out causal wait on a replica the
// reads that would need another wait on it go to the primary instead.
const behindFor = time.Second

// markBehind records that a causal wait on replica name timed out.
func (b *balancer) markBehind(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failedWait[name] = time.Now()
}

// behind reports whether a causal wait on replica name timed out within
// behindFor (and none succeeded since).
func (b *balancer) behind(name string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.failedWait[name]
	return ok && time.Since(t) < behindFor
}
