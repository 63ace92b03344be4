// Package manager serves the manager role's HTTP JSON API and metrics on top
// of an Engine (the failover package's, wired in internal/cli):
//
//	GET  /api/v1/topology[?after=V&wait=D]   current snapshot; long poll (topology.Handler)
//	GET  /api/v1/status                      topology.Status
//	GET  /api/v1/events[?after=SEQ]          topology.Event list, oldest first
//	POST /api/v1/switchover[?to=NODE]        planned switchover -> topology.OpResult
//	POST /api/v1/failover?force=1[&to=NODE]  forced failover -> topology.OpResult
//	POST /api/v1/ack                         clear the anti-flap block
//	GET  /metrics                            Prometheus, from the registry passed in
//	GET  /health                             200 "ok"
//
// Errors are JSON {"error": "..."} with a 4xx/5xx status.
package manager

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"vigil/internal/topology"
)

// Engine is what the API needs from the failover engine.
type Engine interface {
	topology.Source
	Status() topology.Status
	// Followers records the proxies polling the topology (may be nil).
	Followers() *topology.Followers
	Events(after uint64) []topology.Event
	Switchover(ctx context.Context, to string) (topology.OpResult, error)
	Failover(ctx context.Context, to string) (topology.OpResult, error)
	Ack()
}

// Config configures the API server.
type Config struct {
	// Listen is host:port.
	Listen string
	// Busy is the engine's "operation running" error (answered with 409).
	Busy error
	// OpTimeout bounds a switchover or failover requested through the API.
	OpTimeout time.Duration
}

// Server is the HTTP API. Run serves until ctx ends, then shuts down.
type Server struct {
	cfg Config
	eng Engine
	log *slog.Logger
	reg *prometheus.Registry
	mux *http.ServeMux
}

// New returns the API server and registers its metrics in reg.
func New(cfg Config, eng Engine, reg *prometheus.Registry, log *slog.Logger) (*Server, error) {
	if _, _, err := net.SplitHostPort(cfg.Listen); err != nil {
		return nil, errors.New("manager api: listen address wants host:port")
	}
	if cfg.OpTimeout == 0 {
		cfg.OpTimeout = time.Minute
	}
	s := &Server{cfg: cfg, eng: eng, log: log, reg: reg, mux: http.NewServeMux()}
	if err := registerMetrics(reg, eng); err != nil {
		return nil, err
	}
	s.routes()
	return s, nil
}

// Handler returns the API handler (tests serve it with httptest).
func (s *Server) Handler() http.Handler { return s.mux }

func (s *Server) routes() {
	s.mux.Handle("GET /api/v1/topology", topology.Handler(s.eng, s.eng.Followers()))
	s.mux.HandleFunc("GET /api/v1/status", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, s.eng.Status()) })
	s.mux.HandleFunc("GET /api/v1/events", s.events)
	s.mux.HandleFunc("POST /api/v1/switchover", s.switchover)
	s.mux.HandleFunc("POST /api/v1/failover", s.failover)
	s.mux.HandleFunc("POST /api/v1/ack", func(w http.ResponseWriter, _ *http.Request) {
		s.eng.Ack()
		writeJSON(w, 200, map[string]string{"result": "acknowledged"})
	})
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	s.mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
}

func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
	writeJSON(w, 200, s.eng.Events(after))
}

func (s *Server) switchover(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.OpTimeout)
	defer cancel()
	res, err := s.eng.Switchover(ctx, r.URL.Query().Get("to"))
	s.answer(w, res, err)
}

func (s *Server) failover(w http.ResponseWriter, r *http.Request) {
	if f := r.URL.Query().Get("force"); f != "1" && f != "true" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "a manual failover needs force=1"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.OpTimeout)
	defer cancel()
	res, err := s.eng.Failover(ctx, r.URL.Query().Get("to"))
	s.answer(w, res, err)
}

func (s *Server) answer(w http.ResponseWriter, res topology.OpResult, err error) {
	switch {
	case err == nil:
		writeJSON(w, 200, res)
	case s.cfg.Busy != nil && errors.Is(err, s.cfg.Busy):
		writeJSON(w, http.StatusConflict, map[string]string{"error": err.Error()})
	default:
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error(), "result": res})
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// Run serves until ctx ends, then shuts down gracefully.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx ends.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s.mux, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.log.Info("manager API listening", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
