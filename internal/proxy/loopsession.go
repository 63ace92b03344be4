package proxy

import (
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
	// backRefused: the primary refused s.ls.q as read-only (the refusal
	// consumed, nothing sent to the client); run it on a writable primary.
	backRefused
	// backFlush: the answer to s.ls.q is partly sent; send the rest and
	// end the command with verdict s.ls.keep.
	backFlush
	// backInterrupted: KILL QUERY interrupted the read s.ls.q in flight on
	// a pipeline (pipeline.go); answer the interruption.
	backInterrupted
	// backEnd: the session is over (closed, idle timeout, client gone).
	backEnd
)

func (b loopBack) String() string {
	return [...]string{"idle", "command", "routed", "exec_routed", "relay", "primary", "refused", "flush", "interrupted", "end"}[b]
}

// loopPhase is what the loop waits for on a session.
type loopPhase int

const (
	phaseIdle    loopPhase = iota // the next command
	phaseSending                  // the backend to take the rest of a request
	phaseWaiting                  // the backend's answer
	phaseFlush                    // the client to take the rest of an answer
	phasePipe                     // a pipeline's answer (pipeline.go)
)

// back is where a session in phase p stands when the loop stops.
func (p loopPhase) back() loopBack {
	switch p {
	case phaseSending, phaseWaiting:
		return backRelay
	case phaseFlush:
		return backFlush
	case phasePipe:
		return backRouted // nothing reached the client: run it again
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

	pipeGen   uint32 // counts reads sent on pipelines (pipeEntry.gen)
	pipe      *pipe  // the pipeline of the last read sent on one
	pipeCache pipeCache
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

// observeRun observes statement q, ended at end, as runQuery or
// runExecute would.
func (s *session) observeRun(q *inflight, end time.Time, res router.Result, err error) bool {
	if q.st != nil {
		return s.observe(q.start, end, res, err)
	}
	return s.observeQuery(q.p, q.d, q.start, end, res, err)
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
		return s.endCommand(s.observeRun(&q, time.Now(), res, err))
	case backRefused:
		s.refused(q.b)
		if q.st != nil {
			return s.endCommand(s.runExecute(q.st, q.p, q.d, q.start))
		}
		res, err := s.runOnPrimary(q.p)
		return s.endCommand(s.observeQuery(q.p, q.d, q.start, time.Now(), res, err))
	case backPrimary:
		res, err := s.runOnPrimary(q.p)
		return s.endCommand(s.observeQuery(q.p, q.d, q.start, time.Now(), res, err))
	case backFlush:
		return s.c.FlushPending() == nil && s.endCommand(s.ls.keep)
	case backInterrupted:
		err := mysqlwire.Errorf(mysqlwire.ErQueryInterrupted, "70100", "Query execution was interrupted")
		res := router.Result{Target: q.d.Target, Backend: q.b.node, Err: true, ErrCode: err.Number}
		return s.endCommand(s.observeRun(&q, time.Now(), res, err))
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
