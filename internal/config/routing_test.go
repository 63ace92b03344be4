package config

import (
	"strings"
	"testing"
	"time"
)

func TestRoutingSection(t *testing.T) {
	base := "cluster:\n  name: c\n  servers:\n    - {name: db1, address: 127.0.0.1:3306}\n"
	tests := []struct {
		name, yaml, wantErr string
		check               func(t *testing.T, r Routing)
	}{
		{name: "defaults", yaml: "", check: func(t *testing.T, r Routing) {
			if r.MaxReplicaLag != 5*time.Second || r.Fallback != "primary" || r.CausalReads != "local" ||
				r.CausalWait != 250*time.Millisecond || r.UnknownGTIDWindow != 5*time.Second {
				t.Errorf("defaults = %+v", r)
			}
		}},
		{name: "full", yaml: `routing:
  max_replica_lag: 2s
  fallback: fail
  causal_reads: global
  causal_wait: 250ms
  rules:
    - {user: moodle, digest: "FROM mdl_logstore", action: route, route: replica}
    - {name: no-drop, match: "(?i)^DROP DATABASE", action: reject, message: "not through the proxy"}
    - {name: audit, schema: moodle, action: log}
`, check: func(t *testing.T, r Routing) {
			if r.MaxReplicaLag != 2*time.Second || r.Fallback != "fail" || r.CausalReads != "global" ||
				r.CausalWait != 250*time.Millisecond || r.UnknownGTIDWindow != 2*time.Second {
				t.Errorf("routing = %+v", r)
			}
			if len(r.Rules) != 3 || r.Rules[0].Name != "rule-1" || r.Rules[1].Message != "not through the proxy" {
				t.Errorf("rules = %+v", r.Rules)
			}
		}},
		{name: "bad fallback", yaml: "routing: {fallback: maybe}", wantErr: "fallback"},
		{name: "bad causal", yaml: "routing: {causal_reads: always}", wantErr: "causal_reads"},
		{name: "negative wait", yaml: "routing: {causal_wait: -1s}", wantErr: "negative"},
		{name: "bad action", yaml: "routing: {rules: [{action: drop}]}", wantErr: "action"},
		{name: "route without target", yaml: "routing: {rules: [{action: route}]}", wantErr: "route"},
		{name: "reject without message", yaml: "routing: {rules: [{action: reject}]}", wantErr: "message"},
		{name: "bad regexp", yaml: "routing: {rules: [{action: log, digest: \"(\"}]}", wantErr: "regular expression"},
		{name: "unknown key", yaml: "routing: {rules: [{action: log, regex: x}]}", wantErr: "regex"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(base + tt.yaml))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, cfg.Routing)
		})
	}
}
