package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/prometheus/client_golang/prometheus"

	"vigil/internal/config"
	"vigil/internal/failover"
	"vigil/internal/manager"
	"vigil/internal/sandbox"
	"vigil/internal/sandbox/sandboxtest"
	"vigil/internal/topology"
)

// mgr is an in-process manager (monitor + engine + API) wired like
// `vigil manager`, with tight timings for tests.
type mgr struct {
	eng    *failover.Engine
	url    string
	cancel context.CancelFunc
	done   chan struct{}
}

func tightManager(cfg *config.Config) {
	m := &cfg.Manager
	m.ProbeInterval, m.ConnectTimeout, m.ReadTimeout = 100*time.Millisecond, 200*time.Millisecond, 400*time.Millisecond
	m.FailCount, m.AutoFailover, m.HeartbeatPeriod = 2, true, 500*time.Millisecond
	m.CatchupTimeout, m.FailoverBlock = 10*time.Second, time.Hour
}

// startManager runs a manager for c whose state lives in stateDir (a new
// temp dir when empty). mutate adjusts the configuration.
func startManager(t *testing.T, c *sandbox.Cluster, stateDir string, mutate func(*config.Config)) *mgr {
	t.Helper()
	cfg := c.Config()
	tightManager(cfg)
	if stateDir == "" {
		stateDir = t.TempDir()
	}
	cfg.Manager.StateDir = stateDir
	if mutate != nil {
		mutate(cfg)
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	mon, err := topology.NewMonitor(topology.MonitorConfigFrom(cfg), log)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := failover.New(failover.FromConfig(cfg, filepath.Join(stateDir, "vigil.yaml")), mon, log)
	if err != nil {
		t.Fatal(err)
	}
	api, err := manager.New(manager.Config{Listen: "127.0.0.1:0", Busy: failover.ErrBusy}, eng, prometheus.NewRegistry(), log)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &mgr{eng: eng, url: "http://" + ln.Addr().String(), cancel: cancel, done: make(chan struct{})}
	var wg sync.WaitGroup
	for _, run := range []func(context.Context) error{mon.Run, eng.Run, func(ctx context.Context) error { return api.Serve(ctx, ln) }} {
		wg.Add(1)
		go func() { defer wg.Done(); _ = run(ctx) }()
	}
	go func() { wg.Wait(); close(m.done) }()
	t.Cleanup(m.stop)
	return m
}

func (m *mgr) stop() {
	m.cancel()
	<-m.done
}

// testWriter sends log lines to t.Log (dropped once the test ended).
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	defer func() { _ = recover() }()
	if os.Getenv("VIGIL_TEST_LOGS") != "" {
		w.t.Logf("%s", p)
	}
	return len(p), nil
}

// writeLog records what writers saw.
type writeLog struct {
	mu       sync.Mutex
	acked    []int64
	errors   int
	errs     []string
	firstAck map[int]time.Time // writer -> first ack after mark
	mark     time.Time
	old      string // acks from this server do not count as resumed
}

// ack records an acknowledged id; node is the server that acknowledged it
// ("" when unknown, e.g. through the proxy) and started when the statement
// was sent. Only statements sent after the mark, not acknowledged by the
// old primary, count as resumed writes.
func (w *writeLog) ack(writer int, id int64, node string, started time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.acked = append(w.acked, id)
	if !w.mark.IsZero() && (node == "" || node != w.old) && started.After(w.mark) {
		if _, ok := w.firstAck[writer]; !ok {
			w.firstAck[writer] = time.Now()
		}
	}
}

func (w *writeLog) setMark(t time.Time, old string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.mark, w.old, w.firstAck = t, old, map[int]time.Time{}
}

// resumed returns kill->first ack of any writer and kill->every writer acked.
func (w *writeLog) resumed(n int) (first, all time.Duration, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.firstAck) < n {
		return 0, 0, false
	}
	first = time.Hour
	for _, at := range w.firstAck {
		d := at.Sub(w.mark)
		first, all = min(first, d), max(all, d)
	}
	return first, all, true
}

// waitResumed polls until all n writers acknowledged a write after the
// mark and returns resumed's figures; after d it fails the test with msg.
func (w *writeLog) waitResumed(t *testing.T, n int, d time.Duration, msg string) (first, all time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for ok := false; !ok; first, all, ok = w.resumed(n) {
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return first, all
}

// checkAllPresent verifies every acknowledged id is in db's t.w table.
func checkAllPresent(t *testing.T, db *sql.DB, ids []int64) []int64 {
	t.Helper()
	present := map[int64]bool{}
	rows, err := db.Query("SELECT id FROM t.w")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		present[id] = true
	}
	var lost []int64
	for _, id := range ids {
		if !present[id] {
			lost = append(lost, id)
		}
	}
	if len(lost) > 0 {
		t.Errorf("%d of %d acknowledged writes are missing on the new primary: ids %v (of %d..%d acked)",
			len(lost), len(ids), lost[:min(len(lost), 10)], ids[0], ids[len(ids)-1])
	}
	return lost
}

// logEvents logs the manager's events, to explain a failed failover test.
func logEvents(t *testing.T, m *mgr) {
	t.Helper()
	for _, ev := range m.eng.Events(0) {
		t.Logf("event %s %s %s %s %v", ev.Time.Format("15:04:05.000"), ev.Kind, ev.Node, ev.Message, ev.Fields)
	}
}

// nodeOf returns the named node of s (the zero Node if absent, e.g. in
// the empty snapshot before the first probe).
func nodeOf(t *testing.T, s *topology.Snapshot, name string) topology.Node {
	t.Helper()
	n, _ := s.Node(name)
	return n
}

// managedCluster starts a cluster with opts and a manager for it, and
// waits until the manager has bootstrapped db1 as the writable primary.
func managedCluster(t *testing.T, opts sandbox.Options) (*sandbox.Cluster, *mgr) {
	t.Helper()
	c := sandboxtest.New(t, opts)
	m := startManager(t, c, "", nil)
	bootstrapped(t, m)
	return c, m
}

// proxiedCluster is a semi-sync managedCluster with the t.w table on db1
// and an in-process proxy following the manager; it returns the proxy's
// address too.
func proxiedCluster(t *testing.T) (*sandbox.Cluster, *mgr, string) {
	t.Helper()
	c, m := managedCluster(t, sandbox.Options{Replicas: 2, SemiSync: true})
	setupTable(t, c, "db1")
	return c, m, startProxy(t, c, m.url)
}

// waitNewPrimary waits up to d for the manager to promote a server other
// than db1.
func waitNewPrimary(t *testing.T, m *mgr, d time.Duration) *topology.Snapshot {
	t.Helper()
	return sandboxtest.WaitSnapshot(t, m.eng, d, "a new primary", func(s *topology.Snapshot) bool { return s.Primary != "" && s.Primary != "db1" })
}

func idFor(writer, seq int) int64 { return int64(writer)*1_000_000 + int64(seq) }

var _ = fmt.Sprint
