// Package lane keeps counters that many threads add to, each thread (lane)
// in cache lines of its own: a counter shared by the proxy's event loops
// would move between their CPUs with every statement. Readers add the
// lanes up. Pure Go, no dependencies.
package lane

import "sync/atomic"

// Lanes is how many lanes a set keeps; lane numbers wrap around it.
const Lanes = 16

// line is the span kept apart between lanes: two cache lines, as CPUs
// fetch adjacent lines in pairs.
const line = 128

// Counters is a set of n uint64 counters kept per lane. Safe for
// concurrent use.
type Counters struct {
	words int // per lane, padded to whole lines
	v     []atomic.Uint64
}

// NewCounters returns a set of n counters, all zero.
func NewCounters(n int) *Counters {
	// Each lane's counters, then a span of padding: counters of two lanes
	// are at least a span apart however the slice is aligned. A span of
	// padding before the first lane too, away from whatever the allocator
	// put before the slice.
	words := ((n*8+line-1)/line + 1) * line / 8
	return &Counters{words: words, v: make([]atomic.Uint64, line/8+Lanes*words)}
}

// Add adds d to counter i on lane.
func (c *Counters) Add(lane uint32, i int, d uint64) {
	c.v[line/8+int(lane%Lanes)*c.words+i].Add(d)
}

// Sum returns counter i, all lanes added up.
func (c *Counters) Sum(i int) uint64 {
	var s uint64
	for l := range Lanes {
		s += c.v[line/8+l*c.words+i].Load()
	}
	return s
}
