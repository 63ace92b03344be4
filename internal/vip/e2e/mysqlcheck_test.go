package e2e

import (
	"context"
	"testing"
	"time"

	"vigil/internal/sandbox"
	"vigil/internal/sandbox/sandboxtest"
	"vigil/internal/vip"
)

// TestMySQLCheckAgainstMariaDB probes a real MariaDB server with the
// speaker's `--check mysql:` check: its protocol-10 greeting passes, a
// stopped server fails.
func TestMySQLCheckAgainstMariaDB(t *testing.T) {
	c := sandboxtest.New(t, sandbox.Options{Replicas: 0})
	addr := c.Node("db1").Addr
	check, err := vip.ParseCheck("mysql:" + addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := check.Probe(t.Context(), 2*time.Second); err != nil {
		t.Fatalf("mysql check of a live MariaDB at %s: %v", addr, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Stop(ctx, "db1"); err != nil {
		t.Fatal(err)
	}
	if err := check.Probe(t.Context(), 2*time.Second); err == nil {
		t.Fatal("mysql check of a stopped server passed, want an error")
	}
}
