package router

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Route is a user's or rule's routing choice.
type Route uint8

// Routes.
const (
	RouteAuto    Route = iota // read/write split (default)
	RoutePrimary              // everything to the primary
	RouteReplica              // reads to replicas, without read-your-writes gating
)

// ParseRoute parses "auto", "primary" or "replica" ("" is auto).
func ParseRoute(s string) (Route, error) {
	switch s {
	case "", "auto":
		return RouteAuto, nil
	case "primary":
		return RoutePrimary, nil
	case "replica":
		return RouteReplica, nil
	}
	return 0, fmt.Errorf("route %q: want auto, primary or replica", s)
}

// CausalMode selects read-your-writes behaviour.
type CausalMode uint8

// Causal read modes.
const (
	// CausalLocal: a session's reads see that session's own writes (default).
	CausalLocal CausalMode = iota
	// CausalGlobal: reads see every write made through this proxy before
	// they started, by any session.
	CausalGlobal
	// CausalOff: reads go to any replica within the lag limit.
	CausalOff
)

// Action is what a matching query rule does.
type Action uint8

// Rule actions.
const (
	ActionRoute  Action = iota + 1 // send to Rule.Route
	ActionReject                   // answer with an error carrying Rule.Message
	ActionLog                      // log the statement and go on with the next rule
)

// Rule is one query rule. All set matchers must match. Rules are tried in
// order; the first route or reject rule that matches decides.
type Rule struct {
	Name   string
	User   string         // exact user name; empty matches any
	Schema string         // exact current schema; empty matches any
	Digest *regexp.Regexp // on the normalised digest text; nil matches any
	Match  *regexp.Regexp // on the raw statement text; nil matches any
	Action Action
	Route  Route // for ActionRoute: RoutePrimary or RouteReplica
	// Message is the error text for ActionReject.
	Message string
}

// Config is the routing policy. Reload swaps it at run time.
type Config struct {
	// Flavor is "mariadb" (default) or "mysql": GTID syntax and wait function.
	Flavor string
	// MaxReplicaLag is the largest lag of a replica that serves reads.
	MaxReplicaLag time.Duration
	// FallbackFail makes reads fail when no replica fits, instead of going
	// to the primary.
	FallbackFail bool
	// Causal is the read-your-writes mode.
	Causal CausalMode
	// CausalWait > 0: when no replica has the session's last write, wait up
	// to this long on one (MASTER_GTID_WAIT) before reading from the
	// primary. 0: read from the primary at once.
	CausalWait time.Duration
	// UnknownGTIDWindow: while no OK packet has carried a GTID yet (the
	// servers do not report them), a session reads from the primary for
	// this long after a write.
	UnknownGTIDWindow time.Duration
	// Users maps user names to default routes; missing users are RouteAuto.
	Users map[string]Route
	// Rules are the ordered query rules.
	Rules []Rule
}

// Validate checks the policy.
func (c *Config) Validate() error {
	if c.Flavor != "" && c.Flavor != "mariadb" && c.Flavor != "mysql" {
		return fmt.Errorf("flavor %q: want mariadb or mysql", c.Flavor)
	}
	if c.MaxReplicaLag < 0 || c.CausalWait < 0 || c.UnknownGTIDWindow < 0 {
		return errors.New("durations must not be negative")
	}
	for i, r := range c.Rules {
		switch r.Action {
		case ActionRoute:
			if r.Route != RoutePrimary && r.Route != RouteReplica {
				return fmt.Errorf("rule %d (%s): route action needs primary or replica", i, r.Name)
			}
		case ActionReject, ActionLog:
		default:
			return fmt.Errorf("rule %d (%s): unknown action", i, r.Name)
		}
	}
	return nil
}

// Router is the proxy-wide routing state. Safe for concurrent use.
type Router struct {
	cfg     atomic.Pointer[Config]
	log     *slog.Logger
	bal     *balancer
	stats   *Stats
	global  globalGTID
	metrics *metrics
	// gtidSeen: some write's OK packet carried a GTID, so the servers
	// track them and a write without one (temporary table, no-op) wrote
	// nothing that replicates.
	gtidSeen atomic.Bool
	// funcs are the stored functions a read must not call on a replica
	// (SetStoredFunctions); nil: none known.
	funcs atomic.Pointer[storedFuncs]
}

// New builds a router. reg may be nil (no metrics); log may be nil.
func New(cfg Config, reg prometheus.Registerer, log *slog.Logger) (*Router, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("routing config: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Router{log: log, bal: newBalancer(), stats: NewStats(0)}
	c := cfg
	r.cfg.Store(&c)
	m, err := newMetrics(reg, r.stats)
	if err != nil {
		return nil, err
	}
	r.metrics = m
	return r, nil
}

// Reload validates cfg and makes it the policy for every statement routed
// from now on (sessions keep their state). The proxy calls it on SIGHUP.
func (r *Router) Reload(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("routing config: %w", err)
	}
	c := cfg
	r.cfg.Store(&c)
	r.log.Info("routing policy reloaded", "rules", len(cfg.Rules), "users", len(cfg.Users))
	return nil
}

// Config returns the current policy (do not modify it).
func (r *Router) Config() *Config { return r.cfg.Load() }

// Stats returns the digest statistics table (mount Stats.Handler on the
// proxy's HTTP listener at /api/v1/digests).
func (r *Router) Stats() *Stats { return r.stats }

// NewSession starts the routing state of one client connection.
func (r *Router) NewSession(user, schema string) *Session {
	return &Session{r: r, user: user, schema: schema, autocommit: true}
}
