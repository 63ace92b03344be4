package proxy

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"vigil/internal/mysqlwire"
	"vigil/internal/pool"
	"vigil/internal/router"
	"vigil/internal/topology"
)

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("proxy: server closed")

// Options are a Server's collaborators.
type Options struct {
	// Pool provides backend connections (required).
	Pool *pool.Pool
	// Router decides primary or replica per statement; nil sends every
	// statement to the primary.
	Router *router.Router
	// Registry receives the proxy's metrics; nil means none.
	Registry prometheus.Registerer
	// Logger; nil discards.
	Logger *slog.Logger
}

// Server accepts client connections and serves each on its own session
// goroutine. Safe for concurrent use.
type Server struct {
	cfg    atomic.Pointer[Config]
	src    topology.Source
	pool   *pool.Pool
	router *router.Router
	log    *slog.Logger
	m      *metrics
	loops  []*loop // the event-loop data path, one per thread; none: goroutines only
	info   serverInfo
	keyMu  sync.Mutex      // guards genKey (held while generating, not to stall mu)
	genKey *rsa.PrivateKey // generated when no RSA key is configured

	nextID atomic.Uint32

	mu        sync.Mutex
	sessions  map[uint32]*session
	perUser   map[string]int
	listeners map[net.Listener]struct{}
	draining  bool
	drainFlag atomic.Bool   // mirrors draining for the hot path
	done      chan struct{} // closed when sessions becomes empty while draining
	wg        sync.WaitGroup
}

// New returns a server following src. Call Serve.
func New(cfg Config, src topology.Source, opts Options) (*Server, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Pool == nil || src == nil {
		return nil, errors.New("proxy: a pool and a topology source are required")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(opts.Registry, opts.Pool)
	if err != nil {
		return nil, err
	}
	s := &Server{
		src: src, pool: opts.Pool, router: opts.Router, log: log, m: m,
		sessions: map[uint32]*session{}, perUser: map[string]int{},
		listeners: map[net.Listener]struct{}{}, done: make(chan struct{}),
	}
	s.cfg.Store(&cfg)
	if cfg.DataPath == DataPathLoop {
		if err := s.startLoops(cfg.Loops); err != nil {
			return nil, fmt.Errorf("proxy: event loop: %w", err)
		}
	}
	return s, nil
}

// loopFor returns the event loop that serves session id (nil: none).
func (s *Server) loopFor(id uint32) *loop {
	if len(s.loops) == 0 {
		return nil
	}
	return s.loops[int(id)%len(s.loops)]
}

// endOnLoop asks the event loop to end sess if it holds it; false if the
// caller must close sess's connection itself.
func (s *Server) endOnLoop(sess *session) bool {
	return sess.ls.loop != nil && sess.ls.loop.end(sess)
}

// rsaKey returns the configured RSA key of caching_sha2_password
// authentication without TLS, or else the server's generated one, made on
// the first login that needs it (~50 ms; logged) and kept across reloads.
// nil if generating failed (the client is then switched to
// mysql_native_password). Safe for concurrent use.
func (s *Server) rsaKey() *rsa.PrivateKey {
	if k := s.config().RSAKey; k != nil {
		return k
	}
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	if s.genKey == nil {
		k, err := rsa.GenerateKey(rand.Reader, generatedRSABits)
		if err != nil {
			s.log.Error("cannot generate an RSA key; caching_sha2_password clients without TLS are switched to mysql_native_password", "err", err)
			return nil
		}
		s.genKey = k
		s.log.Info("generated an RSA key for caching_sha2_password authentication without TLS; set proxy.rsa_private_key to keep one across restarts",
			"bits", generatedRSABits)
	}
	return s.genKey
}

// Reload swaps the configuration (users, limits, timeouts). Live sessions
// keep running; new statements and logins see the new values.
func (s *Server) Reload(cfg Config) error {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	s.cfg.Store(&cfg)
	s.log.Info("proxy configuration reloaded", "users", len(cfg.Users))
	return nil
}

func (s *Server) config() *Config { return s.cfg.Load() }

// Serve accepts connections on l until l is closed or Shutdown is called.
// It returns ErrServerClosed after Shutdown.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.draining {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
	}()
	var backoff time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.isDraining() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			return fmt.Errorf("accept: %w", err)
		}
		backoff = 0
		s.accept(nc)
	}
}

func (s *Server) isDraining() bool { return s.drainFlag.Load() }

// accept registers a session for nc and starts its goroutine.
func (s *Server) accept(nc net.Conn) {
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
		_ = tc.SetKeepAlive(true)
	}
	nc = mysqlwire.Direct(nc)
	id := s.nextID.Add(1)
	sess := newSession(s, id, nc)
	s.mu.Lock()
	over := len(s.sessions) >= s.config().MaxConnections
	if !over {
		s.sessions[id] = sess
		s.wg.Add(1)
	}
	s.mu.Unlock()
	if over {
		s.m.errors.WithLabelValues("too_many_connections").Inc()
		go refuse(nc, mysqlwire.Errorf(mysqlwire.ErConCount, "08004", "Too many connections"))
		return
	}
	s.m.sessions.Inc()
	s.m.connections.Inc()
	go func() {
		defer s.wg.Done()
		sess.run()
		s.forget(sess)
	}()
}

// refuse answers a connection with an error instead of a greeting.
func refuse(nc net.Conn, e *mysqlwire.SQLError) {
	_ = nc.SetDeadline(time.Now().Add(time.Second))
	c := mysqlwire.NewServerConn(nc)
	_ = c.WriteError(e)
	_ = nc.Close()
}

func (s *Server) forget(sess *session) {
	s.m.sessions.Dec()
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, sess.id)
	if sess.user != "" {
		s.perUser[sess.user]--
		if s.perUser[sess.user] <= 0 {
			delete(s.perUser, sess.user)
		}
	}
	if s.draining && len(s.sessions) == 0 {
		select {
		case <-s.done:
		default:
			close(s.done)
		}
	}
}

// admitUser counts a logged-in session against its user's cap; it reports
// false when the cap is reached.
func (s *Server) admitUser(user string, limit int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if limit > 0 && s.perUser[user] >= limit {
		return false
	}
	s.perUser[user]++
	return true
}

func (s *Server) session(id uint32) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[id]
}

// Shutdown stops accepting, lets every session finish its current statement
// and transaction, closes idle sessions, and waits for all to end. When ctx
// ends first, the remaining sessions are closed and ctx's error returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.draining = true
	s.drainFlag.Store(true)
	for l := range s.listeners {
		_ = l.Close()
	}
	if len(s.sessions) == 0 {
		select {
		case <-s.done:
		default:
			close(s.done)
		}
	}
	s.mu.Unlock()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		s.closeIdle()
		select {
		case <-s.done:
			s.wg.Wait()
			s.stopLoops()
			return nil
		case <-ctx.Done():
			s.closeAll()
			s.wg.Wait()
			s.stopLoops()
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// startLoops starts n event loops (0: one per CPU), each on an OS thread
// and a P of its own: GOMAXPROCS grows by n while they run.
func (s *Server) startLoops(n int) error {
	if n == 0 {
		n = runtime.NumCPU()
	}
	for range n {
		l, err := newLoop(s)
		if err != nil {
			for _, l := range s.loops {
				l.close()
			}
			s.loops = nil
			return err
		}
		s.loops = append(s.loops, l)
	}
	loopProcs(n)
	loops := s.loops
	s.m.loops.Store(&loops)
	for _, l := range s.loops {
		go l.run()
	}
	return nil
}

func (s *Server) stopLoops() {
	for _, l := range s.loops {
		l.stop()
	}
	loopProcs(-len(s.loops))
	s.loops = nil
}

func (s *Server) closeIdle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sess := range s.sessions {
		sess.closeIfIdle()
	}
}

func (s *Server) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sess := range s.sessions {
		sess.close()
	}
}

// Sessions returns the number of live client sessions.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// releaseUser uncounts a session of user (COM_CHANGE_USER to another user).
func (s *Server) releaseUser(user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.perUser[user]--
	if s.perUser[user] <= 0 {
		delete(s.perUser, user)
	}
}
