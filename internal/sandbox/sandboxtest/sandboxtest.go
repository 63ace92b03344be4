// Package sandboxtest gives each end-to-end test its own real, replicated
// MariaDB cluster (package sandbox) on free loopback ports in t.TempDir().
package sandboxtest

import (
	"context"
	"testing"
	"time"

	"vigil/internal/sandbox"
)

// New starts a fresh replicated MariaDB cluster for one test: N+1 servers
// db1..dbN+1 (N = opts.Replicas) on free loopback ports in t.TempDir(), GTID
// replication from db1, accounts created. Everything is killed and removed
// in t.Cleanup, and servers also die if the test binary dies. opts.Dir is
// ignored; a zero BasePort picks free ports. Tests may call it in parallel.
// The test is skipped-as-failed (t.Fatal) when MariaDB is not installed.
func New(t testing.TB, opts sandbox.Options) *sandbox.Cluster {
	t.Helper()
	opts.Dir = t.TempDir()
	opts.KillWithParent = true
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	c, err := sandbox.Up(ctx, opts)
	if err != nil {
		t.Fatalf("sandboxtest: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	t.Logf("sandboxtest: %d servers up in %v (dir %s)", len(c.Nodes()), time.Since(start).Round(time.Millisecond), c.Dir)
	return c
}
