package manager

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"vigil/internal/topology"
)

var errBusy = errors.New("busy")

// fakeEngine is an in-memory Engine for the API's own logic.
type fakeEngine struct {
	*topology.Publisher
	acked   bool
	busy    bool
	gotTo   string
	journal *topology.Journal
}

func (f *fakeEngine) Status() topology.Status {
	s, _ := f.Current()
	st := topology.Status{Cluster: "c", Epoch: s.Epoch, Primary: s.Primary, Health: "healthy"}
	for _, n := range s.Nodes {
		st.Nodes = append(st.Nodes, topology.NodeStatus{Node: n})
	}
	return st
}
func (f *fakeEngine) Events(after uint64) []topology.Event { return f.journal.Since(after) }
func (f *fakeEngine) Switchover(_ context.Context, to string) (topology.OpResult, error) {
	if f.busy {
		return topology.OpResult{}, errBusy
	}
	f.gotTo = to
	return topology.OpResult{Kind: "switchover", From: "db1", To: to, Held: 50 * time.Millisecond}, nil
}
func (f *fakeEngine) Failover(_ context.Context, to string) (topology.OpResult, error) {
	return topology.OpResult{Kind: "failover", From: "db1", To: to}, nil
}
func (f *fakeEngine) Ack()                           { f.acked = true }
func (f *fakeEngine) Followers() *topology.Followers { return nil }

func newTestServer(t *testing.T) (*fakeEngine, *httptest.Server) {
	t.Helper()
	f := &fakeEngine{journal: topology.NewJournal(10), Publisher: topology.NewPublisher(&topology.Snapshot{
		Epoch: 3, Version: 9, Primary: "db2",
		Nodes: []topology.Node{{Name: "db1", Role: topology.RoleReplica, Up: true, ReadOnly: true},
			{Name: "db2", Role: topology.RolePrimary, Up: true}},
	})}
	s, err := New(Config{Listen: "127.0.0.1:0", Busy: errBusy}, f, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return f, srv
}

func TestAPI(t *testing.T) {
	f, srv := newTestServer(t)
	f.journal.Add(topology.Event{Kind: "bootstrap", Message: "db1 is the primary"})
	f.journal.Add(topology.Event{Kind: "promoted", Message: "db2"})
	c := NewClient(srv.URL)
	ctx := context.Background()

	st, err := c.Status(ctx)
	if err != nil || st.Primary != "db2" || st.Epoch != 3 {
		t.Fatalf("status: got %+v, %v; want primary db2 epoch 3", st, err)
	}
	evs, err := c.Events(ctx, 1)
	if err != nil || len(evs) != 1 || evs[0].Kind != "promoted" {
		t.Fatalf("events after 1: got %+v, %v; want the promoted event only", evs, err)
	}
	res, err := c.Switchover(ctx, "db1")
	if err != nil || f.gotTo != "db1" || res.To != "db1" {
		t.Fatalf("switchover: got %+v, %v (engine saw %q); want to db1", res, err, f.gotTo)
	}
	f.busy = true
	if _, err := c.Switchover(ctx, ""); err == nil || !strings.Contains(err.Error(), "busy") {
		t.Fatalf("switchover while busy: got %v, want the busy error", err)
	}
	resp, err := http.Post(srv.URL+"/api/v1/failover", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("failover without force: got HTTP %d, want 400", resp.StatusCode)
	}
	if res, err := c.Failover(ctx, "db3"); err != nil || res.To != "db3" {
		t.Errorf("forced failover: got %+v, %v", res, err)
	}
	if err := c.Ack(ctx); err != nil || !f.acked {
		t.Errorf("ack: got %v acked=%v, want nil true", err, f.acked)
	}
	resp, err = http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`vigil_manager_epoch{cluster="c"} 3`, `vigil_server_up{cluster="c",role="primary",server="db2"} 1`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestWriteStatusTree(t *testing.T) {
	st := topology.Status{Cluster: "c", Epoch: 5, Primary: "db2", Health: "healthy", Nodes: []topology.NodeStatus{
		{Node: topology.Node{Name: "db1", Role: topology.RoleQuarantined, Up: true, ReadOnly: true}, Note: "quarantined: errant"},
		{Node: topology.Node{Name: "db2", Role: topology.RolePrimary, Up: true}},
		{Node: topology.Node{Name: "db3", Role: topology.RoleReplica, Up: true, ReadOnly: true}, Source: "db2", IORunning: "Yes", SQLRunning: true},
	}, Followers: []topology.FollowerStatus{
		{ID: "app1-411-9f3c", Acked: 12, Polling: true},
		{ID: "app2-98-01ab", Acked: 11, LastSeen: time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)},
	}}
	var b bytes.Buffer
	if err := WriteStatus(&b, st); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 6 || !strings.HasPrefix(lines[1], "db2") || !strings.HasPrefix(lines[2], "└─ db3") || !strings.Contains(lines[3], "errant") {
		t.Fatalf("got\n%s\nwant header, db2, └─ db3 under it, db1 with its note, then the proxies", b.String())
	}
	if !strings.Contains(lines[4], "app1-411-9f3c  following") || !strings.Contains(lines[4], "version 12") ||
		!strings.Contains(lines[5], "not polling, last seen 2026-01-01T10:00:00Z") {
		t.Errorf("proxy lines:\n%s\n%s", lines[4], lines[5])
	}
}

func TestWriteEvents(t *testing.T) {
	var b bytes.Buffer
	at := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	err := WriteEvents(&b, []topology.Event{
		{Time: at, Kind: "dead", Node: "db1", Message: "primary is dead"},
		{Time: at, Kind: "promoted", Node: "db2", Message: "epoch 3", Since: 14 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], "+14ms") || !strings.Contains(lines[1], "promoted") || strings.Contains(lines[0], "ms ") {
		t.Fatalf("got\n%s", b.String())
	}
}
