package router

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// DefaultMaxDigests bounds the statistics table; new digests beyond it are
// counted in the "other" row.
const DefaultMaxDigests = 10000

const statShards = 16

// Stats is the per-digest statistics table. Safe for concurrent use.
//
// A digest's row lives in the shard its key and the recording session's
// Lane choose: sessions on different lanes (the proxy's event loops) keep
// the same digest in different shards, so that they share no lock and no
// cache line per statement. Readers merge the rows of a digest.
type Stats struct {
	max    int
	shards [statShards]statShard
}

type statShard struct {
	mu sync.Mutex
	m  map[uint64]*DigestStat
	_  [128 - 16]byte // a shard per cache line pair: no false sharing between lanes
}

// DigestStat is the statistics of one normalised statement.
type DigestStat struct {
	Digest    string        `json:"digest"` // 16 hex digits
	Text      string        `json:"text"`
	Count     uint64        `json:"count"`
	Errors    uint64        `json:"errors"`
	Rows      uint64        `json:"rows"`
	Total     time.Duration `json:"total_ns"`
	Min       time.Duration `json:"min_ns"`
	Max       time.Duration `json:"max_ns"`
	Primary   uint64        `json:"primary"`    // statements run on the primary
	Replica   uint64        `json:"replica"`    // statements run on a replica
	Rejected  uint64        `json:"rejected"`   // statements rejected
	FirstSeen time.Time     `json:"first_seen"` // end of the first execution
	LastSeen  time.Time     `json:"last_seen"`  // end of the last execution
}

// NewStats returns an empty table holding at most max digests (0: the default).
func NewStats(max int) *Stats {
	if max <= 0 {
		max = DefaultMaxDigests
	}
	s := &Stats{max: max}
	for i := range s.shards {
		s.shards[i].m = map[uint64]*DigestStat{}
	}
	return s
}

// otherDigest is the key of the overflow row.
const otherDigest = 0

// recordAt adds one execution, recorded on lane, that ended at now. text is
// copied only the first time a digest is seen in its shard.
func (s *Stats) recordAt(key uint64, lane uint32, text []byte, res Result, now time.Time) {
	sh := &s.shards[(key+uint64(lane))%statShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	d, ok := sh.m[key]
	if !ok {
		if len(sh.m) >= s.max/statShards+1 {
			key, text = otherDigest, []byte("(other digests)")
			if d, ok = sh.m[key]; ok {
				goto found
			}
		}
		d = &DigestStat{Digest: hex16(key), Text: string(text), Min: res.Duration, FirstSeen: now}
		sh.m[key] = d
	}
found:
	d.Count++
	d.Rows += res.Rows
	d.Total += res.Duration
	d.Min = min(d.Min, res.Duration)
	d.Max = max(d.Max, res.Duration)
	d.LastSeen = now
	if res.Err {
		d.Errors++
	}
	switch res.Target {
	case TargetPrimary:
		d.Primary++
	case TargetReplica:
		d.Replica++
	case TargetReject:
		d.Rejected++
	}
}

func hex16(k uint64) string {
	s := strconv.FormatUint(k, 16)
	for len(s) < 16 {
		s = "0" + s
	}
	return s
}

// Top returns copies of the n digests with the highest total time (n <= 0: all).
func (s *Stats) Top(n int) []DigestStat {
	merged := s.merged()
	out := make([]DigestStat, 0, len(merged))
	for _, d := range merged {
		out = append(out, *d)
	}
	slices.SortFunc(out, func(a, b DigestStat) int {
		switch {
		case a.Total != b.Total:
			if a.Total > b.Total {
				return -1
			}
			return 1
		case a.Count != b.Count:
			if a.Count > b.Count {
				return -1
			}
			return 1
		}
		return 0
	})
	if n > 0 && len(out) > n {
		out = out[:n]
	}
	return out
}

// Reset empties the table.
func (s *Stats) Reset() {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		sh.m = map[uint64]*DigestStat{}
		sh.mu.Unlock()
	}
}

// DigestsResponse is the JSON body of GET /api/v1/digests.
type DigestsResponse struct {
	Digests []DigestStat `json:"digests"`
}

// Handler serves the table as JSON, sorted by total time, busiest first.
// Query parameter limit=N (default 100, 0 = all); method DELETE resets it.
// The proxy mounts it at /api/v1/digests.
func (s *Stats) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead:
		case http.MethodDelete:
			s.Reset()
			w.WriteHeader(http.StatusNoContent)
			return
		default:
			w.Header().Set("Allow", "GET, HEAD, DELETE")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		limit := 100
		if v := r.URL.Query().Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				http.Error(w, "limit: want a non-negative integer", http.StatusBadRequest)
				return
			}
			limit = n
		}
		resp := DigestsResponse{Digests: s.Top(limit)}
		if resp.Digests == nil {
			resp.Digests = []DigestStat{}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(resp)
	})
}

// Len returns the number of digests in the table (a digest recorded on
// several lanes counts once). It copies no row: the digests gauge calls it
// on every scrape.
func (s *Stats) Len() int {
	keys := map[uint64]struct{}{}
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for key := range sh.m {
			keys[key] = struct{}{}
		}
		sh.mu.Unlock()
	}
	return len(keys)
}

// merged returns a copy of every digest's row, the rows of its lanes added
// up, by key.
func (s *Stats) merged() map[uint64]*DigestStat {
	out := map[uint64]*DigestStat{}
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for key, d := range sh.m {
			if m, ok := out[key]; ok {
				m.add(d)
			} else {
				c := *d
				out[key] = &c
			}
		}
		sh.mu.Unlock()
	}
	return out
}

// add adds o, the same digest's row from another lane, to d.
func (d *DigestStat) add(o *DigestStat) {
	d.Count += o.Count
	d.Errors += o.Errors
	d.Rows += o.Rows
	d.Total += o.Total
	d.Min = min(d.Min, o.Min)
	d.Max = max(d.Max, o.Max)
	d.Primary += o.Primary
	d.Replica += o.Replica
	d.Rejected += o.Rejected
	if o.FirstSeen.Before(d.FirstSeen) {
		d.FirstSeen = o.FirstSeen
	}
	if o.LastSeen.After(d.LastSeen) {
		d.LastSeen = o.LastSeen
	}
}
