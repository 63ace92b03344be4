package proxy_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/prometheus/client_golang/prometheus"

	"vigil/internal/config"
	"vigil/internal/mysqlwire"
	"vigil/internal/proxy"
	"vigil/internal/sandbox/sandboxtest"
)

// onLoop reports whether the proxy under test runs the event-loop data
// path (scripts/test runs the package on the default path, loop, and
// again with VIGIL_TEST_DATA_PATH=goroutines).
func onLoop() bool { return os.Getenv("VIGIL_TEST_DATA_PATH") != proxy.DataPathGoroutines }

// metricValue sums the counters or gauges of family name in reg whose
// labels include labels (name=value pairs); 0 if there are none.
func metricValue(t testing.TB, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue metrics
				}
			}
			switch {
			case m.GetCounter() != nil:
				sum += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				sum += m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

const (
	loopStatements = "vigil_proxy_loop_statements_total"
	loopHandbacks  = "vigil_proxy_loop_handbacks_total"
	proxySessions  = "vigil_proxy_sessions"
)

// waitMetric waits up to d for the metric to satisfy ok and returns its
// last value.
func waitMetric(t testing.TB, reg *prometheus.Registry, d time.Duration, ok func(float64) bool, name string, labels ...string) float64 {
	t.Helper()
	v := metricValue(t, reg, name, labels...)
	for deadline := time.Now().Add(d); !ok(v) && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		v = metricValue(t, reg, name, labels...)
	}
	return v
}

// waitGone waits up to d for no statement whose text starts with prefix to
// be left on db1; it returns how many are left.
func waitGone(t testing.TB, h *harness, d time.Duration, prefix string) int {
	t.Helper()
	admin := h.open(h.c.AdminDSN("db1"))
	var n int
	var err error
	for deadline := time.Now().Add(d); ; time.Sleep(50 * time.Millisecond) {
		err = admin.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE ?", prefix+"%").Scan(&n)
		if (err == nil && n == 0) || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("PROCESSLIST: %v", err)
	}
	return n
}

func TestLoopRunsStatementsInPlace(t *testing.T) {
	h := newHarness(t, 0, nil)
	app := h.app()
	db := h.open(h.dsn(app.User, app.Password, h.c.Database(), nil))
	db.SetMaxOpenConns(1)
	sandboxtest.Exec(t, db, "CREATE TABLE lp (id INT PRIMARY KEY, v VARCHAR(20))")
	for i := range 20 {
		sandboxtest.Exec(t, db, fmt.Sprintf("INSERT INTO lp VALUES (%d, 'v%d')", i, i))
	}
	// The loop counts a statement once its answer is relayed, which may be
	// a moment after the client has it: grew waits for the counter.
	stmts := func() float64 { return metricValue(t, h.reg, loopStatements) }
	grew := func(before float64, want int) float64 {
		t.Helper()
		if !onLoop() {
			return 0
		}
		return waitMetric(t, h.reg, time.Second, func(v float64) bool { return v >= before+float64(want) }, loopStatements) - before
	}
	settled := func() float64 { time.Sleep(50 * time.Millisecond); return stmts() }
	relays := func() float64 { // with pipelines, the read runs again: at=routed
		return metricValue(t, h.reg, loopHandbacks, "at", "relay") + metricValue(t, h.reg, loopHandbacks, "at", "routed")
	}
	pointSelects := func(n int) {
		t.Helper()
		for i := range n {
			var v string
			id := i % 20
			if err := db.QueryRow(fmt.Sprintf("SELECT v FROM lp WHERE id = %d", id)).Scan(&v); err != nil {
				t.Fatalf("point select %d: %v", i, err)
			}
			if want := fmt.Sprintf("v%d", id); v != want {
				t.Fatalf("point select %d: got %q, want %q", i, v, want)
			}
		}
	}

	before := stmts()
	pointSelects(200)
	got := grew(before, 200)
	if onLoop() && got < 190 {
		t.Errorf("loop ran %v of 200 point selects in place, want >= 190", got)
	}
	if onLoop() {
		t.Logf("loop ran %v of 200 point selects in place", got)
	}

	// An answer larger than the backend connection's 32 KiB buffer goes
	// back to the session goroutine, which streams it.
	before, relay0 := settled(), relays()
	var big string
	if err := db.QueryRow("SELECT REPEAT('x', 200000)").Scan(&big); err != nil {
		t.Fatalf("large answer: %v", err)
	}
	if len(big) != 200000 || strings.Trim(big, "x") != "" {
		t.Errorf("large answer: %d bytes, not all 'x'", len(big))
	}
	if onLoop() {
		if got := relays() - relay0; got != 1 {
			t.Errorf("handbacks{at=relay} grew by %v over a 200000-byte answer, want 1", got)
		}
		if got := settled() - before; got != 0 {
			t.Errorf("loop_statements grew by %v over an answer it cannot hold, want 0", got)
		}
	}
	// The session comes back to the loop afterwards.
	before = stmts()
	pointSelects(50)
	if got := grew(before, 50); onLoop() && got < 50 {
		t.Errorf("loop ran %v of 50 point selects after a large answer, want 50", got)
	}

	// Writes run on the loop too.
	before = stmts()
	if _, err := db.Exec("INSERT INTO lp VALUES (1000, 'inserted')"); err != nil {
		t.Fatalf("INSERT: %v", err)
	}
	var v string
	if err := db.QueryRow("SELECT v FROM lp WHERE id = 1000").Scan(&v); err != nil || v != "inserted" {
		t.Errorf("reading back the insert: %q, %v", v, err)
	}
	if got := grew(before, 2); onLoop() && got < 2 {
		t.Errorf("loop ran %v of INSERT + SELECT in place, want 2", got)
	}

	// Several result sets in one answer.
	multi := h.open(h.dsn(app.User, app.Password, h.c.Database(), func(c *mysql.Config) { c.MultiStatements = true }))
	multi.SetMaxOpenConns(1)
	before = stmts()
	for i := range 5 {
		rows, err := multi.Query("SELECT 1 AS a; SELECT 'two' AS b UNION ALL SELECT 'three'")
		if err != nil {
			t.Fatalf("multi-statement %d: %v", i, err)
		}
		var got []string
		for {
			for rows.Next() {
				var s string
				if err := rows.Scan(&s); err != nil {
					t.Fatal(err)
				}
				got = append(got, s)
			}
			if !rows.NextResultSet() {
				break
			}
			got = append(got, "|")
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("multi-statement %d: %v", i, err)
		}
		rows.Close()
		if g := strings.Join(got, " "); g != "1 | two three" {
			t.Errorf("multi-statement %d: got %q, want %q", i, g, "1 | two three")
		}
	}
	// The first opens the session's backend connection (on the goroutine).
	if got := grew(before, 5); onLoop() && got < 4 {
		t.Errorf("loop ran %v of 5 multi-statement queries in place, want >= 4", got)
	}
}

func TestLoopKillWhileWaiting(t *testing.T) {
	h := newHarness(t, 0, nil)
	app := h.app()
	dial := h.dialApp
	killer := dial()
	// kill runs query on a session A whose backend connection is open (so
	// that the statement waits on the loop), KILLs A by the id open returns
	// and checks that A fails at once and the statement is gone.
	kill := func(name, query string, open func() (id string, run func() error)) {
		t.Run(name, func(t *testing.T) {
			ends := metricValue(t, h.reg, loopHandbacks, "at", "end")
			id, run := open()
			sessions := metricValue(t, h.reg, proxySessions)
			backs := metricValue(t, h.reg, loopHandbacks)
			done := make(chan error, 1)
			go func() { done <- run() }()
			time.Sleep(300 * time.Millisecond)
			if got := metricValue(t, h.reg, loopHandbacks) - backs; onLoop() && got != 0 {
				t.Errorf("the statement to kill was given back to its goroutine (%v handbacks), want it waiting on the loop", got)
			}
			start := time.Now()
			if _, err := killer.Exec("KILL " + id); err != nil {
				t.Fatalf("KILL %s: %v", id, err)
			}
			select {
			case err := <-done:
				if err == nil {
					t.Error("killed statement succeeded")
				}
				if d := time.Since(start); d > 3*time.Second {
					t.Errorf("killed statement failed %v after KILL", d)
				}
			case <-time.After(3 * time.Second):
				t.Fatal("KILL did not end the statement within 3s")
			}
			if n := waitGone(t, h, 3*time.Second, query); n != 0 {
				t.Errorf("killed statement still running on the server: %d", n)
			}
			if got := waitMetric(t, h.reg, 2*time.Second, func(v float64) bool { return v <= sessions-1 }, proxySessions); got > sessions-1 {
				t.Errorf("sessions = %v after KILL, want %v", got, sessions-1)
			}
			if got := metricValue(t, h.reg, loopHandbacks, "at", "end") - ends; onLoop() && got < 1 {
				t.Errorf("handbacks{at=end} grew by %v over a KILL of a session on the loop, want >= 1", got)
			}
			c := dial()
			if rows, err := c.Query("SELECT 7"); err != nil || len(rows) != 1 || rows[0][0].String != "7" {
				t.Errorf("new connection after KILL: %v %v", rows, err)
			}
		})
	}
	// By the proxy's session id (what the handshake announced).
	kill("session id", "SELECT SLEEP(21)", func() (string, func() error) {
		a := dial()
		if _, err := a.Query("SELECT 1"); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(a.Greeting.ConnID), func() error { _, err := a.Query("SELECT SLEEP(21)"); return err }
	})
	// By CONNECTION_ID() seen through the proxy (the backend thread id).
	kill("CONNECTION_ID", "SELECT SLEEP(22)", func() (string, func() error) {
		db := h.open(h.dsn(app.User, app.Password, h.c.Database(), nil))
		a, err := db.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close() })
		var id string
		if err := a.QueryRowContext(context.Background(), "SELECT CONNECTION_ID()").Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id, func() error {
			_, err := a.ExecContext(context.Background(), "SELECT SLEEP(22)")
			return err
		}
	})
}

// KILL QUERY of a statement waiting on the loop fails that statement only:
// the session goes on, on the loop.
func TestLoopKillQueryWhileWaiting(t *testing.T) {
	h := newHarness(t, 0, nil)
	app := h.app()
	db := h.open(h.dsn(app.User, app.Password, h.c.Database(), nil))
	killer := h.open(h.dsn(app.User, app.Password, h.c.Database(), nil))
	ctx := context.Background()
	a, id := connWithID(t, db)
	for round := range 3 {
		backs := metricValue(t, h.reg, loopHandbacks)
		done := make(chan error, 1)
		go func() { _, err := a.ExecContext(ctx, "SELECT SLEEP(23)"); done <- err }()
		time.Sleep(300 * time.Millisecond)
		if got := metricValue(t, h.reg, loopHandbacks) - backs; onLoop() && got != 0 {
			t.Errorf("round %d: the statement to kill was given back to its goroutine (%v handbacks)", round, got)
		}
		start := time.Now()
		if _, err := killer.Exec("KILL QUERY " + id); err != nil {
			t.Fatalf("round %d: KILL QUERY: %v", round, err)
		}
		select {
		case err := <-done:
			// MariaDB ends a killed SLEEP() with 1317 or, as SLEEP's
			// result, 1 without an error; both end it at once.
			if err != nil && mysqlErrNo(err) != 1317 {
				t.Errorf("round %d: killed statement: %v, want error 1317 or none", round, err)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("round %d: killed statement ended %v after KILL QUERY", round, d)
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("round %d: KILL QUERY did not end the statement within 3s", round)
		}
		stmts := metricValue(t, h.reg, loopStatements)
		for i := range 10 {
			var v int
			if err := a.QueryRowContext(ctx, fmt.Sprintf("SELECT %d", i)).Scan(&v); err != nil || v != i {
				t.Fatalf("round %d: session after KILL QUERY: %v %v", round, v, err)
			}
		}
		if got := waitMetric(t, h.reg, time.Second, func(v float64) bool { return !onLoop() || v >= stmts+10 }, loopStatements) - stmts; onLoop() && got < 10 {
			t.Errorf("round %d: loop ran %v of 10 statements after KILL QUERY in place, want 10", round, got)
		}
	}
	if n := waitGone(t, h, 3*time.Second, "SELECT SLEEP(23)"); n != 0 {
		t.Errorf("killed statements still running on the server: %d", n)
	}
}

func TestLoopClientIdleTimeout(t *testing.T) {
	h := newHarness(t, 0, func(c *config.Config) { c.Proxy.ClientIdleTimeout = 400 * time.Millisecond })
	app := h.app()
	db := h.open(h.dsn(app.User, app.Password, h.c.Database(), nil))
	ctx := context.Background()
	conn := func() *sql.Conn {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		var v int
		if err := c.QueryRowContext(ctx, "SELECT 1").Scan(&v); err != nil || v != 1 {
			t.Fatalf("first statement: %v", err)
		}
		return c
	}
	idle, busy := conn(), conn()
	if got := metricValue(t, h.reg, proxySessions); got != 2 {
		t.Fatalf("sessions = %v, want 2", got)
	}
	ends := metricValue(t, h.reg, loopHandbacks, "at", "end")
	// busy runs a statement every 100 ms for 1.5 s: never idle for 400 ms.
	for i, start := 0, time.Now(); time.Since(start) < 1500*time.Millisecond; i++ {
		var v int
		if err := busy.QueryRowContext(ctx, fmt.Sprintf("SELECT %d", i)).Scan(&v); err != nil || v != i {
			t.Fatalf("busy connection, statement %d after %v: %v %v", i, time.Since(start), v, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := waitMetric(t, h.reg, 2*time.Second, func(v float64) bool { return v == 1 }, proxySessions); got != 1 {
		t.Errorf("sessions = %v after the idle timeout, want 1", got)
	}
	var v int
	if err := idle.QueryRowContext(ctx, "SELECT 1").Scan(&v); err == nil {
		t.Error("a connection idle past client_idle_timeout still answers")
	}
	if err := busy.QueryRowContext(ctx, "SELECT 2").Scan(&v); err != nil || v != 2 {
		t.Errorf("busy connection after the test: %v %v", v, err)
	}
	// A statement that runs longer than the idle timeout is not idleness.
	if err := busy.QueryRowContext(ctx, "SELECT SLEEP(1)").Scan(&v); err != nil || v != 0 {
		t.Errorf("statement longer than client_idle_timeout: %v %v", v, err)
	}
	if err := busy.QueryRowContext(ctx, "SELECT 3").Scan(&v); err != nil || v != 3 {
		t.Errorf("busy connection after a long statement: %v %v", v, err)
	}
	if got := metricValue(t, h.reg, loopHandbacks, "at", "end") - ends; onLoop() && got != 1 {
		t.Errorf("handbacks{at=end} grew by %v, want 1 (the idle session)", got)
	}
}

func TestLoopPipelinedCommands(t *testing.T) {
	h := newHarness(t, 0, nil)
	db := h.appSession()
	sandboxtest.Exec(t, db, "CREATE TABLE pl (id INT PRIMARY KEY, v INT)")
	for i := range 20 {
		sandboxtest.Exec(t, db, fmt.Sprintf("INSERT INTO pl VALUES (%d, %d)", i, i*i))
	}
	before := metricValue(t, h.reg, loopStatements)
	for round := range 50 {
		// go-sql-driver sends COM_STMT_CLOSE, which has no answer, and
		// the next command right after it.
		st, err := db.Prepare("SELECT v FROM pl WHERE id = ?")
		if err != nil {
			t.Fatalf("round %d: prepare: %v", round, err)
		}
		var v int
		if err := st.QueryRow(round % 20).Scan(&v); err != nil || v != (round%20)*(round%20) {
			t.Fatalf("round %d: execute: %v %v", round, v, err)
		}
		if err := st.Close(); err != nil {
			t.Fatalf("round %d: close: %v", round, err)
		}
		for i := range 20 {
			if err := db.QueryRow(fmt.Sprintf("SELECT v FROM pl WHERE id = %d", i)).Scan(&v); err != nil || v != i*i {
				t.Fatalf("round %d, query %d: got %v, %v; want %d", round, i, v, err, i*i)
			}
		}
	}
	got := waitMetric(t, h.reg, time.Second, func(v float64) bool { return v >= before+1000 }, loopStatements) - before
	if onLoop() && got < 900 {
		t.Errorf("loop ran %v statements of 1000 text queries (and 50 executes) in place, want >= 900", got)
	}

	t.Logf("loop ran %v statements in place (1000 text queries and 50 executes)", got)

	// Two to four queries in one write: the answers come back in order.
	c := h.dialApp()
	if _, err := c.Query("SELECT 0"); err != nil { // opens the backend connection
		t.Fatal(err)
	}
	before = metricValue(t, h.reg, loopStatements)
	pipelined := 0
	for round := range 20 {
		var qs []string
		for i := range 2 + round%3 {
			qs = append(qs, fmt.Sprintf("SELECT %d", round*10+i))
		}
		pipelined += len(qs)
		for _, q := range qs {
			c.ResetSeq()
			if err := c.WritePacket(append([]byte{mysqlwire.ComQuery}, q...)); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.Flush(); err != nil {
			t.Fatal(err)
		}
		for i, q := range qs {
			got, err := readTextAnswer(c)
			if want := fmt.Sprint(round*10 + i); err != nil || len(got) != 1 || got[0] != want {
				t.Fatalf("round %d: pipelined %q: got %q, %v; want [%s]", round, q, got, err, want)
			}
		}
	}
	if onLoop() {
		got := waitMetric(t, h.reg, time.Second, func(v float64) bool { return v >= before+float64(pipelined) }, loopStatements) - before
		if got < float64(pipelined) {
			t.Errorf("loop ran %v of %d pipelined queries in place, want all", got, pipelined)
		}
	}
	// Answers that each fit the loop's buffers but together overflow the
	// client's socket: the loop keeps what the client cannot take yet and
	// reads no further command until it is sent.
	before = metricValue(t, h.reg, loopStatements)
	const n, size = 300, 30000 // 9 MB: more than both sockets buffer
	for i := range n {
		c.ResetSeq()
		if err := c.WritePacket(fmt.Appendf([]byte{mysqlwire.ComQuery}, "SELECT REPEAT('%c', %d)", 'a'+i%26, size)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // let the proxy fill the socket
	for i := range n {
		got, err := readTextAnswer(c)
		if want := strings.Repeat(string(rune('a'+i%26)), size); err != nil || len(got) != 1 || got[0] != want {
			t.Fatalf("pipelined large answer %d: %d rows, %v", i, len(got), err)
		}
	}
	if onLoop() {
		got := waitMetric(t, h.reg, time.Second, func(v float64) bool { return v >= before+n }, loopStatements) - before
		t.Logf("loop ran %v of %d pipelined 30000-byte answers in place", got, n)
	}
	if rows, err := c.Query("SELECT 'after'"); err != nil || len(rows) != 1 || rows[0][0].String != "after" {
		t.Errorf("query after pipelined ones: %v %v", rows, err)
	}
}

// readTextAnswer reads the answer to a COM_QUERY the caller already sent
// and returns the first column of its rows (text values under 64 KiB).
func readTextAnswer(c *mysqlwire.ClientConn) ([]string, error) {
	c.SetSeq(1)
	p, err := c.ReadPacket()
	if err != nil {
		return nil, err
	}
	switch {
	case len(p) == 0:
		return nil, fmt.Errorf("empty packet")
	case p[0] == 0xff:
		e, err := mysqlwire.ParseERR(p)
		if err != nil {
			return nil, err
		}
		return nil, e
	case p[0] == 0x00:
		return nil, nil
	case p[0] >= 0xfb:
		return nil, fmt.Errorf("column count 0x%02x", p[0])
	}
	ncol := int(p[0])
	for range ncol {
		if _, err := c.ReadPacket(); err != nil {
			return nil, err
		}
	}
	if c.Caps&mysqlwire.CapDeprecateEOF == 0 {
		if _, err := c.ReadPacket(); err != nil {
			return nil, err
		}
	}
	var out []string
	for {
		p, err := c.ReadPacket()
		if err != nil {
			return nil, err
		}
		if len(p) > 0 && p[0] == 0xfe && len(p) < 0xffffff {
			return out, nil
		}
		n, k := 0, 1
		switch {
		case len(p) == 0:
		case p[0] < 0xfb:
			n = int(p[0])
		case p[0] == 0xfc && len(p) >= 3:
			n, k = int(p[1])|int(p[2])<<8, 3
		}
		if k+n > len(p) || len(p) == 0 || p[0] == 0xfb || p[0] > 0xfc {
			return nil, fmt.Errorf("unexpected row packet %.16x", p)
		}
		out = append(out, string(p[k:k+n]))
	}
}

func TestLoopShutdownRestoresProcs(t *testing.T) {
	procs, held := runtime.GOMAXPROCS(0), proxy.LoopProcs()
	h := newHarness(t, 0, func(c *config.Config) { c.Proxy.Loops = 2 })
	if onLoop() {
		if got := runtime.GOMAXPROCS(0); got != procs+2 {
			t.Errorf("GOMAXPROCS with 2 loops running = %d, want %d", got, procs+2)
		}
		if got := proxy.LoopProcs(); got != held+2 {
			t.Errorf("LoopProcs with 2 loops running = %d, want %d", got, held+2)
		}
	}
	app := h.app()
	db := h.open(h.dsn(app.User, app.Password, h.c.Database(), nil))
	for i := range 10 {
		var v int
		if err := db.QueryRow(fmt.Sprintf("SELECT %d", i)).Scan(&v); err != nil || v != i {
			t.Fatalf("statement %d: %v", i, err)
		}
	}
	// A statement waiting on the loop when Shutdown starts gets its answer.
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var v int
	if err := conn.QueryRowContext(context.Background(), "SELECT 5").Scan(&v); err != nil {
		t.Fatal(err)
	}
	slept := make(chan error, 1)
	go func() {
		var v int
		err := conn.QueryRowContext(context.Background(), "SELECT SLEEP(1)").Scan(&v)
		if err == nil && v != 0 {
			err = fmt.Errorf("SLEEP(1) = %d", v)
		}
		slept <- err
	}()
	time.Sleep(200 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	// Shutdown is safe to call again: the harness's cleanup does.
	if err := h.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if d := time.Since(start); d < 500*time.Millisecond {
		t.Errorf("Shutdown returned after %v, before the running statement ended", d)
	}
	if err := <-slept; err != nil {
		t.Errorf("statement running during Shutdown: %v", err)
	}
	if got := runtime.GOMAXPROCS(0); got != procs {
		t.Errorf("GOMAXPROCS after Shutdown = %d, want %d (as before the proxy started)", got, procs)
	}
	if got := proxy.LoopProcs(); got != held {
		t.Errorf("LoopProcs after Shutdown = %d, want %d", got, held)
	}
	if err := h.srv.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
	if got := runtime.GOMAXPROCS(0); got != procs {
		t.Errorf("GOMAXPROCS after a second Shutdown = %d, want %d", got, procs)
	}
}

// connWithID takes one connection of db, closed at cleanup, and the
// connection id it reports (CONNECTION_ID()), for KILL.
func connWithID(t *testing.T, db *sql.DB) (*sql.Conn, string) {
	t.Helper()
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	var id string
	if err := c.QueryRowContext(context.Background(), "SELECT CONNECTION_ID()").Scan(&id); err != nil {
		t.Fatal(err)
	}
	return c, id
}
