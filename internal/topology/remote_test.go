package topology

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestRemoteFollowsPublisherByLongPoll(t *testing.T) {
	pub := NewPublisher(&Snapshot{Epoch: 1, Version: 10, Primary: "db1"})
	mux := http.NewServeMux()
	mux.Handle("/api/v1/topology", Handler(pub, nil))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close) // after the Remote stopped: Close waits for its open poll
	r := runRemote(t, srv.URL)

	waitFor(t, r, func(s *Snapshot) bool { return s.Primary == "db1" && s.Epoch == 1 })
	start := time.Now()
	pub.Publish(&Snapshot{Epoch: 2, Version: 11, Primary: ""})
	waitFor(t, r, func(s *Snapshot) bool { return s.Epoch == 2 && s.Primary == "" })
	pub.Publish(&Snapshot{Epoch: 3, Version: 12, Primary: "db2"})
	waitFor(t, r, func(s *Snapshot) bool { return s.Epoch == 3 && s.Primary == "db2" })
	if d := time.Since(start); d > time.Second {
		t.Errorf("two pushed changes took %v to arrive, want well under 1s (long poll)", d)
	}
}

func TestRemoteKeepsLastSnapshotWhenManagerGoes(t *testing.T) {
	pub := NewPublisher(&Snapshot{Epoch: 4, Version: 7, Primary: "db3"})
	srv := httptest.NewServer(Handler(pub, nil))
	r := runRemote(t, srv.URL)
	waitFor(t, r, func(s *Snapshot) bool { return s.Primary == "db3" })
	srv.CloseClientConnections()
	srv.Close()
	time.Sleep(300 * time.Millisecond)
	got, _ := r.Current()
	if got.Primary != "db3" || got.Epoch != 4 {
		t.Fatalf("after the manager went away: got primary %q epoch %d, want db3 4", got.Primary, got.Epoch)
	}
	if _, err := r.Contact(); err == nil {
		t.Errorf("Contact: got nil error after the manager went away, want one")
	}
}

func TestRemoteIgnoresOlderEpoch(t *testing.T) {
	r, _ := NewRemote("http://127.0.0.1:1", slog.New(slog.DiscardHandler))
	r.take(&Snapshot{Epoch: 5, Version: 100, Primary: "db2"}, 0)
	r.take(&Snapshot{Epoch: 4, Version: 200, Primary: "db1"}, 100)
	if got, _ := r.Current(); got.Epoch != 5 || got.Primary != "db2" {
		t.Fatalf("got epoch %d primary %q, want 5 db2", got.Epoch, got.Primary)
	}
	// A restarted manager with a higher epoch but a lower version wins.
	r.take(&Snapshot{Epoch: 6, Version: 3, Primary: "db3"}, 200)
	if got, _ := r.Current(); got.Epoch != 6 || got.Primary != "db3" || got.Version <= 100 {
		t.Fatalf("got epoch %d primary %q version %d, want 6 db3 >100", got.Epoch, got.Primary, got.Version)
	}
}

func TestHandlerLongPollTimesOut(t *testing.T) {
	pub := NewPublisher(&Snapshot{Epoch: 1, Version: 5})
	srv := httptest.NewServer(Handler(pub, nil))
	defer srv.Close()
	start := time.Now()
	resp, err := http.Get(srv.URL + "?after=5&wait=150ms")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if d := time.Since(start); d < 140*time.Millisecond {
		t.Errorf("long poll with nothing new returned after %v, want about 150ms", d)
	}
}

func waitFor(t *testing.T, src Source, ok func(*Snapshot) bool) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		s, ch := src.Current()
		if ok(s) {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("timed out; last snapshot %+v", s)
		}
	}
}

// runRemote starts a Remote following the manager at url; it stops at
// cleanup.
func runRemote(t *testing.T, url string) *Remote {
	t.Helper()
	r, err := NewRemote(url, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return r
}
