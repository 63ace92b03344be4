package pool

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"vigil/internal/mysqlwire"
)

// profiles are the capability profiles Get served, each with the time it
// was last asked for. Guarded by Pool.mu.
type profiles map[profile]time.Time

// profile is a set of requested capabilities and MariaDB extended
// capabilities.
type profile struct{ caps, ext uint32 }

// profileOf is the profile of a request: the bits that the login derives
// from the schema and the connect attributes given do not matter for reuse
// (wantCaps takes them from the connection).
func profileOf(dc mysqlwire.DialConfig) profile {
	caps := dc.Caps
	if caps == 0 {
		caps = mysqlwire.ClientCaps
	}
	return profile{caps &^ (mysqlwire.CapConnectWithDB | mysqlwire.CapConnectAttrs), dc.ExtCaps}
}

// learn notes that dc's profile was asked for at now and reports whether
// that profile is new.
func (ps profiles) learn(dc mysqlwire.DialConfig, now time.Time) bool {
	prof := profileOf(dc)
	_, known := ps[prof]
	ps[prof] = now
	return !known
}

// expire forgets the profiles not asked for within ttl before now.
func (ps profiles) expire(now time.Time, ttl time.Duration) {
	for prof, at := range ps {
		if now.Sub(at) > ttl {
			delete(ps, prof)
		}
	}
}

// list returns the profiles in a stable order.
func (ps profiles) list() []profile {
	out := make([]profile, 0, len(ps))
	for prof := range ps {
		out = append(out, prof)
	}
	slices.SortFunc(out, func(a, b profile) int {
		return cmp.Or(cmp.Compare(a.caps, b.caps), cmp.Compare(a.ext, b.ext))
	})
	return out
}

// warmState is one server's warm-up bookkeeping. Guarded by Pool.mu.
type warmState struct {
	pending map[profile]int // warm dials in flight, by profile
	fails   int             // consecutive failed warm dials
	retryAt time.Time       // no warm dial before (after failures)
	warmed  uint64
	// failures counts failed warm dials.
	failures uint64
}

func (w *warmState) inFlight() int {
	n := 0
	for _, k := range w.pending {
		n += k
	}
	return n
}

// warmBackoff is the wait after the n-th consecutive failure: 500ms,
// doubling, at most 30s.
func warmBackoff(n int) time.Duration {
	d := 500 * time.Millisecond
	for i := 1; i < n && d < 30*time.Second; i++ {
		d *= 2
	}
	return min(d, 30*time.Second)
}

// warming reports whether warm-up is configured.
func (p *Pool) warming() bool { return p.cfg.MinIdle > 0 && p.cfg.WarmUser != "" }

// wakeRun asks Run to plan warm-up now. Never blocks.
func (p *Pool) wakeRun() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// SetWarm names the servers (addresses) Run keeps warm: the proxy calls it
// with the servers it routes to whenever the topology changes. A server
// that joins the set is warmed at once, even if warming it failed before.
// Idle connections to servers that leave the set stay until IdleTimeout.
func (p *Pool) SetWarm(addrs []string) {
	addrs = slices.Clone(addrs)
	slices.Sort(addrs)
	addrs = slices.Compact(addrs)
	p.mu.Lock()
	defer p.mu.Unlock()
	if slices.Equal(addrs, p.targets) {
		return
	}
	for _, a := range addrs {
		if !slices.Contains(p.targets, a) {
			w := &p.server(a).warm
			w.fails, w.retryAt = 0, time.Time{}
		}
	}
	p.targets = addrs
	p.wakeRun()
}

// warmJob is one warm connection to open.
type warmJob struct {
	addr string
	prof profile
}

// warm starts the warm dials that are missing (on goroutines counted in
// wg) and returns when it should be called again for a server that is
// backing off (zero: no such server).
func (p *Pool) warm(ctx context.Context, wg *sync.WaitGroup) time.Time {
	jobs, retry := p.planWarm()
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.warmOne(ctx, j)
		}()
	}
	return retry
}

// planWarm reserves a slot for every missing warm connection: per warm
// server and learned profile, MinIdle minus the matching idle connections
// and the dials in flight, within MaxPerServer and MaxIdle. A server that
// failed gets one probing dial at a time, after its backoff.
func (p *Pool) planWarm() (jobs []warmJob, retry time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.warming() || p.closed {
		return nil, time.Time{}
	}
	now := p.now()
	p.profiles.expire(now, p.cfg.IdleTimeout)
	profs := p.profiles.list()
	for _, addr := range p.targets {
		s := p.server(addr)
		w := &s.warm
		if now.Before(w.retryAt) {
			if retry.IsZero() || w.retryAt.Before(retry) {
				retry = w.retryAt
			}
			continue
		}
		if w.fails > 0 && w.inFlight() > 0 {
			continue
		}
		for _, prof := range profs {
			need := p.cfg.MinIdle - s.countIdle(prof) - w.pending[prof]
			for ; need > 0 && s.open < p.cfg.MaxPerServer && len(s.idle)+w.inFlight() < p.cfg.MaxIdle; need-- {
				if w.fails > 0 && w.inFlight() > 0 {
					break
				}
				if w.pending == nil {
					w.pending = map[profile]int{}
				}
				s.open++
				w.pending[prof]++
				jobs = append(jobs, warmJob{addr: addr, prof: prof})
			}
		}
	}
	return jobs, retry
}

// countIdle counts the idle connections usable for profile prof.
func (s *server) countIdle(prof profile) int {
	n := 0
	dc := mysqlwire.DialConfig{Caps: prof.caps, ExtCaps: prof.ext}
	for _, c := range s.idle {
		if matches(dc, c) {
			n++
		}
	}
	return n
}

// warmOne opens the connection planned by j (whose slot planWarm reserved)
// and adds it to the idle ones.
func (p *Pool) warmOne(ctx context.Context, j warmJob) {
	cc, err := p.dial(ctx, mysqlwire.DialConfig{
		Addr: j.addr, User: p.cfg.WarmUser, Password: p.cfg.WarmPassword,
		Caps: j.prof.caps, ExtCaps: j.prof.ext, Timeout: p.cfg.ConnectTimeout, TLS: p.cfg.TLS,
	})
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.server(j.addr)
	w := &s.warm
	if w.pending[j.prof]--; w.pending[j.prof] <= 0 {
		delete(w.pending, j.prof)
	}
	if err != nil {
		s.open--
		p.signal(s)
		if ctx.Err() == nil && !errors.Is(err, context.Canceled) {
			p.warmFailed(j.addr, w, err)
		}
		return
	}
	if w.fails > 0 {
		p.cfg.Logger.Info("backend warm-up works again", "addr", j.addr, "failed_attempts", w.fails)
		w.fails, w.retryAt = 0, time.Time{}
		p.wakeRun() // plan the rest, held back while probing
	}
	w.warmed++
	now := p.now()
	c := &Conn{ClientConn: cc, Addr: j.addr, created: now, idleAt: now, checkedAt: now}
	if p.closed || len(s.idle) >= p.cfg.MaxIdle {
		s.open--
		go c.Close()
		p.signal(s)
		return
	}
	s.idle = append(s.idle, c)
	p.signal(s)
}

// warmFailed records a failed warm dial and logs the first of a streak as
// a warning, the others at debug level. Called under p.mu.
func (p *Pool) warmFailed(addr string, w *warmState, err error) {
	w.fails++
	w.failures++
	wait := warmBackoff(w.fails)
	w.retryAt = p.now().Add(wait)
	p.wakeRun() // so that Run arms its retry timer
	level := p.cfg.Logger.Debug
	if w.fails == 1 {
		level = p.cfg.Logger.Warn
	}
	level("backend warm-up failed; sessions still connect on demand, retrying with backoff (check that the warm-up account can log in)",
		"addr", addr, "user", p.cfg.WarmUser, "retry_in", wait, "err", err)
}
