package router

import (
	"fmt"
	"regexp"

	"vigil/internal/config"
)

// FromConfig builds the routing policy from a loaded configuration file
// (cluster flavor, users' default routes and the routing section). The
// proxy calls it at start and on SIGHUP, then New or Reload.
func FromConfig(c *config.Config) (Config, error) {
	r := c.Routing
	out := Config{
		Flavor:            c.Cluster.Flavor,
		MaxReplicaLag:     r.MaxReplicaLag,
		FallbackFail:      r.Fallback == "fail",
		CausalWait:        r.CausalWait,
		UnknownGTIDWindow: r.UnknownGTIDWindow,
		Users:             map[string]Route{},
	}
	switch r.CausalReads {
	case "global":
		out.Causal = CausalGlobal
	case "fast":
		out.CausalWait = 0
	case "fast_global":
		out.Causal, out.CausalWait = CausalGlobal, 0
	case "off":
		out.Causal = CausalOff
	}
	for _, u := range c.Users {
		route, err := ParseRoute(u.DefaultRoute)
		if err != nil {
			return Config{}, fmt.Errorf("user %s: %w", u.Name, err)
		}
		out.Users[u.Name] = route
	}
	for i, q := range r.Rules {
		rule, err := compileRule(q)
		if err != nil {
			return Config{}, fmt.Errorf("routing rule %d (%s): %w", i, q.Name, err)
		}
		out.Rules = append(out.Rules, rule)
	}
	return out, out.Validate()
}

func compileRule(q config.QueryRule) (Rule, error) {
	rule := Rule{Name: q.Name, User: q.User, Schema: q.Schema, Message: q.Message}
	var err error
	if q.Digest != "" {
		if rule.Digest, err = regexp.Compile(q.Digest); err != nil {
			return Rule{}, fmt.Errorf("digest: %w", err)
		}
	}
	if q.Match != "" {
		if rule.Match, err = regexp.Compile(q.Match); err != nil {
			return Rule{}, fmt.Errorf("match: %w", err)
		}
	}
	switch q.Action {
	case "route":
		rule.Action = ActionRoute
		if rule.Route, err = ParseRoute(q.Route); err != nil {
			return Rule{}, err
		}
	case "reject":
		rule.Action = ActionReject
	case "log":
		rule.Action = ActionLog
	default:
		return Rule{}, fmt.Errorf("action %q: want route, reject or log", q.Action)
	}
	return rule, nil
}
