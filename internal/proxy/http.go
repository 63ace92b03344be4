package proxy

import (
	"encoding/json"
	"net/http"
)

// Health is the body of GET /health.
type Health struct {
	// OK is true when the proxy accepts sessions and knows a primary.
	OK       bool   `json:"ok"`
	Primary  string `json:"primary"`
	Epoch    uint64 `json:"epoch"`
	Sessions int    `json:"sessions"`
	Draining bool   `json:"draining"`
}

// HealthHandler serves GET /health: 200 with a JSON Health when the proxy
// is serving and the topology names a primary, 503 otherwise (draining, or
// no primary known: the VIP speaker lowers its priority on 503).
func (s *Server) HealthHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		snap, _ := s.src.Current()
		h := Health{Primary: snap.Primary, Epoch: snap.Epoch, Sessions: s.Sessions(), Draining: s.isDraining()}
		h.OK = !h.Draining && h.Primary != ""
		w.Header().Set("Content-Type", "application/json")
		if !h.OK {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(h)
	})
}
