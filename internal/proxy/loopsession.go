package proxy

import (
	"encoding/binary"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"vigil/internal/mysqlwire"
	"vigil/internal/router"
	"vigil/internal/topology"
)

// loopBack says where a session stands when the loop gives it back to its
// goroutine.
type loopBack int

const (
	// backIdle: at a command boundary, nothing read beyond the buffer.
	backIdle loopBack = iota
	// backCommand: the command s.ls.q.p was read; serve it.
	backCommand
	// backRouted: the COM_QUERY s.ls.q was routed (stateBusy); run it.
	backRouted
	// backExecRouted: the EXECUTE s.ls.q was routed (stateBusy); run it.
	backExecRouted
	// backRelay: s.ls.q was sent to s.ls.q.b; relay its answer.
	backRelay
	// backPrimary: the replica read s.ls.q failed before anything reached
	// the client; run it on the primary.
	backPrimary
	// backFlush: the answer to s.ls.q is partly sent; send the rest and
	// end the command with verdict s.ls.keep.
	backFlush
	// backEnd: the session is over (closed, idle timeout, client gone).
	backEnd
)

func (b loopBack) String() string {
	return [...]string{"idle", "command", "routed", "exec_routed", "relay", "primary", "flush", "end"}[b]
}

// loopPhase is what the loop waits for on a session.
type loopPhase int

const (
	phaseIdle    loopPhase = iota // the next command
	phaseSending                  // the backend to take the rest of a request
	phaseWaiting                  // the backend's answer
	phaseFlush                    // the client to take the rest of an answer
)

// back is where a session in phase p stands when the loop stops.
func (p loopPhase) back() loopBack {
	switch p {
	case phaseSending, phaseWaiting:
		return backRelay
	case phaseFlush:
		return backFlush
	}
	return backIdle
}

// inflight is the statement the loop runs for a session.
type inflight struct {
	p     []byte // the command (aliases the client connection's buffer)
	d     router.Decision
	snap  *topology.Snapshot
	start time.Time
	b     *backend
	kind  int32 // b's socket kind
	st    *stmt // an EXECUTE's statement (nil: a COM_QUERY)
	typed bool  // the EXECUTE carries parameter types
}

// loopState is a session's part on the loop. The fields other than in are
// owned by whoever holds the session: the loop while in is set, else the
// goroutine.
type loopState struct {
	loop *loop // the session's loop (nil: none); set at creation
	in   bool  // on the loop (under loop.mu)
	wake chan struct{}
	back loopBack
	cfd  int // client socket; -1: not detachable (TLS), never on the loop

	slot  int32
	phase loopPhase
	q     inflight
	keep  bool // the verdict of the command whose answer is being flushed

	// Readiness from edge-triggered events, cleared when a call would
	// block: the client socket, and per backend kind.
	cin, cout bool
	bk        [sockKinds]*backend
	bin, bout [sockKinds]bool

	idleBy, respBy time.Time // client idle and query timeouts (zero: none)
}

func (ls *loopState) ready(kind int32, events uint32) {
	in := events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0
	out := events&(unix.EPOLLOUT|unix.EPOLLHUP|unix.EPOLLERR) != 0
	if kind == sockClient {
		ls.cin, ls.cout = ls.cin || in, ls.cout || out
		return
	}
	ls.bin[kind], ls.bout[kind] = ls.bin[kind] || in, ls.bout[kind] || out
}

// loopable reports whether the session can be served by the loop, taking
// its client socket out of Go's poller the first time.
func (s *session) loopable() bool {
	if s.ls.cfd == 0 {
		s.ls.cfd = -1
		if s.ls.loop == nil {
			return false
		}
		if fd, ok := s.c.Detach(); ok {
			s.ls.cfd = fd
			s.ls.wake = make(chan struct{}, 1)
			s.ls.slot = -1
		}
	}
	return s.ls.cfd >= 0
}

// detach takes b's socket out of Go's poller the first time; false if b
// cannot be watched by the loop (TLS).
func (b *backend) detach() bool {
	if b.fd == 0 {
		b.fd = -1
		if fd, ok := b.conn.Detach(); ok {
			b.fd = fd
		}
	}
	return b.fd >= 0
}

// drive advances s on the loop as far as its sockets allow.
func (l *loop) drive(s *session) {
	ls := &s.ls
	for ls.slot >= 0 {
		switch ls.phase {
		case phaseIdle:
			whole, fits := s.c.BufferedPacket()
			if whole {
				l.command(s)
				continue
			}
			if !fits {
				l.giveBack(s, backIdle)
				return
			}
			if !ls.cin {
				return
			}
			drained, err := s.c.Fill()
			ls.cin = !drained
			if err == mysqlwire.ErrWouldBlock {
				return
			}
			if err != nil {
				l.giveBack(s, backIdle) // the goroutine meets it again and ends
				return
			}
		case phaseSending:
			k := ls.q.kind
			if !ls.bout[k] {
				return
			}
			switch err := ls.q.b.conn.FlushPending(); {
			case err == mysqlwire.ErrWouldBlock:
				ls.bout[k] = false
				return
			case err != nil:
				l.giveBack(s, backRelay) // the goroutine's relay fails on it
				return
			}
			ls.phase = phaseWaiting
		case phaseWaiting:
			if !l.answer(s) {
				return
			}
		case phaseFlush:
			if !ls.cout {
				return
			}
			switch err := s.c.FlushPending(); {
			case err == mysqlwire.ErrWouldBlock:
				ls.cout = false
				return
			case err != nil:
				l.giveBack(s, backEnd)
				return
			}
			l.idle(s)
		}
	}
}

// answer reads the backend's answer to the running statement and relays it
// once whole; false when it must wait for the socket.
func (l *loop) answer(s *session) bool {
	ls := &s.ls
	q := &ls.q
	conn := q.b.conn
	for {
		switch conn.ScanBufferedResult(conn.Caps, s.relay.CacheMetadata) {
		case mysqlwire.ScanComplete:
			l.relay(s)
			return true
		case mysqlwire.ScanStream:
			l.giveBack(s, backRelay)
			return false
		}
		if conn.BufferFull() {
			l.giveBack(s, backRelay) // a large answer: streamed by the goroutine
			return false
		}
		if !ls.bin[q.kind] {
			return false
		}
		drained, err := conn.Fill()
		ls.bin[q.kind] = !drained
		if err == mysqlwire.ErrWouldBlock {
			return false
		}
		if err != nil {
			l.giveBack(s, backRelay) // the goroutine's relay meets it again
			return false
		}
	}
}

// command starts the command whose packet is whole in the client buffer.
func (l *loop) command(s *session) {
	s.c.ResetSeq()
	p, err := s.c.ReadPacket()
	if err != nil {
		l.giveBack(s, backEnd)
		return
	}
	s.ls.q = inflight{p: p}
	switch {
	case len(p) == 0 || s.rs == nil:
		l.giveBack(s, backCommand)
	case p[0] == mysqlwire.ComQuery:
		l.query(s, p)
	case p[0] == mysqlwire.ComStmtExecute:
		l.execute(s, p)
	default:
		l.giveBack(s, backCommand)
	}
}

// query starts COM_QUERY p: routed, and sent if it can run now.
func (l *loop) query(s *session, p []byte) {
	if _, kill := parseKill(p[1:]); kill {
		l.giveBack(s, backCommand)
		return
	}
	if !l.begin(s) {
		return
	}
	q := &s.ls.q
	q.start = time.Now()
	q.snap, _ = s.srv.src.Current()
	_, q.d = s.rs.RouteQuery(p[1:], q.snap, q.start)
	b, kind := s.readyFor(q.d, q.snap)
	if b == nil {
		l.giveBack(s, backRouted)
		return
	}
	l.send(s, b, kind)
}

// execute starts COM_STMT_EXECUTE p: routed, and sent if the statement is
// prepared on a connection that can run it now, with parameter types it
// has seen (cursors, long data and added types are the goroutine's).
func (l *loop) execute(s *session, p []byte) {
	id, _ := stmtID(p)
	st := s.stmts[id]
	if st == nil || len(p) < execHeaderLen || st.long != nil || p[5]&cursorFlags != 0 {
		l.giveBack(s, backCommand)
		return
	}
	if !l.begin(s) {
		return
	}
	st.noteTypes(p)
	q := &s.ls.q
	q.start, q.st, q.typed = time.Now(), st, st.sendsTypes(p)
	q.snap, _ = s.srv.src.Current()
	q.d = s.rs.RoutePrepared(&st.rp, 0, q.snap, q.start)
	b, kind := s.readyFor(q.d, q.snap)
	if b == nil || !q.typed && !st.typed[b] {
		l.giveBack(s, backExecRouted)
		return
	}
	bid, ok := st.ids[b]
	if !ok {
		l.giveBack(s, backExecRouted)
		return
	}
	binary.LittleEndian.PutUint32(p[1:], bid)
	l.send(s, b, kind)
}

// begin marks the session busy with a command; false if it was closed.
func (l *loop) begin(s *session) bool {
	if !s.state.CompareAndSwap(stateIdle, stateBusy) {
		l.giveBack(s, backEnd)
		return false
	}
	s.ls.idleBy = time.Time{}
	return true
}

// send sends the routed statement to b, its session's connection of kind.
func (l *loop) send(s *session, b *backend, kind int32) {
	ls := &s.ls
	ls.q.b, ls.q.kind = b, kind
	s.routed = true
	if err := s.beginExec(b, ls.q.p); err != nil {
		l.giveBack(s, backRelay)
		return
	}
	if qt := s.srv.config().QueryTimeout; qt > 0 {
		ls.respBy = ls.q.start.Add(qt)
		l.scheduleScan()
	}
	ls.phase = phaseWaiting
	if b.conn.Pending() {
		ls.phase = phaseSending
		ls.bout[kind] = false
	}
}

// readyFor returns the connection on which a statement routed by d can
// run now, without I/O: the session's own, checked and in sync.
func (s *session) readyFor(d router.Decision, snap *topology.Snapshot) (*backend, int32) {
	var b *backend
	var kind int32
	switch d.Target {
	case router.TargetPrimary:
		node, ok := snap.PrimaryNode()
		b, kind = s.prim, sockPrimary
		if b == nil || !ok || b.node != node.Name || !b.writable || b.epoch != snap.Epoch {
			return nil, 0
		}
	case router.TargetReplica:
		b, kind = s.repl, sockReplica
		if b == nil || d.WaitGTID != "" || b.node != d.Backend {
			return nil, 0
		}
	default:
		return nil, 0
	}
	if s.ls.bk[kind] != b || !s.synced(b) {
		return nil, 0
	}
	return b, kind
}

// synced reports whether b has the session's schema, session commands and
// multi-statement option (sync would do nothing).
func (s *session) synced(b *backend) bool {
	return (s.schema == "" || b.schema == s.schema) && b.applied == len(s.history) && b.option == s.option
}

// relay relays the whole answer in the buffer and ends the statement as
// runQuery would.
func (l *loop) relay(s *session) {
	ls := &s.ls
	q := &ls.q
	ls.respBy = time.Time{}
	sum, err := s.relay.Relay(mysqlwire.RespResult)
	sum, err = s.endExec(q.b, sum, err)
	res, done, err := s.outcome(q, sum, err)
	if !done {
		l.giveBack(s, backPrimary)
		return
	}
	ls.keep = s.observeRun(q, res, err)
	s.srv.m.loopRuns.Inc()
	ls.q = inflight{}
	ls.phase = phaseFlush
	ls.cout = true // try
}

// idle ends a command on the loop once its answer is sent (the session
// stays busy until then, so that Shutdown does not close it meanwhile).
func (l *loop) idle(s *session) {
	ls := &s.ls
	if !s.endCommand(ls.keep) {
		l.giveBack(s, backEnd)
		return
	}
	ls.phase = phaseIdle
	if t := l.srv.config().ClientIdleTimeout; t > 0 {
		ls.idleBy = time.Now().Add(t)
		l.scheduleScan()
	}
}

// outcome is what the router observes of statement q relayed with sum and
// err; done is false when a replica read must run on the primary instead
// (COM_QUERY only, as on the goroutine path).
func (s *session) outcome(q *inflight, sum mysqlwire.Summary, err error) (router.Result, bool, error) {
	if q.st != nil {
		if err == nil {
			q.st.ran(q.b, q.typed)
		}
		return s.result(q.d.Target, q.b.node, sum, err), true, err
	}
	if q.d.Target == router.TargetReplica {
		return s.replicaOutcome(q.b, sum, err)
	}
	return s.result(router.TargetPrimary, q.b.node, sum, err), true, err
}

// observeRun observes statement q as runQuery or runExecute would.
func (s *session) observeRun(q *inflight, res router.Result, err error) bool {
	if q.st != nil {
		return s.observe(q.start, res, err)
	}
	return s.observeQuery(q.p, q.d, q.start, res, err)
}

// resume carries on, on the session goroutine, from where the loop gave
// the session back; false ends the session.
func (s *session) resume(back loopBack) bool {
	q := s.ls.q
	s.ls.q = inflight{}
	switch back {
	case backCommand:
		return s.serve(q.p)
	case backRouted:
		return s.endCommand(s.runQuery(q.p, q.d, q.snap, q.start))
	case backExecRouted:
		return s.endCommand(s.runExecute(q.st, q.p, q.d, q.start))
	case backRelay:
		sum, err := s.finishRelay(q.b)
		res, done, err := s.outcome(&q, sum, err)
		if !done {
			res, err = s.runOnPrimary(q.p)
		}
		return s.endCommand(s.observeRun(&q, res, err))
	case backPrimary:
		res, err := s.runOnPrimary(q.p)
		return s.endCommand(s.observeQuery(q.p, q.d, q.start, res, err))
	case backFlush:
		return s.c.FlushPending() == nil && s.endCommand(s.ls.keep)
	case backEnd:
		return false
	}
	if s.state.Load() == stateClosed {
		return false // its close may have gone to the loop after it gave s back
	}
	return s.serveOne()
}

// finishRelay sends what is left of a request the loop began on b and
// relays the answer, in blocking mode.
func (s *session) finishRelay(b *backend) (mysqlwire.Summary, error) {
	if err := b.conn.FlushPending(); err != nil {
		return s.endExec(b, mysqlwire.Summary{}, fmt.Errorf("%w: %w", mysqlwire.ErrServerIO, err))
	}
	sum, err := s.relay.Relay(mysqlwire.RespResult)
	return s.endExec(b, sum, err)
}
