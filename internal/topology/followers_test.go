package topology

import (
	"context"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for the registry's liveness rules.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestFollowers() (*Followers, *fakeClock) {
	c := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	f := NewFollowers()
	f.now = c.now
	return f, c
}

func TestFollowersWaitAckedLiveness(t *testing.T) {
	f, clock := newTestFollowers()
	f.begin("open", 10, true)    // polling now, acked 10
	f.begin("between", 10, true) // its poll ended just now: between two polls
	f.end("between")
	f.begin("gone", 10, true) // poll ended long ago (proxy killed)
	f.end("gone")
	f.begin("curl", 0, false) // first fetch, no poll yet: live, acked nothing
	clock.add(FollowerLive + time.Second)
	f.begin("between", 10, true)
	f.end("between")
	f.begin("curl", 0, false)

	got := f.WaitAcked(context.Background(), 11, 10*time.Millisecond)
	if want := []string{"between", "curl", "open"}; !slices.Equal(got, want) {
		t.Fatalf("WaitAcked(11): got missing %v, want %v (gone is not live)", got, want)
	}
	if got := f.WaitAcked(context.Background(), 10, time.Second); len(got) != 1 || got[0] != "curl" {
		t.Fatalf("WaitAcked(10): got missing %v, want [curl]", got)
	}
	if got := f.Len(); got != 3 {
		t.Errorf("Len: got %d, want 3", got)
	}
}

func TestFollowersWaitAckedReturnsOnAck(t *testing.T) {
	f, _ := newTestFollowers()
	f.begin("p1", 5, true)
	f.begin("p2", 5, true)
	done := make(chan []string, 1)
	start := time.Now()
	go func() { done <- f.WaitAcked(context.Background(), 6, 5*time.Second) }()
	// Each proxy's poll for 5 answers with 6, and it polls again with after=6.
	for _, id := range []string{"p1", "p2"} {
		f.end(id)
		f.begin(id, 6, true)
	}
	if got := <-done; got != nil {
		t.Fatalf("got missing %v, want none", got)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("WaitAcked took %v after every ack, want at once", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if got := f.WaitAcked(ctx, 7, time.Minute); len(got) != 2 {
		t.Errorf("cancelled wait: got missing %v, want both", got)
	}
}

func TestFollowersEmptyAndForget(t *testing.T) {
	f, clock := newTestFollowers()
	if got := f.WaitAcked(context.Background(), 1, time.Minute); got != nil {
		t.Fatalf("no followers: got missing %v, want none", got)
	}
	f.begin("old", 3, true)
	f.end("old")
	f.begin("polling", 3, true)
	clock.add(FollowerForget + time.Minute)
	f.begin("new", 0, false)
	list := f.List()
	ids := make([]string, 0, len(list))
	for _, s := range list {
		ids = append(ids, s.ID)
	}
	if want := []string{"new", "polling"}; !slices.Equal(ids, want) {
		t.Fatalf("after FollowerForget: got %v, want %v (an open poll is kept)", ids, want)
	}
	if !list[1].Polling || list[1].Acked != 3 || list[0].Polling {
		t.Errorf("List: got %+v, want polling acked 3 and new not polling", list)
	}
}

func TestFollowersBounded(t *testing.T) {
	f, _ := newTestFollowers()
	for i := range maxFollowers + 10 {
		f.begin(string(rune('a'+i%26))+time.Duration(i).String(), 1, false)
	}
	if got := len(f.List()); got != maxFollowers {
		t.Fatalf("got %d followers, want the bound %d", got, maxFollowers)
	}
}

// TestRemoteIsFollower runs a Remote against a real Handler: the handler
// sees it by its id, with an open poll, and the version it took acknowledged.
func TestRemoteIsFollower(t *testing.T) {
	pub := NewPublisher(&Snapshot{Epoch: 1, Version: 10, Primary: "db1"})
	fol := NewFollowers()
	srv := httptest.NewServer(Handler(pub, fol))
	t.Cleanup(srv.Close) // after the Remote stopped: Close waits for its open poll
	r := runRemote(t, srv.URL)

	for deadline := time.Now().Add(5 * time.Second); fol.Len() == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the Remote never reached the handler as a follower")
		}
	}
	if missing := fol.WaitAcked(context.Background(), 10, 5*time.Second); missing != nil {
		t.Fatalf("version 10: got missing %v, want the Remote to ack it", missing)
	}
	pub.Publish(&Snapshot{Epoch: 2, Version: 11})
	if missing := fol.WaitAcked(context.Background(), 11, 5*time.Second); missing != nil {
		t.Fatalf("version 11: got missing %v, want the Remote to ack it", missing)
	}
	if got, _ := r.Current(); got.Epoch != 2 || got.Primary != "" {
		t.Errorf("after the ack the Remote's snapshot is epoch %d primary %q, want 2 and none", got.Epoch, got.Primary)
	}
	list := fol.List()
	if len(list) != 1 || list[0].ID != r.id || list[0].Acked != 11 || !list[0].Polling {
		t.Fatalf("followers: got %+v, want one with id %q, acked 11, polling", list, r.id)
	}
	// A poll without a follower id (curl, an older proxy) is not tracked.
	resp, err := srv.Client().Get(srv.URL + "?after=0&wait=0s")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := len(fol.List()); got != 1 {
		t.Errorf("after an anonymous poll: got %d followers, want 1", got)
	}
}
