package sandbox

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

// TestServerBindFailureIsPortInUse checks that mariadbd's own bind failure
// (a port taken between picking and starting) is recognised, which is what
// lets create pick another free port.
func TestServerBindFailureIsPortInUse(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := Up(ctx, Options{Dir: t.TempDir(), KillWithParent: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Stop(ctx, "db1"); err != nil {
		t.Fatal(err)
	}
	n := c.Node("db1")
	l, err := net.Listen("tcp", n.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	err = c.startNode(ctx, n)
	var inUse *errPortInUse
	if !errors.As(err, &inUse) || inUse.port != n.Port {
		t.Fatalf("start on a taken port: got %v, want errPortInUse for %d", err, n.Port)
	}
}
