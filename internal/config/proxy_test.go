package config

import "testing"

func TestProxyThreads(t *testing.T) {
	cases := []struct {
		doc  string
		cpus int
		want int
	}{
		{"proxy: {}", 1, 1},
		{"proxy: {}", 2, 1},
		{"proxy: {}", 8, 2},
		{"proxy: {}", 64, 16},
		{"proxy: {threads: 3}", 2, 3},
	}
	for _, c := range cases {
		cfg, err := Parse([]byte(c.doc))
		if err != nil {
			t.Fatalf("%s: %v", c.doc, err)
		}
		if got := cfg.Proxy.ThreadsFor(c.cpus); got != c.want {
			t.Errorf("%s on %d CPUs: got %d threads, want %d", c.doc, c.cpus, got, c.want)
		}
	}
	if _, err := Parse([]byte("proxy: {threads: -1}")); err == nil {
		t.Error("threads -1: got nil error, want a validation error")
	}
}
