package proxy

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"vigil/internal/mysqlwire"
	"vigil/internal/router"
	"vigil/internal/topology"
)

// Pipelines (Config.Pipelines > 0): each event loop keeps, per server and
// session state, up to Config.Pipelines backend connections of its own on
// which it sends independent reads of different sessions one after another
// without waiting for the answers, and hands each answer, in order, to the
// session that asked. The server finds the next statement already queued
// when it ends one, instead of sleeping until the proxy relays the answer
// and the client sends again: it spends about 30 % less CPU per point
// select (bench/README.md, "Pipelined reads").
//
// A read goes on a pipeline only when any connection in the session's
// state answers it as the session's own would: an autocommit SELECT
// outside a transaction that depends on nothing of the session's previous
// statements or connection (router.Statement.Independent), from a session
// that pins nothing, that the loop would otherwise run in place on its own
// connection. The state is the user, schema, character set, protocol
// options and session commands (the pipeline's key). A statement that
// reads what the previous one left on the connection (FOUND_ROWS(),
// ROW_COUNT(), SHOW WARNINGS) runs the pipelined read again on the
// session's connection first (replayPiped). Everything unusual is given
// back to the session's goroutine to run again on the session's own
// connection, which is safe because nothing of the answer reached the
// client and the read changed nothing: an answer with warnings or an error
// (the server's, or the pipeline's own if its connection was killed), so
// that SHOW WARNINGS finds them there, an answer too large for the
// pipeline's buffer, a pipeline that failed or whose oldest read
// took longer than pipeStall, and the loop stopping. KILL QUERY of a read
// on a pipeline answers the interruption and kills the pipeline's server
// thread; the pipeline's other reads run again.

// pipeDepth bounds the reads in flight on one pipeline.
const pipeDepth = 16

// pipeStall is how long the oldest read on a pipeline may take before the
// pipeline is closed and its reads run again on their sessions' connections
// (where KILL QUERY and query_timeout apply as usual).
const pipeStall = time.Second

// pipeIdle is how long an unused pipeline stays open.
const pipeIdle = time.Minute

// pipeRetry is how long a loop waits before opening a pipeline again for a
// state whose last pipeline failed to open.
const pipeRetry = time.Second

// pipeSet is the pipelines of one loop to one server for one session state.
type pipeSet struct {
	key     string
	pipes   []*pipe
	opening bool
	dead    bool // no longer in the loop's map (sessions' caches drop it)
	retryAt time.Time
}

// pipeline is one shared backend connection and the reads in flight on it.
type pipe struct {
	set     *pipeSet
	b       *backend
	id      int32
	fifo    []pipeEntry
	head    int
	in, out bool // readiness, as loopState's
	used    time.Time
}

// pipeEntry is a read sent on a pipeline, for session s while its pipeGen is
// gen (a session that moved on since is no longer waiting: its answer is
// dropped).
type pipeEntry struct {
	s      *session
	gen    uint32
	sent   time.Time
	digest uint64
}

// pipeOpened is a pipeline connection opened (or not) by a goroutine for set.
type pipeOpened struct {
	set *pipeSet
	b   *backend
	err error
}

func (p *pipe) depth() int { return len(p.fifo) - p.head }

// pipeEligible reports whether a COM_QUERY classified st and routed by d
// may run on a pipeline.
func (s *session) pipeEligible(st router.Statement, d router.Decision) bool {
	switch d.Reason {
	case router.ReasonWrite, router.ReasonTransaction, router.ReasonPinned, router.ReasonSameAsLast:
		return false
	}
	return st.Independent() && !s.pinned()
}

// pipeAvoid is how many digests a loop remembers as not to pipeline: a
// read of theirs answered warnings, an error or more than a pipeline's buffer holds,
// or stalled a pipeline. Reads of the same shape mostly do it again; each
// time costs running the read twice (and a new pipeline connection).
const pipeAvoid = 4096

// avoids reports whether reads of digest keep off pipelines.
func (l *loop) avoids(digest uint64) bool {
	_, ok := l.pipeAvoid[digest]
	return ok
}

// avoid makes the loop send reads of digest to their sessions' own
// connections from now on (a pipeline closed for one of them).
func (l *loop) avoid(digest uint64) {
	if len(l.pipeAvoid) >= pipeAvoid {
		clear(l.pipeAvoid)
	}
	l.pipeAvoid[digest] = struct{}{}
}

// pipeFor returns the pipeline on which s's read can go to b's server now, or
// nil (none open, or all full); it opens another pipeline for the state when
// every pipeline is busy.
func (l *loop) pipeFor(s *session, b *backend, addr string) *pipe {
	set := l.pipeSetFor(s, b.node)
	var best *pipe
	for _, p := range set.pipes {
		if d := p.depth(); d < pipeDepth && (best == nil || d < best.depth()) {
			best = p
		}
	}
	if (best == nil || best.depth() > 0) && len(set.pipes) < l.maxPipes && !set.opening && !l.now.Before(set.retryAt) {
		set.opening = true
		l.srv.m.pipeOpens.Inc()
		go l.openPipe(set, s.dialConfig(addr), b.node, slices.Clone(s.history), s.option)
	}
	return best
}

// pipeSetFor returns the loop's pipeline set for s's state on node, cached on
// the session while the state lasts.
func (l *loop) pipeSetFor(s *session, node string) *pipeSet {
	c := &s.ls.pipeCache
	if c.set != nil && !c.set.dead && c.node == node && c.user == s.user && c.schema == s.schema &&
		c.histGen == s.histGen && c.option == s.option {
		return c.set
	}
	key := s.pipeKey(node)
	set := l.pipeSets[key]
	if set == nil {
		set = &pipeSet{key: key}
		l.pipeSets[key] = set
	}
	*c = pipeCache{set: set, node: node, user: s.user, schema: s.schema, histGen: s.histGen, option: s.option}
	return set
}

// pipeCache is the session's last pipeline set and the state it was for.
type pipeCache struct {
	set                *pipeSet
	node, user, schema string
	histGen            uint64
	option             uint16
}

// pipeKey is s's state on node: what a connection must share with s's own
// to answer its independent reads alike.
func (s *session) pipeKey(node string) string {
	var k strings.Builder
	for _, f := range []string{node, s.user, string(s.stage1), s.schema,
		strconv.FormatUint(uint64(s.backendCaps()), 16), strconv.FormatUint(uint64(s.extCaps), 16),
		strconv.Itoa(int(s.charset)), strconv.Itoa(int(s.option))} {
		k.WriteString(f)
		k.WriteByte(0)
	}
	for _, h := range s.history {
		k.WriteString(h)
		k.WriteByte(0)
	}
	return k.String()
}

// openPipe opens a pipeline connection to node as dc says, brings it to the
// session state (dc.DB, history, option), on its own goroutine, and hands
// it to the loop.
func (l *loop) openPipe(set *pipeSet, dc mysqlwire.DialConfig, node string, history []string, option uint16) {
	ctx, cancel := context.WithTimeout(context.Background(), l.srv.config().ConnectTimeout)
	defer cancel()
	o := pipeOpened{set: set}
	pc, err := l.srv.pool.Get(ctx, dc)
	if err == nil {
		o.b = &backend{conn: pc, node: node, schema: dc.DB, option: multiOption(pc.Caps)}
		switch {
		case pc.ExtCaps != dc.ExtCaps:
			err = errors.New("server capabilities differ from the session's")
		default:
			err = syncTo(o.b, dc.DB, history, option)
		}
		if err == nil && !o.b.detach() {
			err = errors.New("connection cannot be watched (TLS)")
		}
		if err != nil {
			l.srv.pool.Discard(pc)
			o.b = nil
		}
	}
	o.err = err
	l.mu.Lock()
	stopped := l.stopped
	if !stopped {
		l.opened = append(l.opened, o)
	}
	l.mu.Unlock()
	if stopped && o.b != nil {
		l.srv.pool.Discard(o.b.conn) // the loop is gone: nobody would close it
		return
	}
	l.signal()
}

// addPipe watches a pipeline connection opened for o.set.
func (l *loop) addPipe(o pipeOpened) {
	set := o.set
	set.opening = false
	if o.err != nil {
		set.retryAt = l.now.Add(pipeRetry)
		l.srv.log.Debug("event loop: cannot open a pipeline", "err", o.err)
		return
	}
	p := &pipe{set: set, b: o.b, used: l.now, in: true, out: true}
	if n := len(l.pipeFree); n > 0 {
		p.id = l.pipeFree[n-1]
		l.pipeFree = l.pipeFree[:n-1]
	} else {
		p.id = int32(len(l.pipes))
		l.pipes = append(l.pipes, nil)
		l.pipeGens = append(l.pipeGens, 0)
	}
	ev := unix.EpollEvent{
		Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET,
		Fd:     p.id*sockKinds + sockPipe, Pad: l.pipeGens[p.id],
	}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, p.b.fd, &ev); err != nil {
		l.pipeFree = append(l.pipeFree, p.id)
		l.srv.pool.Discard(p.b.conn)
		set.retryAt = l.now.Add(pipeRetry)
		return
	}
	l.pipes[p.id] = p
	l.pipesOpen.Add(1)
	p.b.conn.SetNonblocking(true)
	set.pipes = append(set.pipes, p)
	l.scheduleScanBy(l.now.Add(pipeIdle))
}

// replays reports whether a statement routed by d depends on what the
// session's last statement left on its connection (FOUND_ROWS(),
// ROW_COUNT(), SHOW WARNINGS...) while that statement was a read answered
// on a pipeline: replayPiped must run first.
func (s *session) replays(d router.Decision) bool {
	return d.Reason == router.ReasonSameAsLast && len(s.lastPiped) > 0
}

// replayPiped runs the session's last read, answered on a pipeline, again
// on the connection where d sends the statement that depends on it, and
// drops the answer: that connection then holds what the read left (found
// rows, row count; warnings cleared if it read a table), as if it had run
// there. The read changed nothing (router.Statement.Independent); reads
// with warnings never stay on a pipeline. A failure is left to the
// statement that follows.
func (s *session) replayPiped(d router.Decision, snap *topology.Snapshot) {
	sql := string(s.lastPiped[1:])
	s.lastPiped = s.lastPiped[:0]
	var b *backend
	var err error
	if d.Target == router.TargetReplica {
		b, err = s.replica(d.Backend, snap)
	} else {
		b, err = s.primary()
	}
	if err == nil {
		_, _ = b.conn.Exec(sql)
	}
}
