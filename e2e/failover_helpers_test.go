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

// waitSnapshot waits until ok holds for the engine's snapshot.
func waitSnapshot(t *testing.T, src topology.Source, d time.Duration, what string, ok func(*topology.Snapshot) bool) *topology.Snapshot {
	t.Helper()
	deadline := time.After(d)
	for {
		s, ch := src.Current()
		if ok(s) {
			return s
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("timed out after %v waiting for %s; last snapshot epoch %d primary %q nodes %+v", d, what, s.Epoch, s.Primary, s.Nodes)
		}
	}
}

func openDB(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func mustExec(t *testing.T, db *sql.DB, qs ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, q := range qs {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
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

// checkAllPresent verifies every acknowledged id is in db's t.w table.
func checkAllPresent(t *testing.T, db *sql.DB, ids []int64) {
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
	lost := 0
	for _, id := range ids {
		if !present[id] {
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged writes are missing on the new primary", lost, len(ids))
	}
}

// nodeOf returns the named node of s (the zero Node if absent, e.g. in
// the empty snapshot before the first probe).
func nodeOf(t *testing.T, s *topology.Snapshot, name string) topology.Node {
	t.Helper()
	n, _ := s.Node(name)
	return n
}

// waitReplicated waits until every named replica applied primary's binlog.
func waitReplicated(t *testing.T, c *sandbox.Cluster, primary string, replicas ...string) {
	t.Helper()
	var pos string
	if err := openDB(t, c.AdminDSN(primary)).QueryRow("SELECT @@gtid_binlog_pos").Scan(&pos); err != nil {
		t.Fatal(err)
	}
	for _, r := range replicas {
		var res int
		if err := openDB(t, c.AdminDSN(r)).QueryRow("SELECT MASTER_GTID_WAIT(?, 10)", pos).Scan(&res); err != nil || res != 0 {
			t.Fatalf("%s did not apply %s from %s: %d %v", r, pos, primary, res, err)
		}
	}
}

func idFor(writer, seq int) int64 { return int64(writer)*1_000_000 + int64(seq) }

var _ = fmt.Sprint
