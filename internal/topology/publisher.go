package topology

import (
	"sync"
	"sync/atomic"
)

// Publisher holds the newest snapshot and wakes waiters when it changes.
// It implements Source. Safe for concurrent use; Current takes no lock, as
// the proxy calls it for every statement.
type Publisher struct {
	mu    sync.Mutex // serialises Publish
	state atomic.Pointer[published]
}

// published pairs a snapshot with the channel closed when it is replaced.
type published struct {
	snap    *Snapshot
	changed chan struct{}
}

// NewPublisher returns a publisher holding initial.
func NewPublisher(initial *Snapshot) *Publisher {
	if initial == nil {
		initial = &Snapshot{}
	}
	p := &Publisher{}
	p.state.Store(&published{snap: initial, changed: make(chan struct{})})
	return p
}

// Current implements Source.
func (p *Publisher) Current() (*Snapshot, <-chan struct{}) {
	st := p.state.Load()
	return st.snap, st.changed
}

// Publish replaces the snapshot unless s is older than the current one
// (by Version) and wakes every waiter. It reports whether s was taken.
func (p *Publisher) Publish(s *Snapshot) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.state.Load()
	if s.Version != 0 && s.Version < old.snap.Version {
		return false
	}
	p.state.Store(&published{snap: s, changed: make(chan struct{})})
	close(old.changed)
	return true
}
