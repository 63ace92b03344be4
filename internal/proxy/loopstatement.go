package proxy

import (
	"encoding/binary"
	"time"

	"vigil/internal/mysqlwire"
	"vigil/internal/router"
	"vigil/internal/topology"
)

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
		case phasePipe:
			return
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
		switch r, n := conn.ScanBufferedResult(conn.Caps, s.relay.CacheMetadata); r {
		case mysqlwire.ScanComplete:
			l.relay(s, n)
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
	q.start = l.now
	q.snap, _ = s.srv.src.Current()
	st, d := s.rs.RouteQuery(p[1:], q.snap, q.start)
	q.d = d
	b, kind := s.readyFor(q.d, q.snap)
	if b == nil || s.replays(d) {
		l.giveBack(s, backRouted)
		return
	}
	if l.maxPipes > 0 && s.pipeEligible(st, d) && !l.avoids(s.rs.Digest()) {
		if node, ok := q.snap.Node(b.node); ok {
			if ln := l.pipeFor(s, b, node.Address); ln != nil {
				l.sendPipe(s, ln)
				return
			}
		}
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
	q.start, q.st, q.typed = l.now, st, st.sendsTypes(p)
	q.snap, _ = s.srv.src.Current()
	q.d = s.rs.RoutePrepared(&st.rp, 0, q.snap, q.start)
	b, kind := s.readyFor(q.d, q.snap)
	if b == nil || !q.typed && !st.typed[b] || s.replays(q.d) {
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

// relay relays the whole answer, the first n bytes in the buffer, and ends
// the statement as runQuery would.
func (l *loop) relay(s *session, n int) {
	ls := &s.ls
	q := &ls.q
	ls.respBy = time.Time{}
	if q.kind == sockPrimary && s.mayRunAgain(q.b) {
		l.giveBack(s, backRefused)
		return
	}
	l.ran.Add(1) // before the client can see the answer
	sum, err := s.relay.RelayWhole(n)
	sum, err = s.endExec(q.b, sum, err)
	res, done, err := s.outcome(q, sum, err)
	if !done {
		l.giveBack(s, backPrimary)
		return
	}
	ls.keep = s.observeRun(q, l.now, res, err)
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
		ls.idleBy = l.now.Add(t)
		l.scheduleScan()
	}
}
