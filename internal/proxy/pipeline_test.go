package proxy_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"vigil/internal/config"
	"vigil/internal/sandbox/sandboxtest"
)

const (
	pipeStatements = "vigil_proxy_pipeline_statements_total"
	pipeCloses     = "vigil_proxy_pipeline_closes_total"
	pipeReruns     = "vigil_proxy_pipeline_reruns_total"
)

// pipelineHarness is a one-server harness whose proxy pipelines reads
// over two connections per loop and state; it skips the test on the
// goroutine data path, which has no loops.
func pipelineHarness(t *testing.T) *harness {
	t.Helper()
	if !onLoop() {
		t.Skip("pipelines are part of the event loops")
	}
	return newHarness(t, 0, func(c *config.Config) { c.Proxy.Pipelines = 2 })
}

// textDB opens a pool of n connections through the proxy as the
// application user, with parameters interpolated (COM_QUERY, as PHP).
func textDB(h *harness, n int) *sql.DB {
	app := h.app()
	db := h.open(h.dsn(app.User, app.Password, h.c.Database(), func(c *mysql.Config) { c.InterpolateParams = true }))
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	return db
}

// Concurrent sessions get their own answers, in order, and see their own
// writes at once; the reads went on pipelines.
func TestPipelinedReadsAnswerTheirSessions(t *testing.T) {
	h := pipelineHarness(t)
	db := textDB(h, 16)
	sandboxtest.Exec(t, db, "CREATE TABLE pr (id INT PRIMARY KEY, v VARCHAR(40))",
		"CREATE TABLE pw (session INT, n INT, PRIMARY KEY (session, n))")
	var rows []string
	for i := 1; i <= 300; i++ {
		rows = append(rows, fmt.Sprintf("(%d, 'value-%d')", i, i*7))
	}
	sandboxtest.Exec(t, db, "INSERT INTO pr VALUES "+strings.Join(rows, ","))
	before := metricValue(t, h.reg, pipeStatements)
	const sessions, reads = 16, 300
	var wg sync.WaitGroup
	errs := make(chan error, sessions)
	for g := range sessions {
		wg.Go(func() {
			ctx := context.Background()
			c, err := db.Conn(ctx)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			for i := range reads {
				id := 1 + (g*37+i*11)%300
				var v string
				if err := c.QueryRowContext(ctx, "SELECT v FROM pr WHERE id = ?", id).Scan(&v); err != nil {
					errs <- fmt.Errorf("session %d read %d: %w", g, i, err)
					return
				}
				if want := fmt.Sprintf("value-%d", id*7); v != want {
					errs <- fmt.Errorf("session %d read %d: got %q, want %q (another session's answer)", g, i, v, want)
					return
				}
				if i%25 == 0 { // read your own write, at once
					if _, err := c.ExecContext(ctx, "INSERT INTO pw VALUES (?, ?)", g, i); err != nil {
						errs <- err
						return
					}
					var n int
					if err := c.QueryRowContext(ctx, "SELECT COUNT(*) FROM pw WHERE session = ?", g).Scan(&n); err != nil {
						errs <- err
						return
					}
					if want := i/25 + 1; n != want {
						errs <- fmt.Errorf("session %d: read %d of its own %d writes", g, n, want)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := metricValue(t, h.reg, pipeStatements) - before; got < sessions*reads/2 {
		t.Errorf("%v of %d reads ran on pipelines, want most", got, sessions*reads)
	}
}

// What a pipelined read leaves behind is where the next statement looks
// for it: SHOW WARNINGS, FOUND_ROWS() and ROW_COUNT() after a read answered
// on a pipeline give what they give on a server; an error answer comes
// from the session's own connection.
func TestPipelinedReadDiagnostics(t *testing.T) {
	h := pipelineHarness(t)
	db := textDB(h, 1)
	sandboxtest.Exec(t, db, "CREATE TABLE pd (id INT PRIMARY KEY)", "INSERT INTO pd VALUES (1), (2), (3)")
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	waitPipeline(t, h, c)
	one := func(q string) int64 {
		t.Helper()
		var v sql.NullInt64
		if err := c.QueryRowContext(ctx, q).Scan(&v); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return v.Int64
	}
	warnings := func() int {
		t.Helper()
		rows, err := c.QueryContext(ctx, "SHOW WARNINGS")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			n++
		}
		return n
	}
	for round := range 3 {
		ran := metricValue(t, h.reg, pipeStatements)
		if v := one("SELECT CAST('12abc' AS SIGNED)"); v != 12 {
			t.Fatalf("round %d: read with a warning: %v", round, v)
		}
		if n := warnings(); n != 1 {
			t.Errorf("round %d: SHOW WARNINGS after a read with a warning: %d rows, want 1", round, n)
		}
		if got := one("SELECT COUNT(*) FROM pd WHERE id > 1"); got != 2 {
			t.Fatalf("round %d: count: %d", round, got)
		}
		if n := warnings(); n != 0 {
			t.Errorf("round %d: SHOW WARNINGS after a clean read of a table: %d rows, want 0", round, n)
		}
		one("SELECT id FROM pd ORDER BY id LIMIT 2")
		if got := one("SELECT FOUND_ROWS()"); got != 2 {
			t.Errorf("round %d: FOUND_ROWS() after a read of 2 rows: %d", round, got)
		}
		one("SELECT id FROM pd LIMIT 1")
		if got := one("SELECT ROW_COUNT()"); got != -1 {
			t.Errorf("round %d: ROW_COUNT() after a SELECT: %d, want -1", round, got)
		}
		if got := metricValue(t, h.reg, pipeStatements) - ran; got < 3 {
			t.Errorf("round %d: %v reads on pipelines, want the 4 plain ones (bar a pipeline opening)", round, got)
		}
		// An error, then a read without a table (which leaves the error
		// listed), then SHOW WARNINGS.
		errs := metricValue(t, h.reg, pipeReruns, "why", "diagnostics")
		if _, err := c.ExecContext(ctx, "SELECT no_such_column FROM DUAL"); mysqlErrNo(err) != 1054 {
			t.Errorf("round %d: read of a missing column: %v, want error 1054", round, err)
		}
		if got := metricValue(t, h.reg, pipeReruns, "why", "diagnostics") - errs; got > 1 {
			t.Errorf("round %d: the failed read ran %v more times", round, got)
		}
		one("SELECT 2")
		if n := warnings(); n != 1 {
			t.Errorf("round %d: SHOW WARNINGS after an error and a read without a table: %d rows, want 1", round, n)
		}
		one("SELECT id FROM pd WHERE id = 3")
		if n := warnings(); n != 0 {
			t.Errorf("round %d: SHOW WARNINGS after a read of a table: %d rows, want 0", round, n)
		}
	}
}

// An answer larger than a pipeline's buffer is not lost: the pipeline
// closes and the read runs again on the session's own connection.
func TestPipelinedReadLargeAnswer(t *testing.T) {
	h := pipelineHarness(t)
	db := textDB(h, 4)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 20 {
				n := 100 + (g*20+i)*3001%200000
				var s string
				if err := db.QueryRow("SELECT REPEAT('x', ?)", n).Scan(&s); err != nil || len(s) != n {
					t.Errorf("REPEAT('x', %d): %d bytes, %v", n, len(s), err)
					return
				}
			}
		})
	}
	wg.Wait()
	if got := metricValue(t, h.reg, pipeCloses, "why", "large"); got == 0 {
		t.Error("no pipeline met an answer over its buffer: the test did not test that")
	}
}

// KILL QUERY ends a read in flight on a pipeline at once, on the server
// too, and the session goes on.
func TestPipelinedReadKillQuery(t *testing.T) {
	h := pipelineHarness(t)
	db := textDB(h, 1)
	killer := textDB(h, 1)
	ctx := context.Background()
	a, id := connWithID(t, db)
	waitPipeline(t, h, a)
	for round := range 2 {
		killed := metricValue(t, h.reg, pipeCloses, "why", "killed")
		done := make(chan error, 1)
		go func() { _, err := a.ExecContext(ctx, "SELECT SLEEP(23)"); done <- err }()
		time.Sleep(300 * time.Millisecond)
		start := time.Now()
		if _, err := killer.Exec("KILL QUERY " + id); err != nil {
			t.Fatalf("round %d: KILL QUERY: %v", round, err)
		}
		select {
		case err := <-done:
			if mysqlErrNo(err) != 1317 {
				t.Errorf("round %d: killed read: %v, want error 1317", round, err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("round %d: killed read ended %v after KILL QUERY", round, d)
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("round %d: KILL QUERY did not end the read within 3s", round)
		}
		var v int
		if err := a.QueryRowContext(ctx, "SELECT 5").Scan(&v); err != nil || v != 5 {
			t.Fatalf("round %d: session after KILL QUERY: %v %v", round, v, err)
		}
		waitPipeline(t, h, a)
		if got := metricValue(t, h.reg, pipeCloses, "why", "killed") - killed; got != 1 {
			t.Errorf("round %d: %v pipelines closed for KILL QUERY, want 1 (the read was not on one?)", round, got)
		}
	}
	if n := waitGone(t, h, 3*time.Second, "SELECT SLEEP(23)"); n != 0 {
		t.Errorf("killed reads still running on the server: %d", n)
	}
}

// A read slower than the pipeline's stall limit moves to its session's own
// connection and gives the right answer; the pipeline's other reads too.
func TestPipelinedReadStall(t *testing.T) {
	h := pipelineHarness(t)
	db := textDB(h, 4)
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitPipeline(t, h, c) // pipelines are per loop: the slow read goes on c
	stalls := metricValue(t, h.reg, pipeCloses, "why", "stall")
	start := time.Now()
	var wg sync.WaitGroup
	wg.Go(func() {
		var v int
		if err := c.QueryRowContext(context.Background(), "SELECT SLEEP(1.5) + 40").Scan(&v); err != nil || v != 40 {
			t.Errorf("slow read: %v %v", v, err)
		}
	})
	for g := range 3 {
		wg.Go(func() {
			for i := range 50 {
				var v int
				if err := db.QueryRow("SELECT ? + 1", g*100+i).Scan(&v); err != nil || v != g*100+i+1 {
					t.Errorf("read beside a slow one: %v %v", v, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("reads took %v", d)
	}
	if got := metricValue(t, h.reg, pipeCloses, "why", "stall") - stalls; got != 1 {
		t.Errorf("%v pipelines closed as stalled, want 1 (the slow read's)", got)
	}
}

// A server killed under pipelined reads gives their clients errors, never
// another session's answer, and the proxy goes on once it is back.
func TestPipelinedReadsServerKilled(t *testing.T) {
	h := pipelineHarness(t)
	db := textDB(h, 8)
	db.SetConnMaxLifetime(0)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var ok, failed int
	for g := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				want := g*1_000_000 + i
				var v int
				err := db.QueryRow("SELECT ?", want).Scan(&v)
				mu.Lock()
				if err == nil {
					ok++
				} else {
					failed++
				}
				mu.Unlock()
				if err == nil && v != want {
					t.Errorf("got %d, want %d: another session's answer", v, want)
					return
				}
			}
		})
	}
	time.Sleep(500 * time.Millisecond)
	if err := h.c.Kill("db1"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if err := h.c.Start(context.Background(), "db1"); err != nil {
		t.Fatal(err)
	}
	h.admin("db1", "SET GLOBAL read_only = 0")
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	if ok == 0 || failed == 0 {
		t.Errorf("%d reads answered and %d failed: want both (the kill fell between reads?)", ok, failed)
	}
	var v int
	if err := db.QueryRow("SELECT 9").Scan(&v); err != nil || v != 9 {
		t.Errorf("read after the server came back: %v %v", v, err)
	}
}

// waitPipeline runs reads on c until one goes on a pipeline (the first
// read of a state only opens one).
func waitPipeline(t *testing.T, h *harness, c *sql.Conn) {
	t.Helper()
	ran := metricValue(t, h.reg, pipeStatements)
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); {
		var v int
		if err := c.QueryRowContext(context.Background(), "SELECT 1 FROM DUAL").Scan(&v); err != nil {
			t.Fatal(err)
		}
		if metricValue(t, h.reg, pipeStatements) > ran {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no read went on a pipeline within 3s")
}

// A mix of reads from many sessions (point reads, answers over the buffer,
// reads with warnings then SHOW WARNINGS, failing reads, FOUND_ROWS())
// gets exactly what a server would answer, for 3 seconds.
func TestPipelinedReadsMixedLoad(t *testing.T) {
	h := pipelineHarness(t)
	db := textDB(h, 24)
	sandboxtest.Exec(t, db, "CREATE TABLE pm (id INT PRIMARY KEY, v VARCHAR(20))",
		"INSERT INTO pm SELECT seq, CONCAT('v', seq * 3) FROM seq_1_to_1000")
	stop := time.Now().Add(3 * time.Second)
	var wg sync.WaitGroup
	for g := range 24 {
		wg.Go(func() {
			ctx := context.Background()
			c, err := db.Conn(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			for i := 0; time.Now().Before(stop); i++ {
				if err := mixedRead(ctx, c, g*7+i); err != nil {
					t.Errorf("session %d, read %d: %v", g, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if got := metricValue(t, h.reg, pipeStatements); got < 1000 {
		t.Errorf("%v reads on pipelines, want thousands", got)
	}
}

// mixedRead runs the i-th read of TestPipelinedReadsMixedLoad on c and
// checks its answer.
func mixedRead(ctx context.Context, c *sql.Conn, i int) error {
	switch i % 25 {
	case 0, 1: // larger than a pipeline's buffer
		n := 1000 + i*997%100000
		var s string
		if err := c.QueryRowContext(ctx, "SELECT REPEAT('y', ?)", n).Scan(&s); err != nil || len(s) != n {
			return fmt.Errorf("REPEAT('y', %d): %d bytes, %v", n, len(s), err)
		}
	case 2:
		var v int
		if err := c.QueryRowContext(ctx, "SELECT CAST('7x' AS SIGNED)").Scan(&v); err != nil || v != 7 {
			return fmt.Errorf("read with a warning: %d, %v", v, err)
		}
		var n int
		if err := c.QueryRowContext(ctx, "SELECT 5").Scan(&n); err != nil {
			return err
		}
		if err := c.QueryRowContext(ctx, "SELECT @@warning_count").Scan(&n); err != nil || n != 1 {
			return fmt.Errorf("@@warning_count after a read with a warning and a read without a table: %d, %v", n, err)
		}
	case 3:
		if _, err := c.ExecContext(ctx, "SELECT nope FROM pm"); mysqlErrNo(err) != 1054 {
			return fmt.Errorf("failing read: %v, want error 1054", err)
		}
	case 4:
		rows, err := c.QueryContext(ctx, "SELECT id FROM pm WHERE id BETWEEN 10 AND 13")
		if err != nil {
			return err
		}
		for rows.Next() {
		}
		rows.Close()
		var n int
		if err := c.QueryRowContext(ctx, "SELECT FOUND_ROWS()").Scan(&n); err != nil || n != 4 {
			return fmt.Errorf("FOUND_ROWS() after 4 rows: %d, %v", n, err)
		}
	default:
		id := 1 + i*31%1000
		var v string
		if err := c.QueryRowContext(ctx, "SELECT v FROM pm WHERE id = ?", id).Scan(&v); err != nil {
			return err
		}
		if want := fmt.Sprintf("v%d", id*3); v != want {
			return fmt.Errorf("read of %d: %q, want %q", id, v, want)
		}
	}
	return nil
}
