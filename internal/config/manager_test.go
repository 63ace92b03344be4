package config

import (
	"testing"
	"time"
)

func TestManagerDefaultsAndValidation(t *testing.T) {
	cfg, err := Parse([]byte("manager:\n  probe_interval: 100ms\n"))
	if err != nil {
		t.Fatal(err)
	}
	m := cfg.Manager
	if m.ProbeInterval != 100*time.Millisecond || m.FailCount != 2 || m.FailoverBlock != time.Hour ||
		m.HeartbeatPeriod != 500*time.Millisecond || m.FenceShutdown == nil || !*m.FenceShutdown {
		t.Errorf("defaults: got %+v", m)
	}
	bad := map[string]string{
		"negative block":  "manager:\n  failover_block: -1s\n",
		"zero fail count": "manager:\n  fail_count: -1\n",
		"bad listen":      "manager:\n  listen: nowhere\n",
		"unknown key":     "manager:\n  probe_intervall: 1s\n",
	}
	for name, doc := range bad {
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("%s: got nil error, want one", name)
		}
	}
	off, err := Parse([]byte("manager:\n  fence_shutdown: false\n"))
	if err != nil || *off.Manager.FenceShutdown {
		t.Errorf("fence_shutdown: false: got %v, %v; want false", off.Manager.FenceShutdown, err)
	}
}
