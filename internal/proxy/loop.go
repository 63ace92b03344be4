package proxy

import (
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// loop is the event-loop data path (proxy.data_path: loop). Between
// commands a session hands itself to a loop and its goroutine waits. The
// loop watches the session's sockets in its own edge-triggered epoll set
// and runs the common case in place, without waking the goroutine: a
// COM_QUERY or COM_STMT_EXECUTE that routes to a backend connection the
// session already holds, checked and in sync, whose whole answer arrives
// within the connection's read buffer (mysqlwire.ScanResult). Everything
// else goes back to the goroutine at the step where it stands (loopBack),
// with what was already read: other commands, opening or checking a
// backend, causal waits, large results (streamed by the goroutine with
// backpressure), LOCAL INFILE, failures and timeouts.
//
// Each loop runs on a locked OS thread with a P of its own (GOMAXPROCS
// grows by one per loop) and waits in epoll_pwait with raw system calls;
// it blocks through the runtime only once idle or after readying a
// goroutine (see wait). The sockets of a session on a loop are out of
// Go's network poller (mysqlwire.Conn.Detach): the runtime's poller would
// otherwise wake for every packet as well. Waits made by the goroutine use
// poll(2).
//
// A statement on the loop runs the same code as on the goroutine
// (beginExec, endExec, observe, endCommand; the answer goes out through
// Relay.RelayWhole); reads never wait (the answer is complete in the buffer
// before it is relayed) and writes that would block are kept and sent when
// the socket is writable.
type loop struct {
	srv  *Server
	epfd int
	evfd int // eventfd: sessions handed over, closes, stop

	mu     sync.Mutex
	inbox  []*session // handed over by their goroutines, not yet watched
	ending []*session // closed from other goroutines while on the loop
	// interrupts: sessions whose pipelined read KILL QUERY interrupts.
	interrupts []*session
	stopped    bool

	slots  []*session // by token slot
	gens   []int32
	free   []int32
	events []unix.EpollEvent
	scanAt time.Time // next deadline scan
	// readied: the loop readied a goroutine (giveBack) since its last
	// wait; interrupted: its last raw wait ended with a signal (see wait).
	readied, interrupted bool
	// now is read once per wake-up and stands for the time of everything
	// done in it: statements' start and end (their latency is exact to a
	// round of the loop, a few µs), deadlines. One clock read per round
	// instead of two per statement.
	now     time.Time
	ran     atomic.Uint64 // statements run in place (metrics: loop_statements_total)
	pipeRan atomic.Uint64 // of which on pipelines (pipeline_statements_total)
	// pipesOpen counts its pipeline connections (vigil_proxy_pipelines).
	pipesOpen atomic.Int64

	// Pipelines (pipeline.go): maxPipes per state, the sets by key, the
	// pipelines by id with their generations and free ids, and pipelines
	// opened by goroutines (under mu) not yet watched.
	maxPipes  int
	pipeSets  map[string]*pipeSet
	pipeAvoid map[uint64]struct{} // digests whose reads keep off pipelines
	pipes     []*pipe
	pipeGens  []int32
	pipeFree  []int32
	opened    []pipeOpened
}

// The watched sockets of a session: token low bits.
const (
	sockClient = iota
	sockPrimary
	sockReplica
	sockPipe      // token = pipeline id*sockKinds + sockPipe (pipeline.go)
	sockKinds = 4 // token = slot*sockKinds + kind
)

// evToken marks the eventfd in the epoll set.
const evToken = -1

// deadlineScan is how often the loop checks idle and query timeouts.
const deadlineScan = 100 * time.Millisecond

func newLoop(srv *Server) (*loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	evfd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: evToken}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, evfd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(evfd)
		return nil, err
	}
	return &loop{srv: srv, epfd: epfd, evfd: evfd, events: make([]unix.EpollEvent, 256),
		maxPipes: srv.config().Pipelines, pipeSets: map[string]*pipeSet{}, pipeAvoid: map[uint64]struct{}{}}, nil
}

// serve hands s to the loop and waits until the loop gives it back; the
// result says where the session stands (see loopBack). Called by the
// session goroutine between commands.
func (l *loop) serve(s *session) loopBack {
	l.mu.Lock()
	if s.state.Load() == stateClosed {
		l.mu.Unlock()
		return backEnd // closed: a close asked of the loop may have been dropped
	}
	if l.stopped {
		l.mu.Unlock()
		return backIdle
	}
	s.ls.in = true
	l.inbox = append(l.inbox, s)
	first := len(l.inbox) == 1
	l.mu.Unlock()
	if first {
		l.signal()
	}
	<-s.ls.wake
	return s.ls.back
}

// end asks the loop to end s if it holds it; false if the caller must
// close s itself (its goroutine holds it).
func (l *loop) end(s *session) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !s.ls.in {
		return false
	}
	l.ending = append(l.ending, s)
	l.signal()
	return true
}

// interrupt asks the loop to interrupt s's read if it is in flight on a
// pipeline (KILL QUERY).
func (l *loop) interrupt(s *session) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s.ls.in {
		l.interrupts = append(l.interrupts, s)
		l.signal()
	}
}

// The Ps that running event loops hold (loopProcs, LoopProcs).
var (
	loopProcsMu   sync.Mutex
	loopProcsHeld int
)

// loopProcs changes GOMAXPROCS by delta: the Ps that event loops hold.
func loopProcs(delta int) {
	loopProcsMu.Lock()
	defer loopProcsMu.Unlock()
	loopProcsHeld += delta
	runtime.GOMAXPROCS(max(runtime.GOMAXPROCS(0)+delta, 1))
}

// LoopProcs returns how many Ps (GOMAXPROCS) the event loops of running
// servers hold; whoever sets GOMAXPROCS adds them to its own count.
func LoopProcs() int {
	loopProcsMu.Lock()
	defer loopProcsMu.Unlock()
	return loopProcsHeld
}

// close releases a loop that never ran.
func (l *loop) close() {
	unix.Close(l.epfd)
	unix.Close(l.evfd)
}

// stop ends the loop: sessions on it go back to their goroutines.
func (l *loop) stop() {
	l.mu.Lock()
	l.stopped = true
	l.mu.Unlock()
	l.signal()
}

func (l *loop) signal() {
	one := [8]byte{1}
	_, _ = unix.Write(l.evfd, one[:])
}

// run is the loop's goroutine.
func (l *loop) run() {
	runtime.LockOSThread() // the loop keeps its thread (see wait)
	defer l.close()
	for {
		n := l.wait()
		l.now = time.Now()
		for i := range n {
			ev := &l.events[i]
			if ev.Fd == evToken {
				if l.intake() {
					return
				}
				continue
			}
			slot, kind := ev.Fd/sockKinds, ev.Fd%sockKinds
			if kind == sockPipe {
				l.pipeReady(slot, ev.Pad, ev.Events)
				continue
			}
			if int(slot) >= len(l.slots) || l.gens[slot] != ev.Pad || l.slots[slot] == nil {
				continue // the session left the loop after this event was queued
			}
			s := l.slots[slot]
			s.ls.ready(kind, ev.Events)
			l.drive(s)
		}
		l.scanDeadlines()
	}
}

// wait returns the number of events ready, blocking up to the next
// deadline scan. It waits in a raw system call, keeping the loop's P and
// thread as a C event loop would. A wait through the runtime
// (entersyscall; sysmon then checks every 20 µs on the thread in a system
// call and retakes its P) cost the proxy about 3 µs of CPU per statement
// at 12,000 statements/s on 2 CPUs, and made the server's work dearer too
// (bench/README.md, "Event-loop waits"). It waits through the runtime,
// which can then hand the loop's P to goroutines queued on it while the
// loop sleeps, in two cases, and first polls without blocking: when the
// loop readied a goroutine since its last wait (giveBack queues it on the
// loop's P; left there by a raw wait it waited for the next preemption,
// 10 ms and more under load), and when the last raw wait ended with a
// signal, which is how the runtime preempts a loop that waited 10 ms: an
// idle loop then sleeps through the runtime and leaves its P, and the
// runtime can go quiet.
//
// The raw wait's own timeout is long (rawWaitMax; the deadline scan's may
// be shorter): a short one, 1 ms, armed and cancelled on every wait, cost
// as much as the wait through the runtime on this VM.
func (l *loop) wait() int {
	var n int
	var e syscall.Errno
	raw := !l.readied && !l.interrupted
	if !raw {
		n, e = l.poll(0, true) // under load, events are ready: no need of the runtime
	}
	if e == 0 && n == 0 {
		l.readied, l.interrupted = false, false
		timeout := l.timeout()
		if raw && (timeout < 0 || timeout > rawWaitMax) {
			timeout = rawWaitMax
		}
		n, e = l.poll(timeout, raw)
		l.interrupted = raw && e == syscall.EINTR
	}
	switch e {
	case 0:
		return n
	case syscall.EINTR:
		// A signal: maybe the runtime asking the loop to stop for a
		// garbage collection, which takes a preemptible call. The caller
		// waits again, with the timeout counted afresh.
		runtime.Gosched()
	default:
		l.srv.log.Error("event loop: epoll_pwait failed", "err", e)
		time.Sleep(10 * time.Millisecond)
	}
	return 0
}

// rawWaitMax (milliseconds) bounds a raw wait: the runtime preempts a
// loop in one with a signal (see wait), but not with async preemption
// off (GODEBUG=asyncpreemptoff=1), and a garbage collection's
// stop-the-world then waits for the loop's P until the wait ends.
const rawWaitMax = 1000

// timeout is the epoll timeout in milliseconds: until the next deadline
// scan, or -1 (none).
func (l *loop) timeout() int {
	if l.scanAt.IsZero() {
		return -1
	}
	return max(int(time.Until(l.scanAt)/time.Millisecond)+1, 0)
}

// poll is one epoll_pwait into l.events with a timeout in milliseconds,
// as a raw system call or through the runtime.
func (l *loop) poll(timeout int, raw bool) (int, syscall.Errno) {
	call := syscall.Syscall6
	if raw {
		call = syscall.RawSyscall6
	}
	r, _, e := call(syscall.SYS_EPOLL_PWAIT, uintptr(l.epfd),
		uintptr(unsafe.Pointer(&l.events[0])), uintptr(len(l.events)), uintptr(timeout), 0, 0)
	return int(r), e
}

// intake takes the sessions handed over and the ends asked for; true when
// the loop must stop (stopped and empty).
func (l *loop) intake() bool {
	var buf [8]byte
	_, _ = unix.Read(l.evfd, buf[:])
	l.mu.Lock()
	inbox, ending, stopped, opened, interrupts := l.inbox, l.ending, l.stopped, l.opened, l.interrupts
	l.inbox, l.ending, l.opened, l.interrupts = nil, nil, nil, nil
	l.mu.Unlock()
	for _, s := range interrupts {
		l.interruptPipe(s)
	}
	for _, o := range opened {
		l.addPipe(o)
	}
	for _, s := range inbox {
		l.watch(s)
	}
	for _, s := range ending {
		if s.ls.slot >= 0 {
			l.giveBack(s, backEnd)
		}
	}
	if stopped {
		for _, s := range l.slots {
			if s != nil {
				l.giveBack(s, s.ls.phase.back())
			}
		}
		l.closePipes()
		return true
	}
	return false
}

// watch adds s's sockets to the epoll set and serves what is already
// buffered.
func (l *loop) watch(s *session) {
	var slot int32
	if n := len(l.free); n > 0 {
		slot = l.free[n-1]
		l.free = l.free[:n-1]
	} else {
		slot = int32(len(l.slots))
		l.slots = append(l.slots, nil)
		l.gens = append(l.gens, 0)
	}
	l.slots[slot] = s
	ls := &s.ls
	ls.slot = slot
	ls.phase = phaseIdle
	ls.cin, ls.cout = true, false // unknown: try
	if err := l.add(s, sockClient, ls.cfd); err != nil {
		l.srv.log.Warn("event loop: cannot watch a client socket", "err", err)
		l.giveBack(s, backIdle)
		return
	}
	s.c.SetNonblocking(true)
	l.watchBackend(s, s.prim)
	l.watchBackend(s, s.repl)
	if t := l.srv.config().ClientIdleTimeout; t > 0 {
		ls.idleBy = l.now.Add(t)
		l.scheduleScan()
	}
	l.drive(s)
}

// watchBackend adds b (s's primary or replica connection) to the epoll
// set, if it can be watched.
func (l *loop) watchBackend(s *session, b *backend) {
	if b == nil || !b.detach() {
		return
	}
	kind := sockReplica
	if b == s.prim {
		kind = sockPrimary
	}
	if err := l.add(s, int32(kind), b.fd); err != nil {
		return
	}
	s.ls.bk[kind] = b
	s.ls.bin[kind], s.ls.bout[kind] = true, true
	b.conn.SetNonblocking(true)
}

func (l *loop) add(s *session, kind int32, fd int) error {
	ev := unix.EpollEvent{
		Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET,
		Fd:     s.ls.slot*sockKinds + kind, Pad: l.gens[s.ls.slot],
	}
	return unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev)
}

// unwatch removes backend b from the epoll set (before it is closed or
// pooled) and returns it to blocking mode.
func (l *loop) unwatch(s *session, b *backend) {
	for k := sockPrimary; k <= sockReplica; k++ {
		if s.ls.bk[k] == b && b != nil {
			_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, b.fd, nil)
			b.conn.SetNonblocking(false)
			s.ls.bk[k] = nil
		}
	}
}

// giveBack takes s off the loop and wakes its goroutine with back.
func (l *loop) giveBack(s *session, back loopBack) {
	ls := &s.ls
	if back == backEnd && (ls.phase == phaseSending || ls.phase == phaseWaiting) {
		// The statement's answer will never be read: the connection
		// cannot be pooled.
		s.cur, s.routed, s.deadline = nil, false, false
		s.forget(ls.q.b, true)
	}
	_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, ls.cfd, nil)
	s.c.SetNonblocking(false)
	l.unwatch(s, ls.bk[sockPrimary])
	l.unwatch(s, ls.bk[sockReplica])
	l.slots[ls.slot] = nil
	l.gens[ls.slot]++
	l.free = append(l.free, ls.slot)
	ls.slot = -1
	ls.idleBy, ls.respBy = time.Time{}, time.Time{}
	ls.back = back
	l.srv.m.loopBacks[back].Inc()
	l.mu.Lock()
	ls.in = false
	l.mu.Unlock()
	ls.wake <- struct{}{}
	l.readied = true
}

// scheduleScan makes sure a deadline scan is due within deadlineScan.
func (l *loop) scheduleScan() { l.scheduleScanBy(l.now.Add(deadlineScan)) }

// scheduleScanBy makes sure a deadline scan is due by t. A wait's timeout
// far away costs nothing; one of a few milliseconds, armed at every wait,
// costs about as much as the wait (see wait): pipelines ask for scans a
// second or more ahead.
func (l *loop) scheduleScanBy(t time.Time) {
	if l.scanAt.IsZero() || t.Before(l.scanAt) {
		l.scanAt = t
	}
}

// scanDeadlines gives back sessions whose idle or query timeout passed:
// their goroutines end them or fail the statement as on the goroutine path.
func (l *loop) scanDeadlines() {
	if l.scanAt.IsZero() {
		return
	}
	now := l.now
	if now.Before(l.scanAt) {
		return
	}
	l.scanAt = time.Time{}
	l.scanPipes()
	for _, s := range l.slots {
		if s == nil {
			continue
		}
		ls := &s.ls
		switch {
		case ls.phase == phaseIdle && !ls.idleBy.IsZero() && now.After(ls.idleBy):
			l.giveBack(s, backEnd)
		case (ls.phase == phaseSending || ls.phase == phaseWaiting) && !ls.respBy.IsZero() && now.After(ls.respBy):
			l.giveBack(s, backRelay)
		case !ls.idleBy.IsZero() || !ls.respBy.IsZero():
			l.scheduleScan()
		}
	}
}
