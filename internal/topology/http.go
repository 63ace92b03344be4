package topology

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// MaxWait caps the long-poll wait a client may ask for.
const MaxWait = 60 * time.Second

// Handler serves a Source over HTTP for GET /api/v1/topology:
//
//	GET /api/v1/topology                       the current snapshot as JSON
//	GET /api/v1/topology?after=V&wait=30s      long poll: answers as soon as a
//	                                           snapshot with Version > V exists,
//	                                           or after wait with the current one
//
// The manager mounts it; Remote is its client.
func Handler(src Source) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		snap, changed := src.Current()
		if after, wait, ok := pollParams(r); ok {
			t := time.NewTimer(wait)
			defer t.Stop()
			for snap.Version <= after {
				select {
				case <-changed:
					snap, changed = src.Current()
					continue
				case <-t.C:
				case <-r.Context().Done():
					return
				}
				break
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(snap)
	})
}

func pollParams(r *http.Request) (after uint64, wait time.Duration, ok bool) {
	q := r.URL.Query()
	if q.Get("after") == "" {
		return 0, 0, false
	}
	after, err := strconv.ParseUint(q.Get("after"), 10, 64)
	if err != nil {
		return 0, 0, false
	}
	wait = 30 * time.Second
	if d, err := time.ParseDuration(q.Get("wait")); err == nil && d >= 0 {
		wait = d
	}
	return after, min(wait, MaxWait), true
}
