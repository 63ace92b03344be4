package topology

import "sync"

// Publisher holds the newest snapshot and wakes waiters when it changes.
// It implements Source. Safe for concurrent use.
type Publisher struct {
	mu      sync.Mutex
	current *Snapshot
	changed chan struct{}
}

// NewPublisher returns a publisher holding initial.
func NewPublisher(initial *Snapshot) *Publisher {
	if initial == nil {
		initial = &Snapshot{}
	}
	return &Publisher{current: initial, changed: make(chan struct{})}
}

// Current implements Source.
func (p *Publisher) Current() (*Snapshot, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.current, p.changed
}

// Publish replaces the snapshot unless s is older than the current one
// (by Version) and wakes every waiter. It reports whether s was taken.
func (p *Publisher) Publish(s *Snapshot) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s.Version != 0 && s.Version < p.current.Version {
		return false
	}
	p.current = s
	close(p.changed)
	p.changed = make(chan struct{})
	return true
}
