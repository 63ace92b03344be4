package sandbox

import (
	"os/exec"
	"runtime"
	"sync"
)

// spawner starts child processes from one OS thread that stays locked for
// the spawner's lifetime. Linux delivers the parent-death signal
// (KillWithParent) when the *thread* that forked the child exits, and Go
// ends a thread when a goroutine exits while locked to it (network
// namespace code does this on purpose); forking from a thread nobody else
// can run on keeps the signal for when the whole test binary dies.
type spawner struct {
	mu     sync.Mutex
	reqs   chan spawnReq // nil until the first start
	closed bool
}

type spawnReq struct {
	cmd  *exec.Cmd
	errc chan error
}

// start runs cmd.Start on the spawner's thread.
func (s *spawner) start(cmd *exec.Cmd) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return cmd.Start()
	}
	if s.reqs == nil {
		s.reqs = make(chan spawnReq)
		go loop(s.reqs)
	}
	r := spawnReq{cmd: cmd, errc: make(chan error, 1)}
	s.reqs <- r
	return <-r.errc
}

func loop(reqs <-chan spawnReq) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for r := range reqs {
		r.errc <- r.cmd.Start()
	}
}

// close ends the spawner's goroutine; call it only once its children are dead.
func (s *spawner) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reqs != nil && !s.closed {
		close(s.reqs)
	}
	s.closed = true
}
