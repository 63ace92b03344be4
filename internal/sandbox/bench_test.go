package sandbox_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"vigil/internal/sandbox"
)

// BenchmarkUp measures creating and starting a fresh cluster of 3 servers
// (template datadir already cached) and killing it: the cost of one
// sandboxtest.New. Run: go test -run '^$' -bench Up -benchtime 5x ./internal/sandbox/
func BenchmarkUp(b *testing.B) {
	root := b.TempDir()
	i := 0
	for b.Loop() {
		i++
		c, err := sandbox.Up(context.Background(), sandbox.Options{
			Dir: filepath.Join(root, fmt.Sprint(i)), Replicas: 2, KillWithParent: true})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		_ = c.Destroy()
		b.StartTimer()
	}
}
