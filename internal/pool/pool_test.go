package pool

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"vigil/internal/mysqlwire"
)

// fakeDialer returns connections to an in-memory server that answers every
// command (COM_CHANGE_USER included) with OK.
type fakeDialer struct{ dials atomic.Int32 }

func (f *fakeDialer) dial(_ context.Context, cfg mysqlwire.DialConfig) (*mysqlwire.ClientConn, error) {
	f.dials.Add(1)
	a, b := net.Pipe()
	go func() {
		srv := mysqlwire.NewClientConn(b)
		for {
			srv.ResetSeq()
			if _, err := srv.ReadPacket(); err != nil {
				b.Close()
				return
			}
			if err := srv.WriteOK(mysqlwire.ClientCaps, mysqlwire.OK{}); err != nil {
				return
			}
		}
	}()
	caps := cfg.Caps
	if caps == 0 {
		caps = mysqlwire.ClientCaps
	}
	g := &mysqlwire.Greeting{Salt: make([]byte, 20), Caps: 0xffffffff}
	caps |= mysqlwire.CapProtocol41 | mysqlwire.CapSecureConnection | mysqlwire.CapPluginAuth
	return &mysqlwire.ClientConn{Conn: mysqlwire.NewClientConn(a), Greeting: g, Caps: caps &^ mysqlwire.CapConnectAttrs}, nil
}

func newTestPool(t *testing.T, cfg Config) (*Pool, *fakeDialer) {
	t.Helper()
	f := &fakeDialer{}
	p, err := New(cfg, f.dial)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p, f
}

var dc = mysqlwire.DialConfig{Addr: "db1:3306", User: "u", Password: "p"}

func TestReuseAfterPut(t *testing.T) {
	p, f := newTestPool(t, Config{})
	c1, err := p.Get(context.Background(), dc)
	if err != nil {
		t.Fatal(err)
	}
	p.Put(c1)
	c2, err := p.Get(context.Background(), dc)
	if err != nil {
		t.Fatal(err)
	}
	if c2 != c1 || f.dials.Load() != 1 {
		t.Errorf("second Get dialled again (dials=%d), want the idle connection reused", f.dials.Load())
	}
	other := dc
	other.Caps = mysqlwire.ClientCaps &^ mysqlwire.CapDeprecateEOF
	p.Put(c2)
	c3, err := p.Get(context.Background(), other)
	if err != nil {
		t.Fatal(err)
	}
	if c3 == c1 {
		t.Error("a connection with other capabilities was reused")
	}
	if st := p.Stats()["db1:3306"]; st.Open != 2 || st.Idle != 1 || st.Reuses != 1 || st.Dials != 2 {
		t.Errorf("stats = %+v, want 2 open, 1 idle, 1 reuse, 2 dials", st)
	}
}

func TestMaxPerServerWaitsForASlot(t *testing.T) {
	p, _ := newTestPool(t, Config{MaxPerServer: 1, MaxIdle: 1})
	c1, err := p.Get(context.Background(), dc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := p.Get(ctx, dc); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get beyond the limit: got %v, want a deadline error", err)
	}
	got := make(chan *Conn, 1)
	go func() {
		c, err := p.Get(context.Background(), dc)
		if err != nil {
			t.Error(err)
		}
		got <- c
	}()
	time.Sleep(20 * time.Millisecond)
	p.Discard(c1)
	select {
	case c := <-got:
		if c == nil || c == c1 {
			t.Error("waiter got no fresh connection")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("waiter not woken when a slot was freed")
	}
}

func TestIdleLimitAndReap(t *testing.T) {
	p, _ := newTestPool(t, Config{MaxIdle: 1, IdleTimeout: time.Minute})
	now := time.Now()
	p.now = func() time.Time { return now }
	a, _ := p.Get(context.Background(), dc)
	b, _ := p.Get(context.Background(), dc)
	p.Put(a)
	p.Put(b) // over MaxIdle: closed
	if st := p.Stats()["db1:3306"]; st.Open != 1 || st.Idle != 1 {
		t.Fatalf("after two Puts with MaxIdle 1: %+v, want 1 open and idle", st)
	}
	now = now.Add(2 * time.Minute)
	p.reap()
	if st := p.Stats()["db1:3306"]; st.Open != 0 || st.Idle != 0 {
		t.Errorf("after the idle timeout: %+v, want nothing open", st)
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []Config{{MaxPerServer: -1}, {MaxPerServer: 2, MaxIdle: 3}, {IdleTimeout: -time.Second}} {
		c.setDefaults()
		if err := c.Validate(); err == nil {
			t.Errorf("Validate(%+v) accepted a bad config", c)
		}
	}
}
