package e2e

import (
	"sync"
	"time"
)

// probeResult is one client connection through the VIP.
type probeResult struct {
	start  time.Time
	answer string // host that answered, "" on failure
}

// prober starts an independent probe every period (each with its own
// timeout, so one lost SYN does not delay the next) until stop.
type prober struct {
	mu      sync.Mutex
	results []probeResult
	stopc   chan struct{}
	wg      sync.WaitGroup
}

func (l *lab) startProber(period, timeout time.Duration) *prober {
	p := &prober{stopc: make(chan struct{})}
	p.wg.Go(func() {
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-p.stopc:
				return
			case <-t.C:
			}
			p.wg.Go(func() {
				start := time.Now()
				got, _ := l.probe(timeout)
				p.mu.Lock()
				p.results = append(p.results, probeResult{start: start, answer: got})
				p.mu.Unlock()
			})
		}
	})
	return p
}

// stop ends probing, waits for probes in flight and returns all results.
func (p *prober) stop() []probeResult {
	close(p.stopc)
	p.wg.Wait()
	return p.results
}

// firstAnswer returns the start of the earliest probe started at or after
// from that host h answered (zero if none).
func firstAnswer(rs []probeResult, from time.Time, h string) time.Time {
	var first time.Time
	for _, r := range rs {
		if r.answer == h && !r.start.Before(from) && (first.IsZero() || r.start.Before(first)) {
			first = r.start
		}
	}
	return first
}
