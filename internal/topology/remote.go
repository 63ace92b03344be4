package topology

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// Remote is a Source that follows a manager's GET /api/v1/topology by long
// polling. While the manager is unreachable it keeps the last snapshot (the
// proxy still checks read_only itself before writing) and retries with a
// short backoff. Every request names the Remote by a per-process follower
// id so that the manager knows which snapshot it has taken. Run owns
// the polling; Current and Contact are safe from any goroutine.
type Remote struct {
	base   string
	id     string
	log    *slog.Logger
	client *http.Client
	wait   time.Duration
	pub    *Publisher

	mu          sync.Mutex
	lastContact time.Time
	lastErr     error
}

// NewRemote returns a source following the manager whose API root is
// managerURL (e.g. http://10.0.0.20:6035); call Run.
func NewRemote(managerURL string, log *slog.Logger) (*Remote, error) {
	u, err := url.Parse(managerURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("manager url %q: want http://host:port", managerURL)
	}
	const wait = 20 * time.Second
	return &Remote{
		base:   strings.TrimRight(managerURL, "/"),
		id:     followerName(),
		log:    log,
		client: &http.Client{Timeout: wait + 5*time.Second},
		wait:   wait,
		pub:    NewPublisher(&Snapshot{}),
	}, nil
}

// followerName returns <hostname>-<pid>-<4 random hex digits>: readable in
// the manager's status, and unique per process.
func followerName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "proxy"
	}
	return fmt.Sprintf("%s-%d-%04x", host, os.Getpid(), rand.Uint32N(1<<16))
}

// Current implements Source. Before the first contact it returns an empty
// snapshot (Version 0, no primary).
func (r *Remote) Current() (*Snapshot, <-chan struct{}) { return r.pub.Current() }

// Contact returns when the manager last answered and the last error since.
func (r *Remote) Contact() (time.Time, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastContact, r.lastErr
}

// Run polls until ctx ends; it returns nil on cancellation.
func (r *Remote) Run(ctx context.Context) error {
	var seen uint64 // the manager's version we last received
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		snap, err := r.fetch(ctx, seen)
		r.mu.Lock()
		r.lastErr = err
		if err == nil {
			r.lastContact = time.Now()
		}
		r.mu.Unlock()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			r.log.Warn("manager unreachable; keeping last topology", "url", r.base, "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 2*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		r.take(snap, seen)
		seen = snap.Version
	}
	return nil
}

// take publishes snap if it is newer than the current one. A manager that
// restarted may number versions lower; its epoch decides then.
func (r *Remote) take(snap *Snapshot, seen uint64) {
	cur, _ := r.pub.Current()
	if snap.Version == seen && snap.Epoch == cur.Epoch {
		return
	}
	if snap.Epoch < cur.Epoch {
		r.log.Warn("manager sent an older epoch; ignoring it", "have", cur.Epoch, "got", snap.Epoch)
		return
	}
	out := *snap
	if out.Version <= cur.Version {
		out.Version = cur.Version + 1
	}
	r.pub.Publish(&out)
}

func (r *Remote) fetch(ctx context.Context, after uint64) (*Snapshot, error) {
	u := r.base + "/api/v1/topology?follower=" + url.QueryEscape(r.id)
	if after > 0 {
		u += fmt.Sprintf("&after=%d&wait=%s", after, r.wait)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get topology: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("get topology: HTTP %s", resp.Status)
	}
	var snap Snapshot
	if err := json.NewDecoder(resp.Body).Decode(&snap); err != nil {
		return nil, fmt.Errorf("decode topology: %w", err)
	}
	return &snap, nil
}
