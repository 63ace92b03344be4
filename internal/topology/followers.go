package topology

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"
)

// Follower liveness and memory bounds.
const (
	// FollowerLive is how long a follower whose poll ended still counts as
	// live: a Remote between two polls, or one reconnecting.
	FollowerLive = 3 * time.Second
	// FollowerForget is how long a follower not seen is kept for the status.
	FollowerForget = 10 * time.Minute
	// maxFollowers bounds the registry; ids beyond it are not tracked.
	maxFollowers = 1024
)

// FollowerStatus is one follower as the manager's status shows it.
type FollowerStatus struct {
	ID string `json:"id"`
	// Acked is the newest snapshot Version the follower acknowledged (it
	// polled with after=Acked, so it had published that snapshot).
	Acked uint64 `json:"acked_version"`
	// Polling is true while a long poll of it is open.
	Polling  bool      `json:"polling"`
	LastSeen time.Time `json:"last_seen"`
}

type follower struct {
	acked    uint64
	open     int
	lastSeen time.Time
}

// Followers records the proxies (Remotes) that long-poll a Handler: per
// follower id, the version it acknowledged, whether a poll is open and when
// it was last seen. The manager waits on it (WaitAcked) before it acts on a
// snapshot it published. Safe for concurrent use; the zero value is not
// usable, call NewFollowers.
type Followers struct {
	now func() time.Time // the clock; tests replace it

	mu      sync.Mutex
	m       map[string]*follower
	changed chan struct{} // closed and replaced on every acknowledgement or poll end
	pruned  time.Time
}

// NewFollowers returns an empty registry.
func NewFollowers() *Followers {
	return &Followers{now: time.Now, m: map[string]*follower{}, changed: make(chan struct{})}
}

// begin records that follower id opened a request; poll is true for a long
// poll with after=acked, which acknowledges acked. It returns false when id
// is not tracked (the registry is full).
func (f *Followers) begin(id string, acked uint64, poll bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	f.prune(now)
	fl, ok := f.m[id]
	if !ok {
		if len(f.m) >= maxFollowers {
			return false
		}
		fl = &follower{}
		f.m[id] = fl
	}
	fl.lastSeen = now
	if poll {
		fl.acked = acked
		fl.open++
	}
	f.wake()
	return true
}

// end records that a long poll begun with begin(id, _, true) ended.
func (f *Followers) end(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fl, ok := f.m[id]; ok {
		fl.open = max(fl.open-1, 0)
		fl.lastSeen = f.now()
	}
	f.wake()
}

// wake tells WaitAcked callers that something changed; f.mu is held.
func (f *Followers) wake() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// prune forgets followers not seen for FollowerForget, at most once a
// minute; f.mu is held.
func (f *Followers) prune(now time.Time) {
	if now.Sub(f.pruned) < time.Minute && len(f.m) < maxFollowers {
		return
	}
	f.pruned = now
	for id, fl := range f.m {
		if fl.open == 0 && now.Sub(fl.lastSeen) > FollowerForget {
			delete(f.m, id)
		}
	}
}

// live reports whether fl counts: a poll is open, or one ended within
// FollowerLive.
func (fl *follower) live(now time.Time) bool {
	return fl.open > 0 || now.Sub(fl.lastSeen) <= FollowerLive
}

// pending returns the sorted ids of live followers that have not
// acknowledged version, and the channel closed on the next change.
func (f *Followers) pending(version uint64) ([]string, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	var out []string
	for id, fl := range f.m {
		if fl.acked < version && fl.live(now) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out, f.changed
}

// WaitAcked returns nil as soon as every live follower acknowledged a
// version >= version, or after timeout (or when ctx ends) the sorted ids of
// those that did not. A follower whose poll ended more than FollowerLive ago
// is not waited for (liveness is checked again on every change, so a wait
// far longer than FollowerLive may wait for one that went away meanwhile).
// Callable from any goroutine.
func (f *Followers) WaitAcked(ctx context.Context, version uint64, timeout time.Duration) []string {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		missing, changed := f.pending(version)
		if len(missing) == 0 {
			return nil
		}
		select {
		case <-changed:
		case <-t.C:
			return missing
		case <-ctx.Done():
			return missing
		}
	}
}

// Len returns how many followers are live now.
func (f *Followers) Len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	n := 0
	for _, fl := range f.m {
		if fl.live(now) {
			n++
		}
	}
	return n
}

// List returns every remembered follower, sorted by id.
func (f *Followers) List() []FollowerStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]FollowerStatus, 0, len(f.m))
	for id, fl := range f.m {
		out = append(out, FollowerStatus{ID: id, Acked: fl.acked, Polling: fl.open > 0, LastSeen: fl.lastSeen})
	}
	slices.SortFunc(out, func(a, b FollowerStatus) int { return strings.Compare(a.ID, b.ID) })
	return out
}
