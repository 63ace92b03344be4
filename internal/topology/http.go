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
//	...&follower=ID                            names the poller (Remote sends it)
//
// When followers is not nil, a request naming a follower is recorded there:
// a long poll with after=V acknowledges V (a Remote polls with after=V only
// once it has published V), and its poll counts as open until it returns.
// Requests without a follower id (curl, older proxies) are not tracked.
// The manager mounts it; Remote is its client.
func Handler(src Source, followers *Followers) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		after, wait, poll := pollParams(r)
		if id := followerID(r); id != "" && followers != nil {
			if followers.begin(id, after, poll) && poll {
				defer followers.end(id)
			}
		}
		snap, changed := src.Current()
		if poll {
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

// maxFollowerID bounds the follower ids the registry keeps.
const maxFollowerID = 128

func followerID(r *http.Request) string {
	id := r.URL.Query().Get("follower")
	if len(id) > maxFollowerID {
		id = id[:maxFollowerID]
	}
	return id
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
