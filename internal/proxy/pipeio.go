package proxy

import (
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"vigil/internal/mysqlwire"
)

// The I/O of pipelines on their loop (see pipeline.go): sending reads,
// handing out answers in order, closing a pipeline and running its reads
// again elsewhere.

// sendPipe sends s's routed read on p.
func (l *loop) sendPipe(s *session, p *pipe) {
	ls := &s.ls
	ls.q.b, ls.q.kind = p.b, sockPipe
	s.routed = true
	ls.pipeGen++
	ls.pipe = p
	p.fifo = append(p.fifo, pipeEntry{s: s, gen: ls.pipeGen, sent: l.now, digest: s.rs.Digest()})
	p.used = l.now
	ls.phase = phasePipe
	if err := p.b.conn.WriteRequest(ls.q.p); err != nil {
		l.closePipe(p, "io")
		return
	}
	if p.b.conn.Pending() {
		p.out = false
	}
	l.scheduleScanBy(l.now.Add(pipeStall))
}

// pipeReady handles an event on pipeline id.
func (l *loop) pipeReady(id int32, gen int32, events uint32) {
	if int(id) >= len(l.pipes) || l.pipeGens[id] != gen || l.pipes[id] == nil {
		return
	}
	p := l.pipes[id]
	p.in = p.in || events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0
	p.out = p.out || events&(unix.EPOLLOUT|unix.EPOLLHUP|unix.EPOLLERR) != 0
	if p.out && p.b.conn.Pending() {
		switch err := p.b.conn.FlushPending(); {
		case err == mysqlwire.ErrWouldBlock:
			p.out = false
		case err != nil:
			l.closePipe(p, "io")
			return
		}
	}
	l.pipeAnswers(p)
}

// pipeAnswers hands out the answers whole in p's buffer, in order.
func (l *loop) pipeAnswers(p *pipe) {
	conn := p.b.conn
	cacheMetadata := conn.ExtCaps&mysqlwire.ExtCacheMetadata != 0
	for {
		if p.depth() == 0 {
			p.fifo, p.head = p.fifo[:0], 0
			if conn.Buffered() > 0 {
				l.closePipe(p, "protocol") // an answer nobody asked for
			}
			return
		}
		switch r, n := conn.ScanBufferedResult(conn.Caps, cacheMetadata); r {
		case mysqlwire.ScanComplete:
			l.pipeAnswer(p, n, cacheMetadata)
			if l.pipes[p.id] != p {
				return
			}
			continue
		case mysqlwire.ScanStream:
			l.avoid(p.fifo[p.head].digest)
			l.closePipe(p, "large")
			return
		}
		if conn.BufferFull() {
			l.avoid(p.fifo[p.head].digest)
			l.closePipe(p, "large")
			return
		}
		if !p.in {
			return
		}
		drained, err := conn.Fill()
		p.in = !drained
		if err == mysqlwire.ErrWouldBlock {
			return
		}
		if err != nil {
			l.closePipe(p, "io")
			return
		}
	}
}

// pipeAnswer relays the head read's answer, the first n buffered bytes,
// to its session, or drops it if the session no longer waits.
func (l *loop) pipeAnswer(p *pipe, n int, cacheMetadata bool) {
	e := p.fifo[p.head]
	p.fifo[p.head] = pipeEntry{}
	p.head++
	conn := p.b.conn
	s := e.s
	if !s.pipeWaits(e) {
		conn.DiscardBuffered(n)
		return
	}
	if sum := conn.BufferedSummary(n, conn.Caps, cacheMetadata); sum.Err != nil || sum.Warnings > 0 {
		// Where SHOW WARNINGS looks for them: on the session's own
		// connection (an error may also be the pipeline's own, its
		// connection killed).
		conn.DiscardBuffered(n)
		l.srv.m.pipeAgain.WithLabelValues("diagnostics").Inc()
		l.avoid(e.digest)
		l.giveBack(s, backRouted)
		return
	}
	ls := &s.ls
	q := &ls.q
	ls.respBy = time.Time{}
	s.gtid = s.gtid[:0]
	s.relay.Server, s.relay.ServerCaps, s.relay.ClientCaps = conn.Conn, conn.Caps, s.caps
	s.relay.CacheMetadata = cacheMetadata
	l.ran.Add(1)
	l.pipeRan.Add(1)
	sum, err := s.relay.RelayWhole(n)
	if err == nil && sum.HaveStatus {
		s.status = sum.Status
	}
	s.lastPiped = append(s.lastPiped[:0], q.p...)
	res, _, err := s.outcome(q, sum, err)
	ls.keep = s.observeRun(q, l.now, res, err)
	ls.q = inflight{}
	ls.phase = phaseFlush
	ls.cout = true
	l.drive(s)
}

// interruptPipe ends s's read in flight on a pipeline, if any, for KILL
// QUERY: s answers the interruption, and the pipeline's connection is
// killed on the server, which ends the read there at once (the other
// reads in flight on it run again on their sessions' connections).
func (l *loop) interruptPipe(s *session) {
	p := s.ls.pipe
	if s.ls.slot < 0 || s.ls.phase != phasePipe || p == nil || l.pipes[p.id] != p {
		return
	}
	l.giveBack(s, backInterrupted)
	addr, thread := p.b.conn.Addr, p.b.conn.Greeting.ConnID
	l.closePipe(p, "killed")
	go l.srv.killThread(addr, thread, "CONNECTION")
}

// pipeWaits reports whether s still waits for the answer of entry e.
func (s *session) pipeWaits(e pipeEntry) bool {
	return s.ls.slot >= 0 && s.ls.phase == phasePipe && s.ls.pipeGen == e.gen
}

// closePipe closes p; the sessions whose reads were in flight on it run
// them again on their own connections.
func (l *loop) closePipe(p *pipe, why string) {
	l.srv.m.pipeCloses.WithLabelValues(why).Inc()
	set := p.set
	set.pipes = slices.DeleteFunc(set.pipes, func(x *pipe) bool { return x == p })
	if len(set.pipes) == 0 && !set.opening {
		delete(l.pipeSets, set.key)
		set.dead = true
	}
	_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, p.b.fd, nil)
	l.pipes[p.id] = nil
	l.pipesOpen.Add(-1)
	l.pipeGens[p.id]++
	l.pipeFree = append(l.pipeFree, p.id)
	p.b.conn.SetNonblocking(false)
	l.srv.pool.Discard(p.b.conn)
	for _, e := range p.fifo[p.head:] {
		if e.s.pipeWaits(e) {
			l.srv.m.pipeAgain.WithLabelValues(why).Inc()
			l.giveBack(e.s, backRouted)
		}
	}
	p.fifo, p.head = nil, 0
}

// scanPipes closes pipelines whose oldest read stalled, and pipelines left unused.
func (l *loop) scanPipes() {
	for _, p := range l.pipes {
		switch {
		case p == nil:
		case p.depth() > 0 && l.now.Sub(p.fifo[p.head].sent) > pipeStall:
			l.avoid(p.fifo[p.head].digest)
			l.closePipe(p, "stall")
		case p.depth() == 0 && l.now.Sub(p.used) > pipeIdle:
			l.closePipe(p, "idle")
		case p.depth() > 0:
			l.scheduleScanBy(p.fifo[p.head].sent.Add(pipeStall))
		default:
			l.scheduleScanBy(p.used.Add(pipeIdle))
		}
	}
}

// closePipes closes every pipeline (the loop stops).
func (l *loop) closePipes() {
	for _, p := range l.pipes {
		if p != nil {
			l.closePipe(p, "stop")
		}
	}
}
