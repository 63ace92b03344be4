package failover

import (
	"context"
	"errors"
	"testing"
	"time"
)

// An operator's command waits for the routine step's hold on opMu but not
// for a failover or switchover in progress.
func TestAcquireOp(t *testing.T) {
	t.Run("waits for the routine step", func(t *testing.T) {
		var e Engine
		e.opMu.Lock()
		go func() {
			time.Sleep(50 * time.Millisecond)
			e.opMu.Unlock()
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.acquireOp(ctx); err != nil {
			t.Fatalf("acquireOp while a step held opMu: %v; want it taken after the step", err)
		}
		if e.opMu.TryLock() {
			t.Fatal("acquireOp returned without holding opMu")
		}
	})
	t.Run("busy during an operation", func(t *testing.T) {
		var e Engine
		e.opMu.Lock()
		e.setOpStart(time.Now())
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := e.acquireOp(ctx)
		if !errors.Is(err, ErrBusy) || ctx.Err() != nil {
			t.Fatalf("acquireOp during a switchover: %v (ctx %v); want ErrBusy before the deadline", err, ctx.Err())
		}
	})
	t.Run("gives up with its context", func(t *testing.T) {
		var e Engine
		e.opMu.Lock()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		defer cancel()
		err := e.acquireOp(ctx)
		if !errors.Is(err, ErrBusy) || ctx.Err() == nil {
			t.Fatalf("acquireOp with a step that never ends: %v; want ErrBusy after the context ended", err)
		}
	})
}
