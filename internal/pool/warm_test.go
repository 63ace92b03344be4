package pool

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"vigil/internal/mysqlwire"
)

func TestProfilesLearnAndExpire(t *testing.T) {
	ps := profiles{}
	t0 := time.Unix(1000, 0)
	noEOF := mysqlwire.ClientCaps &^ mysqlwire.CapDeprecateEOF
	if !ps.learn(mysqlwire.DialConfig{}, t0) {
		t.Error("first profile not reported new")
	}
	if ps.learn(mysqlwire.DialConfig{Caps: mysqlwire.ClientCaps | mysqlwire.CapConnectWithDB | mysqlwire.CapConnectAttrs}, t0.Add(time.Minute)) {
		t.Error("ClientCaps with a schema and attributes counted as a new profile; want the same as caps 0")
	}
	if !ps.learn(mysqlwire.DialConfig{Caps: noEOF}, t0) {
		t.Error("a profile without DEPRECATE_EOF not reported new")
	}
	ps.expire(t0.Add(90*time.Second), time.Minute)
	if got := ps.list(); len(got) != 1 || got[0] != profileOf(mysqlwire.DialConfig{}) {
		t.Errorf("after 90s with a 1m ttl: profiles %x, want only the one used at 1m", got)
	}
	ps.expire(t0.Add(3*time.Minute), time.Minute)
	if len(ps) != 0 {
		t.Errorf("after 3m: %d profiles left, want none", len(ps))
	}
}

func TestWarmBackoff(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want time.Duration
	}{{1, 500 * time.Millisecond}, {2, time.Second}, {4, 4 * time.Second}, {7, 30 * time.Second}, {50, 30 * time.Second}} {
		if got := warmBackoff(tc.n); got != tc.want {
			t.Errorf("warmBackoff(%d) = %v, want %v", tc.n, got, tc.want)
		}
	}
}

// warmPool is a pool with warm-up on, a settable clock and a dialer that
// records the users it logged in as and fails while fail is set.
type warmPool struct {
	*Pool
	mu    sync.Mutex
	users []string
	fail  bool
	now   time.Time
}

func newWarmPool(t *testing.T, cfg Config) *warmPool {
	t.Helper()
	f := &fakeDialer{}
	w := &warmPool{now: time.Unix(1000, 0)}
	cfg.WarmUser, cfg.WarmPassword = "warm", "pw"
	p, err := New(cfg, func(ctx context.Context, dc mysqlwire.DialConfig) (*mysqlwire.ClientConn, error) {
		w.mu.Lock()
		fail := w.fail
		w.users = append(w.users, dc.User)
		w.mu.Unlock()
		if fail {
			return nil, errors.New("connection refused")
		}
		return f.dial(ctx, dc)
	})
	if err != nil {
		t.Fatal(err)
	}
	p.now = func() time.Time { w.mu.Lock(); defer w.mu.Unlock(); return w.now }
	w.Pool = p
	t.Cleanup(p.Close)
	return w
}

// warmNow runs one warm-up round to completion.
func (w *warmPool) warmNow() time.Time {
	var wg sync.WaitGroup
	retry := w.warm(context.Background(), &wg)
	wg.Wait()
	return retry
}

func (w *warmPool) advance(d time.Duration) {
	w.mu.Lock()
	w.now = w.now.Add(d)
	w.mu.Unlock()
}

func TestWarmUpPerServerAndProfile(t *testing.T) {
	w := newWarmPool(t, Config{MinIdle: 2, MaxIdle: 5, IdleTimeout: time.Minute})
	w.SetWarm([]string{"db1:3306", "db2:3306"})
	if w.warmNow(); len(w.users) != 0 {
		t.Fatalf("warmed %d connections before any profile was learned, want none", len(w.users))
	}
	c, err := w.Get(context.Background(), dc) // learns the default profile
	if err != nil {
		t.Fatal(err)
	}
	w.Put(c)
	w.warmNow()
	st := w.Stats()
	if st["db1:3306"].Idle != 2 || st["db1:3306"].Warmed != 1 || st["db2:3306"].Idle != 2 || st["db2:3306"].Warmed != 2 {
		t.Fatalf("after warm-up: %+v, want 2 idle on each server (db1: 1 put back + 1 warmed)", st)
	}
	for _, u := range w.users[1:] {
		if u != "warm" {
			t.Errorf("warm connection logged in as %q, want the warm-up account", u)
		}
	}

	// A session on db2 gets a warm connection, and Run refills.
	d2 := dc
	d2.Addr = "db2:3306"
	if _, err := w.Get(context.Background(), d2); err != nil {
		t.Fatal(err)
	}
	if st := w.Stats()["db2:3306"]; st.Dials != 0 || st.Reuses != 1 {
		t.Errorf("Get on a warm server: %+v, want a reuse and no dial", st)
	}
	select {
	case <-w.kick:
	default:
		t.Error("taking a warm connection did not wake Run to refill")
	}
	w.warmNow()
	if st := w.Stats()["db2:3306"]; st.Idle != 2 || st.Open != 3 || st.Warmed != 3 {
		t.Errorf("after refill: %+v, want 2 idle, 3 open, 3 warmed", st)
	}

	// A second profile is warmed too, within MaxIdle (5).
	other := dc
	other.Caps = mysqlwire.ClientCaps &^ mysqlwire.CapDeprecateEOF
	c, err = w.Get(context.Background(), other)
	if err != nil {
		t.Fatal(err)
	}
	w.Discard(c)
	w.warmNow()
	st = w.Stats()
	if st["db1:3306"].Idle != 4 || st["db2:3306"].Idle != 4 {
		t.Errorf("with two profiles: %+v, want 4 idle per server", st)
	}

	// Profiles unused for IdleTimeout are forgotten: nothing more is warmed.
	w.advance(2 * time.Minute)
	w.reap()
	n := len(w.users)
	w.warmNow()
	if len(w.users) != n {
		t.Errorf("warmed %d connections for expired profiles, want none", len(w.users)-n)
	}
}

func TestWarmUpLimits(t *testing.T) {
	w := newWarmPool(t, Config{MinIdle: 4, MaxPerServer: 3, MaxIdle: 3})
	w.SetWarm([]string{"db1:3306"})
	c, _ := w.Get(context.Background(), dc)
	w.warmNow()
	if st := w.Stats()["db1:3306"]; st.Open != 3 || st.Idle != 2 {
		t.Errorf("with MaxPerServer 3 and one busy: %+v, want 3 open, 2 idle", st)
	}
	w.Put(c)
	w.warmNow()
	if st := w.Stats()["db1:3306"]; st.Open != 3 || st.Idle != 3 {
		t.Errorf("with MaxIdle 3: %+v, want 3 open and idle", st)
	}
}

func TestWarmUpBacksOffAfterFailures(t *testing.T) {
	w := newWarmPool(t, Config{MinIdle: 3})
	c, _ := w.Get(context.Background(), dc)
	w.Put(c)
	w.fail = true
	w.SetWarm([]string{"db2:3306"})
	w.warmNow()
	st := w.Stats()["db2:3306"]
	if st.WarmFailures != 3 || st.Open != 0 {
		t.Fatalf("first round against a dead server: %+v, want 3 failures and nothing open", st)
	}
	n := len(w.users)
	if retry, want := w.warmNow(), w.now.Add(warmBackoff(3)); !retry.Equal(want) {
		t.Errorf("retry at %v, want %v", retry, want)
	}
	if len(w.users) != n {
		t.Error("dialled again during the backoff")
	}
	w.advance(warmBackoff(3))
	w.warmNow()
	if got := len(w.users) - n; got != 1 {
		t.Errorf("after the backoff: %d dials, want one probe", got)
	}
	w.fail = false
	w.advance(time.Minute)
	w.warmNow() // the probe succeeds
	w.warmNow() // then the rest
	if st := w.Stats()["db2:3306"]; st.Idle != 3 {
		t.Errorf("after recovery: %+v, want 3 idle", st)
	}

	// A server that leaves and rejoins the warm set is retried at once.
	w.fail = true
	w.SetWarm([]string{"db3:3306"})
	w.warmNow()
	w.fail = false
	w.SetWarm(nil)
	w.SetWarm([]string{"db3:3306"})
	w.warmNow()
	w.warmNow()
	if st := w.Stats()["db3:3306"]; st.Idle != 3 {
		t.Errorf("rejoined server: %+v, want 3 idle without waiting for the backoff", st)
	}
}

func TestHealthCheckClosesDeadIdleConnections(t *testing.T) {
	var mu sync.Mutex
	var ends []net.Conn
	f := &fakeDialer{}
	p, err := New(Config{HealthInterval: time.Second}, func(ctx context.Context, cfg mysqlwire.DialConfig) (*mysqlwire.ClientConn, error) {
		cc, err := f.dial(ctx, cfg)
		mu.Lock()
		ends = append(ends, cc.NetConn())
		mu.Unlock()
		return cc, err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	now := time.Unix(1000, 0)
	p.now = func() time.Time { return now }
	a, _ := p.Get(context.Background(), dc)
	b, _ := p.Get(context.Background(), dc)
	p.Put(a)
	p.Put(b)
	// Break a's transport under the pool.
	mu.Lock()
	_ = ends[0].Close()
	mu.Unlock()
	var wg sync.WaitGroup
	p.check(&wg) // not due yet
	wg.Wait()
	if st := p.Stats()["db1:3306"]; st.Idle != 2 || st.Broken != 0 {
		t.Fatalf("before HealthInterval: %+v, want both idle", st)
	}
	now = now.Add(2 * time.Second)
	p.check(&wg)
	wg.Wait()
	if st := p.Stats()["db1:3306"]; st.Idle != 1 || st.Open != 1 || st.Broken != 1 {
		t.Errorf("after the ping: %+v, want the dead one closed (1 open, 1 idle, 1 broken)", st)
	}
	c, err := p.Get(context.Background(), dc)
	if err != nil || c != b {
		t.Errorf("Get after the check: %v, %v; want the live connection", c, err)
	}
}
