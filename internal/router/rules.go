package router

import (
	"sync"
)

// matchRules runs the query rules in order. It returns the route of the
// first matching route rule (RouteAuto if none) with its name, or a reject
// decision. Log rules log and go on.
func (s *Session) matchRules(cfg *Config, sql, norm []byte) (Route, string, *Decision) {
	for i := range cfg.Rules {
		r := &cfg.Rules[i]
		if !s.ruleMatches(r, sql, norm) {
			continue
		}
		switch r.Action {
		case ActionLog:
			s.r.log.Info("query rule matched", "rule", r.Name, "user", s.user,
				"schema", s.schema, "digest", string(norm))
		case ActionReject:
			return RouteAuto, r.Name, &Decision{Target: TargetReject, Reason: ReasonRule,
				Rule: r.Name, Message: r.Message}
		case ActionRoute:
			return r.Route, r.Name, nil
		}
	}
	return RouteAuto, "", nil
}

func (s *Session) ruleMatches(r *Rule, sql, norm []byte) bool {
	if r.User != "" && r.User != s.user {
		return false
	}
	if r.Schema != "" && r.Schema != s.schema {
		return false
	}
	if r.Digest != nil && !r.Digest.Match(norm) {
		return false
	}
	if r.Match != nil && !r.Match.Match(sql) {
		return false
	}
	return true
}

// globalGTID is the highest GTID position written through this proxy (the
// global causal mode's "need"). Safe for concurrent use.
type globalGTID struct {
	mu   sync.Mutex
	pos  Position
	text string
}

func (g *globalGTID) add(p Position) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.pos = g.pos.Merge(p)
	g.text = g.pos.String()
}

func (g *globalGTID) get() (Position, string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.pos, g.text
}
