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

func TestProxyLoops(t *testing.T) {
	for _, c := range []struct {
		doc        string
		cpus, want int
	}{
		{"proxy: {}", 1, 1},
		{"proxy: {}", 2, 2},
		{"proxy: {}", 0, 1},
		{"proxy: {loops: 3}", 16, 3},
	} {
		cfg, err := Parse([]byte(c.doc))
		if err != nil {
			t.Fatalf("%s: %v", c.doc, err)
		}
		if got := cfg.Proxy.LoopsFor(c.cpus); got != c.want {
			t.Errorf("%s on %d CPUs: got %d loops, want %d", c.doc, c.cpus, got, c.want)
		}
	}
	for _, doc := range []string{"proxy: {loops: -1}", "proxy: {data_path: fast}"} {
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("%s: got nil error, want a validation error", doc)
		}
	}
}
