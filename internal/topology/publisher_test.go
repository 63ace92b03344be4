package topology

import "testing"

func TestPublisherWakesWaitersAndRefusesOlderVersions(t *testing.T) {
	p := NewPublisher(&Snapshot{Version: 2, Primary: "db1"})
	snap, changed := p.Current()
	if snap.Primary != "db1" {
		t.Fatalf("got primary %q, want db1", snap.Primary)
	}
	if p.Publish(&Snapshot{Version: 1, Primary: "db9"}) {
		t.Fatal("an older version was taken")
	}
	select {
	case <-changed:
		t.Fatal("waiters woken by a refused snapshot")
	default:
	}
	if !p.Publish(&Snapshot{Version: 3, Epoch: 2, Primary: "db2"}) {
		t.Fatal("a newer version was refused")
	}
	select {
	case <-changed:
	default:
		t.Fatal("waiters not woken by a new snapshot")
	}
	snap, next := p.Current()
	if snap.Primary != "db2" || next == changed {
		t.Fatalf("got primary %q and the old channel %v, want db2 and a fresh channel", snap.Primary, next == changed)
	}
}

func BenchmarkPublisherCurrent(b *testing.B) {
	p := NewPublisher(&Snapshot{Version: 1})
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if s, _ := p.Current(); s == nil {
				b.Fatal("nil snapshot")
			}
		}
	})
}
