package topology

import (
	"sync"
	"time"
)

// Event is one thing the manager saw or did, for the log and the API
// (GET /api/v1/events). Took is the step's own duration, Since the time
// since the operation it belongs to started.
type Event struct {
	Seq     uint64            `json:"seq"`
	Time    time.Time         `json:"time"`
	Kind    string            `json:"kind"`
	Node    string            `json:"node,omitempty"`
	Message string            `json:"message"`
	Took    time.Duration     `json:"took_ns,omitempty"`
	Since   time.Duration     `json:"since_start_ns,omitempty"`
	Fields  map[string]string `json:"fields,omitempty"`
}

// Journal keeps the newest events in memory. Safe for concurrent use.
type Journal struct {
	mu     sync.Mutex
	max    int
	seq    uint64
	events []Event
}

// NewJournal returns a journal keeping at most max events (default 1000).
func NewJournal(max int) *Journal {
	if max <= 0 {
		max = 1000
	}
	return &Journal{max: max}
}

// Add stamps e with the next sequence number (and the time, if unset),
// stores it and returns it.
func (j *Journal) Add(e Event) Event {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.seq++
	e.Seq = j.seq
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	j.events = append(j.events, e)
	if len(j.events) > j.max {
		j.events = append([]Event(nil), j.events[len(j.events)-j.max:]...)
	}
	return e
}

// Since returns the stored events with Seq > after, oldest first.
func (j *Journal) Since(after uint64) []Event {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := []Event{}
	for _, e := range j.events {
		if e.Seq > after {
			out = append(out, e)
		}
	}
	return out
}
