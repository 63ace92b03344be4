package config

import (
	"fmt"
	"regexp"
	"time"
)

// Routing configures how the proxy splits reads and writes.
type Routing struct {
	// MaxReplicaLag is the largest lag a replica may have and still serve
	// reads (default 5s). A replica whose lag is unknown or whose SQL
	// thread is stopped never serves reads.
	MaxReplicaLag time.Duration `yaml:"max_replica_lag,omitempty"`
	// Fallback is where reads go when no replica fits: "primary" (default)
	// or "fail" (the client gets an error).
	Fallback string `yaml:"fallback,omitempty"`
	// CausalReads is the read-your-writes mode:
	//   - "local" (default): a session's reads see its own writes. A read
	//     after a write goes to a replica known to have applied it, else
	//     waits up to causal_wait on one (MASTER_GTID_WAIT), else runs on
	//     the primary.
	//   - "global": reads see every write made through this proxy before
	//     they started, by any session (also across a new connection).
	//   - "fast", "fast_global": as local and global, but never wait: read
	//     from the primary unless a replica is already known to have the write.
	//   - "off": reads go to any replica within the lag limit.
	CausalReads string `yaml:"causal_reads,omitempty"`
	// CausalWait bounds the wait on a replica in local and global modes
	// (default 250ms).
	CausalWait time.Duration `yaml:"causal_wait,omitempty"`
	// UnknownGTIDWindow: after a write whose GTID the server did not
	// report, the session reads from the primary for this long (default:
	// max_replica_lag).
	UnknownGTIDWindow time.Duration `yaml:"unknown_gtid_window,omitempty"`
	// Rules are query rules, tried in order; reloaded on SIGHUP.
	Rules []QueryRule `yaml:"rules,omitempty"`
}

// QueryRule matches statements and routes, rejects or logs them. All
// matchers that are set must match.
type QueryRule struct {
	// Name identifies the rule in logs and statistics.
	Name string `yaml:"name"`
	// User matches the client's user name exactly.
	User string `yaml:"user,omitempty"`
	// Schema matches the session's current schema exactly.
	Schema string `yaml:"schema,omitempty"`
	// Digest is a regular expression (RE2) on the normalised statement
	// (literals as ?, e.g. "SELECT * FROM mdl_log WHERE id = ?").
	Digest string `yaml:"digest,omitempty"`
	// Match is a regular expression (RE2) on the raw statement text.
	Match string `yaml:"match,omitempty"`
	// Action is "route", "reject" or "log".
	Action string `yaml:"action"`
	// Route is "primary" or "replica" (action route).
	Route string `yaml:"route,omitempty"`
	// Message is the error text the client gets (action reject).
	Message string `yaml:"message,omitempty"`
}

func (r *Routing) setDefaults() {
	if r.MaxReplicaLag == 0 {
		r.MaxReplicaLag = 5 * time.Second
	}
	if r.Fallback == "" {
		r.Fallback = "primary"
	}
	if r.CausalReads == "" {
		r.CausalReads = "local"
	}
	if r.CausalWait == 0 {
		r.CausalWait = 250 * time.Millisecond
	}
	if r.UnknownGTIDWindow == 0 {
		r.UnknownGTIDWindow = r.MaxReplicaLag
	}
	for i := range r.Rules {
		if r.Rules[i].Name == "" {
			r.Rules[i].Name = fmt.Sprintf("rule-%d", i+1)
		}
	}
}

// Validate checks the section.
func (r *Routing) Validate() error {
	if r.MaxReplicaLag < 0 || r.CausalWait < 0 || r.UnknownGTIDWindow < 0 {
		return fmt.Errorf("durations must not be negative")
	}
	switch r.Fallback {
	case "primary", "fail":
	default:
		return fmt.Errorf("fallback %q: want primary or fail", r.Fallback)
	}
	switch r.CausalReads {
	case "local", "global", "fast", "fast_global", "off":
	default:
		return fmt.Errorf("causal_reads %q: want local, global, fast, fast_global or off", r.CausalReads)
	}
	for i, q := range r.Rules {
		if err := q.Validate(); err != nil {
			return fmt.Errorf("rules[%d] (%s): %w", i, q.Name, err)
		}
	}
	return nil
}

// Validate checks the action, its arguments and the regular expressions.
func (q *QueryRule) Validate() error {
	switch q.Action {
	case "route":
		if q.Route != "primary" && q.Route != "replica" {
			return fmt.Errorf("route %q: want primary or replica", q.Route)
		}
	case "reject":
		if q.Message == "" {
			return fmt.Errorf("reject needs a message")
		}
	case "log":
	default:
		return fmt.Errorf("action %q: want route, reject or log", q.Action)
	}
	for _, re := range []string{q.Digest, q.Match} {
		if re == "" {
			continue
		}
		if _, err := regexp.Compile(re); err != nil {
			return fmt.Errorf("regular expression %q: %w", re, err)
		}
	}
	return nil
}
