// Package pool keeps warm backend connections for the proxy, per server.
//
// A connection is handed to another client session only after its state
// has been reset exactly: Get reuses an idle connection by logging it in
// again with COM_CHANGE_USER (the server drops every session variable,
// temporary table, lock and prepared statement, and applies the new
// user, schema and character set in one round trip). Connections are keyed
// by server address and capability flags, because the flags (for example
// CLIENT_DEPRECATE_EOF or CLIENT_MULTI_STATEMENTS) shape the protocol.
//
// Limits: at most Config.MaxPerServer open connections per server (Get
// waits for a slot until its context ends), at most Config.MaxIdle idle
// ones, and idle ones older than Config.IdleTimeout are closed by Run.
//
// Warm-up (warm.go): for every server named by SetWarm and every capability
// profile that Get served within IdleTimeout, Run keeps Config.MinIdle idle
// connections open, logged in as Config.WarmUser; COM_CHANGE_USER makes
// them usable by any account. Health (health.go): Run pings connections
// that have been idle for Config.HealthInterval and closes those that do
// not answer; Get also skips an idle connection whose COM_CHANGE_USER
// fails for a reason other than the server refusing the login.
package pool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"vigil/internal/mysqlwire"
)

// Config configures a Pool.
type Config struct {
	// MaxPerServer caps open connections (busy + idle) to one server
	// (default 1000).
	MaxPerServer int
	// MaxIdle caps idle connections kept per server (default 64).
	MaxIdle int
	// IdleTimeout closes connections idle for longer (default 5m).
	IdleTimeout time.Duration
	// ConnectTimeout bounds dialing and logging in (default 2s).
	ConnectTimeout time.Duration
	// MinIdle is how many idle connections Run keeps open per warm server
	// (see SetWarm) and per capability profile served recently (0: no
	// warm-up). MaxPerServer and MaxIdle still cap them.
	MinIdle int
	// WarmUser and WarmPassword are the account warm connections log in as
	// (empty WarmUser: no warm-up). Get switches them to the session's
	// account with COM_CHANGE_USER.
	WarmUser, WarmPassword string
	// HealthInterval: Run pings (COM_PING) connections idle for longer and
	// closes those that fail (default 30s).
	HealthInterval time.Duration
	// Logger receives warm-up and health-check events; nil discards.
	Logger *slog.Logger
	// TLS secures every connection the pool opens (Get and warm-up) when
	// the DialConfig has none; nil: plain TCP. COM_CHANGE_USER keeps a
	// connection's TLS.
	TLS *mysqlwire.ClientTLS
}

func (c *Config) setDefaults() {
	if c.MaxPerServer == 0 {
		c.MaxPerServer = 1000
	}
	if c.MaxIdle == 0 {
		c.MaxIdle = 64
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 5 * time.Minute
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = 2 * time.Second
	}
	if c.HealthInterval == 0 {
		c.HealthInterval = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate checks the limits.
func (c *Config) Validate() error {
	if c.MaxPerServer < 0 || c.MaxIdle < 0 || c.IdleTimeout < 0 || c.ConnectTimeout < 0 ||
		c.MinIdle < 0 || c.HealthInterval < 0 {
		return errors.New("pool: limits and durations must not be negative")
	}
	if c.MaxIdle > c.MaxPerServer {
		return fmt.Errorf("pool: max_idle %d exceeds max_per_server %d", c.MaxIdle, c.MaxPerServer)
	}
	return nil
}

// Conn is a pooled backend connection.
type Conn struct {
	*mysqlwire.ClientConn
	Addr    string
	idleAt  time.Time
	created time.Time
	// checkedAt is when the connection last answered (dial, Put or ping).
	checkedAt time.Time
}

// Stats is a snapshot of one server's pool.
type Stats struct {
	Open, Idle int
	// Dials counts connections opened for a Get (on a session's path),
	// Reuses idle ones handed out by Get.
	Dials, Reuses uint64
	// Warmed counts connections opened in the background by warm-up,
	// WarmFailures failed warm-up attempts, Broken idle connections closed
	// because they failed a ping or COM_CHANGE_USER.
	Warmed, WarmFailures, Broken uint64
}

type server struct {
	open   int     // busy + idle + being dialled, warmed or pinged
	idle   []*Conn // LIFO
	wake   chan struct{}
	dials  uint64
	reuses uint64
	warm   warmState
	broken uint64
}

// Dialer opens a logged-in connection; mysqlwire.Dial in production.
type Dialer func(ctx context.Context, cfg mysqlwire.DialConfig) (*mysqlwire.ClientConn, error)

// Pool is safe for concurrent use.
type Pool struct {
	cfg  Config
	dial Dialer
	now  func() time.Time

	mu       sync.Mutex
	servers  map[string]*server
	closed   bool
	targets  []string      // warm servers (SetWarm)
	profiles profiles      // capability profiles Get served
	kick     chan struct{} // wakes Run to warm up (capacity 1)
}

// New returns a pool; dial nil means mysqlwire.Dial.
func New(cfg Config, dial Dialer) (*Pool, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if dial == nil {
		dial = mysqlwire.Dial
	}
	return &Pool{
		cfg: cfg, dial: dial, now: time.Now, servers: map[string]*server{},
		profiles: profiles{}, kick: make(chan struct{}, 1),
	}, nil
}

// TLS returns Config.TLS, for other connections to the same servers.
func (p *Pool) TLS() *mysqlwire.ClientTLS { return p.cfg.TLS }

// ErrClosed is returned by Get after Close.
var ErrClosed = errors.New("pool closed")

func (p *Pool) server(addr string) *server {
	s := p.servers[addr]
	if s == nil {
		s = &server{wake: make(chan struct{})}
		p.servers[addr] = s
	}
	return s
}

// Get returns a connection to dc.Addr logged in as dc.User with dc.DB and
// dc.Charset: an idle one with the same capabilities re-logged in with
// COM_CHANGE_USER, or a new one. It waits for a free slot while the server
// is at MaxPerServer, until ctx ends.
func (p *Pool) Get(ctx context.Context, dc mysqlwire.DialConfig) (*Conn, error) {
	if dc.Timeout == 0 {
		dc.Timeout = p.cfg.ConnectTimeout
	}
	for {
		c, reserved, wake, err := p.take(dc)
		if err != nil {
			return nil, err
		}
		switch {
		case c != nil:
			if err := c.ChangeUser(dc); err != nil {
				p.Discard(c)
				if isRefusal(err) {
					return nil, err
				}
				p.countBroken(c.Addr)
				continue // broken idle connection: try again
			}
			return c, nil
		case reserved:
			return p.dialNew(ctx, dc)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("no free connection to %s (max %d): %w", dc.Addr, p.cfg.MaxPerServer, ctx.Err())
		case <-wake:
		}
	}
}

// take pops a matching idle connection, or reserves a slot for a new one,
// or returns the channel to wait on.
func (p *Pool) take(dc mysqlwire.DialConfig) (*Conn, bool, <-chan struct{}, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, false, nil, ErrClosed
	}
	s := p.server(dc.Addr)
	if p.warming() && p.profiles.learn(dc, p.now()) {
		p.wakeRun()
	}
	for i := len(s.idle) - 1; i >= 0; i-- {
		c := s.idle[i]
		if matches(dc, c) {
			s.idle = append(s.idle[:i], s.idle[i+1:]...)
			s.reuses++
			if p.warming() {
				p.wakeRun() // refill the warm minimum
			}
			return c, false, nil, nil
		}
	}
	if s.open < p.cfg.MaxPerServer {
		s.open++
		s.dials++
		return nil, true, nil, nil
	}
	if len(s.idle) > 0 { // full of idle connections with other caps: drop one
		old := s.idle[0]
		s.idle = s.idle[1:]
		go old.Close()
		s.dials++
		return nil, true, nil, nil
	}
	return nil, false, s.wake, nil
}

// matches reports whether c is what dialling with dc would give: the same
// capabilities and MariaDB extended capabilities.
func matches(dc mysqlwire.DialConfig, c *Conn) bool {
	return c.Caps == wantCaps(dc, c) && c.ExtCaps == dc.ExtCaps&c.Greeting.ExtCaps
}

// wantCaps is the capability set a connection dialled with dc would have
// negotiated with the server c talks to.
func wantCaps(dc mysqlwire.DialConfig, c *Conn) uint32 {
	want := dc.Caps
	if want == 0 {
		want = mysqlwire.ClientCaps
	}
	want |= mysqlwire.CapProtocol41 | mysqlwire.CapSecureConnection | mysqlwire.CapPluginAuth
	caps := want & c.Greeting.Caps
	caps = caps&^mysqlwire.CapConnectWithDB | c.Caps&mysqlwire.CapConnectWithDB
	caps = caps&^mysqlwire.CapConnectAttrs | c.Caps&mysqlwire.CapConnectAttrs
	return caps
}

func (p *Pool) dialNew(ctx context.Context, dc mysqlwire.DialConfig) (*Conn, error) {
	if dc.TLS == nil {
		dc.TLS = p.cfg.TLS
	}
	cc, err := p.dial(ctx, dc)
	if err != nil {
		p.release(dc.Addr)
		return nil, err
	}
	now := p.now()
	return &Conn{ClientConn: cc, Addr: dc.Addr, created: now, idleAt: now, checkedAt: now}, nil
}

func (p *Pool) release(addr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.server(addr)
	s.open--
	p.signal(s)
}

func (p *Pool) signal(s *server) {
	close(s.wake)
	s.wake = make(chan struct{})
}

// Put returns a healthy connection that is between commands. The caller
// must not use it afterwards.
func (p *Pool) Put(c *Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.server(c.Addr)
	if p.closed || len(s.idle) >= p.cfg.MaxIdle {
		s.open--
		p.signal(s)
		go c.Close()
		return
	}
	c.idleAt = p.now()
	c.checkedAt = c.idleAt
	s.idle = append(s.idle, c)
	p.signal(s)
}

// Discard closes a connection that is broken or in an unknown state.
func (p *Pool) Discard(c *Conn) {
	c.Close()
	p.release(c.Addr)
}

// Stats returns per-server counts.
func (p *Pool) Stats() map[string]Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]Stats, len(p.servers))
	for addr, s := range p.servers {
		out[addr] = Stats{
			Open: s.open, Idle: len(s.idle), Dials: s.dials, Reuses: s.reuses,
			Warmed: s.warm.warmed, WarmFailures: s.warm.failures, Broken: s.broken,
		}
	}
	return out
}

// Run closes idle connections past IdleTimeout, pings long-idle ones
// (HealthInterval) and keeps the warm minimum open (MinIdle, SetWarm)
// until ctx ends, then closes the pool and waits for its background dials
// and pings. Call it once.
func (p *Pool) Run(ctx context.Context) error {
	var wg sync.WaitGroup // warm-up dials and pings
	defer wg.Wait()
	defer p.Close()
	t := time.NewTicker(min(p.cfg.IdleTimeout/2, p.cfg.HealthInterval/2, 10*time.Second))
	defer t.Stop()
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			p.reap()
			p.check(&wg)
		case <-p.kick:
		case <-retry.C:
		}
		if at := p.warm(ctx, &wg); !at.IsZero() {
			retry.Reset(max(at.Sub(p.now()), time.Millisecond))
		}
	}
}

func (p *Pool) reap() {
	p.mu.Lock()
	defer p.mu.Unlock()
	cutoff := p.now().Add(-p.cfg.IdleTimeout)
	for _, s := range p.servers {
		keep := s.idle[:0]
		for _, c := range s.idle {
			if c.idleAt.Before(cutoff) {
				s.open--
				go c.Close()
				continue
			}
			keep = append(keep, c)
		}
		clear(s.idle[len(keep):])
		s.idle = keep
	}
}

// Close closes every idle connection; busy ones are closed when Put back.
func (p *Pool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, s := range p.servers {
		for _, c := range s.idle {
			s.open--
			go c.Close()
		}
		s.idle = nil
		p.signal(s)
	}
}

// CloseIdle closes the idle connections to addr (e.g. a server that left
// the primary role or died).
func (p *Pool) CloseIdle(addr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.servers[addr]
	if s == nil {
		return
	}
	for _, c := range s.idle {
		s.open--
		go c.Close()
	}
	s.idle = nil
	p.signal(s)
}
