package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"vigil/internal/config"
	"vigil/internal/router"
	"vigil/internal/topology"
)

// TestRouting checks every default routing rule, session settings replay,
// user routes, hints and query rules with a real client through the proxy
// in front of a real replicated cluster.
func TestRouting(t *testing.T) {
	h := newRoutingHarness(t, func(c *config.Config) {
		c.Routing.Rules = []config.QueryRule{
			{Name: "no-drop-db", Match: `(?i)^\s*DROP\s+DATABASE`, Action: "reject", Message: "vigil: DROP DATABASE is not allowed"},
			{Name: "hot-table", Digest: `FROM rt_hot\b`, Action: "route", Route: "primary"},
			{Name: "audit", Digest: `^DELETE`, Action: "log"},
		}
	})
	app := h.conn("")
	rtExecAll(t, app,
		"CREATE TABLE rt (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(64))",
		"CREATE TABLE rt_hot (id INT PRIMARY KEY)",
		"INSERT INTO rt (v) VALUES ('a'), ('b'), ('c')",
		"INSERT INTO rt_hot VALUES (1)")
	h.syncReplicas()

	replicaRead := func(t *testing.T, c *sql.Conn, q string) {
		t.Helper()
		if n := h.where(c, q); !rtIsReplica(n) {
			t.Errorf("%q ran on %q, want a replica", q, n)
		}
	}
	primaryRead := func(t *testing.T, c *sql.Conn, q string) {
		t.Helper()
		if n := h.where(c, q); n != "db1" {
			t.Errorf("%q ran on %q, want the primary db1", q, n)
		}
	}

	t.Run("plain reads go to replicas", func(t *testing.T) {
		for i := 0; i < 10; i++ {
			replicaRead(t, app, "SELECT @@server_id, COUNT(*) FROM rt")
		}
		if t.Failed() {
			t.Logf("routed: %v", h.routed())
		}
	})
	t.Run("writes go to the primary", func(t *testing.T) {
		rtExecAll(t, app, "INSERT INTO rt (v) SELECT @@server_id")
		var v string
		if err := h.adminDB("db1").QueryRow("SELECT v FROM " + h.c.Database() + ".rt ORDER BY id DESC LIMIT 1").Scan(&v); err != nil {
			t.Fatal(err)
		}
		if h.ids[v] != "db1" {
			t.Errorf("INSERT ran on %q, want db1", h.ids[v])
		}
	})
	t.Run("locking reads go to the primary", func(t *testing.T) {
		primaryRead(t, app, "SELECT @@server_id, id FROM rt WHERE id = 1 FOR UPDATE")
		primaryRead(t, app, "SELECT @@server_id, id FROM rt WHERE id = 1 LOCK IN SHARE MODE")
	})
	t.Run("named locks go to the primary", func(t *testing.T) {
		other := h.conn("")
		primaryRead(t, app, "SELECT @@server_id, GET_LOCK('rt-lock', 0)")
		if got := rtOneRow(t, other, "SELECT GET_LOCK('rt-lock', 0)"); got != "0" {
			t.Errorf("second session got the held lock: GET_LOCK = %s, want 0", got)
		}
		if got := rtOneRow(t, other, "SELECT IS_USED_LOCK('rt-lock') IS NOT NULL"); got != "1" {
			t.Errorf("IS_USED_LOCK from another session = %s, want 1 (lock visible on the primary)", got)
		}
		replicaRead(t, app, "SELECT @@server_id") // holding a lock does not pin plain reads
		if got := rtOneRow(t, app, "SELECT RELEASE_LOCK('rt-lock')"); got != "1" {
			t.Errorf("RELEASE_LOCK = %s, want 1 (same connection that took it)", got)
		}
		if got := rtOneRow(t, other, "SELECT GET_LOCK('rt-lock', 0)"); got != "1" {
			t.Errorf("GET_LOCK after release = %s, want 1", got)
		}
		rtOneRow(t, other, "SELECT RELEASE_LOCK('rt-lock')")
	})
	t.Run("transactions stay on the primary", func(t *testing.T) {
		rtExecAll(t, app, "BEGIN")
		primaryRead(t, app, "SELECT @@server_id")
		rtExecAll(t, app, "COMMIT")
		replicaRead(t, app, "SELECT @@server_id")
		rtExecAll(t, app, "START TRANSACTION READ ONLY")
		primaryRead(t, app, "SELECT @@server_id")
		rtExecAll(t, app, "ROLLBACK", "SET autocommit = 0")
		primaryRead(t, app, "SELECT @@server_id")
		rtExecAll(t, app, "SET autocommit = 1")
		replicaRead(t, app, "SELECT @@server_id")
	})
	t.Run("temporary tables pin reads to the primary", func(t *testing.T) {
		rtExecAll(t, app, "CREATE TEMPORARY TABLE rt_tmp (a INT)", "INSERT INTO rt_tmp VALUES (1), (2)")
		var id, n string
		if err := app.QueryRowContext(context.Background(), "SELECT @@server_id, COUNT(*) FROM rt_tmp").Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		if h.ids[id] != "db1" || n != "2" {
			t.Errorf("temp table read on %s with %s rows, want db1 with 2", h.ids[id], n)
		}
		primaryRead(t, app, "SELECT @@server_id FROM rt LIMIT 1")
		replicaRead(t, app, "SELECT /* vigil:replica */ @@server_id")
		rtExecAll(t, app, "DROP TEMPORARY TABLE rt_tmp")
		replicaRead(t, app, "SELECT @@server_id")
	})
	t.Run("user variables", func(t *testing.T) {
		rtExecAll(t, app, "SET @rt_x = 42")
		var id, x string
		if err := app.QueryRowContext(context.Background(), "SELECT @@server_id, @rt_x").Scan(&id, &x); err != nil {
			t.Fatal(err)
		}
		if h.ids[id] != "db1" || x != "42" {
			t.Errorf("SELECT @rt_x on %s = %s, want db1 and 42", h.ids[id], x)
		}
	})
	t.Run("LAST_INSERT_ID", func(t *testing.T) {
		res, err := app.ExecContext(context.Background(), "INSERT INTO rt (v) VALUES ('lid')")
		if err != nil {
			t.Fatal(err)
		}
		want, _ := res.LastInsertId()
		if got := rtOneRow(t, app, "SELECT LAST_INSERT_ID()"); got != strconv.FormatInt(want, 10) || want == 0 {
			t.Errorf("LAST_INSERT_ID() = %s, want %d", got, want)
		}
	})
	t.Run("FOUND_ROWS and SHOW WARNINGS follow the previous statement", func(t *testing.T) {
		h.syncReplicas()
		total := rtOneRow(t, app, "SELECT COUNT(*) FROM rt")
		replicaRead(t, app, "SELECT SQL_CALC_FOUND_ROWS @@server_id, id FROM rt LIMIT 1")
		if got := rtOneRow(t, app, "SELECT FOUND_ROWS()"); got != total {
			t.Errorf("FOUND_ROWS() = %s, want %s", got, total)
		}
		replicaRead(t, app, "SELECT @@server_id, CAST('abc' AS SIGNED)")
		rows, err := app.QueryContext(context.Background(), "SHOW WARNINGS")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rows.Next() {
			n++
		}
		rows.Close()
		if n == 0 {
			t.Errorf("SHOW WARNINGS after a warning on a replica: no rows (ran elsewhere)")
		}
	})
	t.Run("session settings are replayed on replicas", func(t *testing.T) {
		c := h.conn("")
		rtExecAll(t, c, "SET time_zone = '+03:00'", "SET SESSION sql_mode = 'ANSI_QUOTES'",
			"SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED", "SET NAMES utf8mb4 COLLATE utf8mb4_bin")
		var id, tz, mode, iso, coll string
		err := c.QueryRowContext(context.Background(),
			"SELECT @@server_id, @@time_zone, @@sql_mode, @@tx_isolation, @@collation_connection").Scan(&id, &tz, &mode, &iso, &coll)
		if err != nil {
			t.Fatal(err)
		}
		if !rtIsReplica(h.ids[id]) || tz != "+03:00" || mode != "ANSI_QUOTES" || iso != "READ-COMMITTED" || coll != "utf8mb4_bin" {
			t.Errorf("on %s: time_zone %s sql_mode %s isolation %s collation %s; want a replica with +03:00 ANSI_QUOTES READ-COMMITTED utf8mb4_bin",
				h.ids[id], tz, mode, iso, coll)
		}
	})
	t.Run("hints", func(t *testing.T) {
		primaryRead(t, app, "/* vigil:primary */ SELECT @@server_id")
		primaryRead(t, app, "SELECT /* vigil:primary */ @@server_id")
		replicaRead(t, app, "SELECT @@server_id")
	})
	t.Run("user default routes", func(t *testing.T) {
		sr := h.conn(rtSafeReads)
		wr := h.conn(rtWriter)
		for i := 0; i < 5; i++ {
			replicaRead(t, sr, "SELECT @@server_id, COUNT(*) FROM rt")
			primaryRead(t, wr, "SELECT @@server_id, COUNT(*) FROM rt")
		}
	})
	t.Run("query rules", func(t *testing.T) {
		_, err := app.ExecContext(context.Background(), "DROP DATABASE not_there")
		if rtSQLErrNumber(err) != 1105 || !strings.Contains(err.Error(), "DROP DATABASE is not allowed") {
			t.Errorf("DROP DATABASE: %v, want error 1105 with the rule's message", err)
		}
		primaryRead(t, app, "SELECT @@server_id, id FROM rt_hot WHERE id = 1")
		replicaRead(t, app, "SELECT @@server_id, id FROM rt WHERE id = 1")
		rtExecAll(t, app, "DELETE FROM rt WHERE v = 'nothing'")
	})
	t.Run("digests", func(t *testing.T) {
		var found bool
		for _, d := range h.router.Stats().Top(0) {
			if d.Text == "SELECT @@server_id , COUNT(*) FROM rt" || d.Text == "SELECT @@server_id, COUNT(*) FROM rt" {
				found = d.Replica > 0 && d.Primary > 0 && d.Count == d.Replica+d.Primary
			}
		}
		if !found {
			t.Errorf("no digest for SELECT @@server_id, COUNT(*) FROM rt with replica and primary counts: %+v", h.router.Stats().Top(5))
		}
	})
}

// TestRoutingLagAndCausalReads makes replicas lag for real and checks that
// reads avoid them, that a session reads its own writes, and the global
// and waiting causal modes.
func TestRoutingLagAndCausalReads(t *testing.T) {
	h := newRoutingHarness(t, nil)
	app := h.conn("")
	rtExecAll(t, app, "CREATE TABLE rl (id INT PRIMARY KEY, v INT)")
	h.syncReplicas()
	waitFit := func(n int) {
		t.Helper()
		h.waitTopology(func(s *topology.Snapshot) bool { return h.replicasFit(s) == n })
	}

	t.Run("stopped SQL thread takes a replica out", func(t *testing.T) {
		h.admin("db2", "STOP SLAVE SQL_THREAD")
		waitFit(1)
		for i := 0; i < 10; i++ {
			if n := h.where(app, "SELECT @@server_id"); n != "db3" {
				t.Fatalf("read %d ran on %s, want db3 (db2's SQL thread is stopped)", i, n)
			}
		}
		h.admin("db3", "STOP SLAVE SQL_THREAD")
		waitFit(0)
		if n := h.where(app, "SELECT @@server_id"); n != "db1" {
			t.Errorf("with no usable replica the read ran on %s, want the primary", n)
		}
		cfg := h.router.Config()
		fail := *cfg
		fail.FallbackFail = true
		if err := h.router.Reload(fail); err != nil {
			t.Fatal(err)
		}
		_, err := app.QueryContext(context.Background(), "SELECT @@server_id")
		if rtSQLErrNumber(err) != 1105 || !strings.Contains(err.Error(), "no replica") {
			t.Errorf("fallback fail: %v, want error 1105 about no replica", err)
		}
		if err := h.router.Reload(*cfg); err != nil {
			t.Fatal(err)
		}
		h.admin("db2", "START SLAVE SQL_THREAD")
		h.admin("db3", "START SLAVE SQL_THREAD")
		waitFit(2)
	})

	// Lagging replicas whose SQL threads run: a global read lock on each
	// replica blocks the applier while reads still work.
	lag := h.lockReplicas
	staleOn := func(t *testing.T, node string, id int) bool {
		t.Helper()
		var n int
		if err := h.adminDB(node).QueryRow(fmt.Sprintf("SELECT COUNT(*) FROM %s.rl WHERE id = %d", h.c.Database(), id)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 0
	}

	t.Run("a session reads its own writes from lagging replicas", func(t *testing.T) {
		release := lag(t)
		defer release()
		for id := 1; id <= 8; id++ {
			rtExecAll(t, app, fmt.Sprintf("INSERT INTO rl VALUES (%d, %d)", id, id))
			if got := rtOneRow(t, app, fmt.Sprintf("SELECT COUNT(*) FROM rl WHERE id = %d", id)); got != "1" {
				t.Fatalf("read after write %d: row missing (stale read)", id)
			}
		}
		if !staleOn(t, "db2", 8) || !staleOn(t, "db3", 8) {
			t.Fatalf("replicas were not lagging: the test proves nothing")
		}
		// Reads that do not depend on a write still go to the (fitting) replicas.
		other := h.conn("")
		if n := h.where(other, "SELECT @@server_id"); !rtIsReplica(n) {
			t.Errorf("another session's read ran on %s, want a replica (local mode)", n)
		}
	})
	h.syncReplicas()

	t.Run("global mode: reads after a write on another connection", func(t *testing.T) {
		cfg := h.router.Config()
		g := *cfg
		g.Causal = router.CausalGlobal
		if err := h.router.Reload(g); err != nil {
			t.Fatal(err)
		}
		defer h.router.Reload(*cfg)
		release := lag(t)
		defer release()
		for id := 101; id <= 105; id++ {
			w := h.conn("")
			rtExecAll(t, w, fmt.Sprintf("INSERT INTO rl VALUES (%d, %d)", id, id))
			w.Close()
			r := h.conn("") // the "redirect": a new connection
			if got := rtOneRow(t, r, fmt.Sprintf("SELECT COUNT(*) FROM rl WHERE id = %d", id)); got != "1" {
				t.Fatalf("read after redirect %d: row missing (stale read)", id)
			}
		}
		if !staleOn(t, "db2", 105) {
			t.Fatalf("replicas were not lagging: the test proves nothing")
		}
	})
	h.syncReplicas()

	t.Run("causal wait then read on the replica", func(t *testing.T) {
		cfg := h.router.Config()
		w := *cfg
		w.CausalWait = 5 * time.Second
		if err := h.router.Reload(w); err != nil {
			t.Fatal(err)
		}
		defer h.router.Reload(*cfg)
		time.Sleep(1100 * time.Millisecond) // the router forgets the earlier timed-out waits
		release := lag(t)
		rtExecAll(t, app, "INSERT INTO rl VALUES (200, 200)")
		time.AfterFunc(300*time.Millisecond, release)
		start := time.Now()
		var id, n string
		if err := app.QueryRowContext(context.Background(), "SELECT @@server_id, COUNT(*) FROM rl WHERE id = 200").Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		if !rtIsReplica(h.ids[id]) || n != "1" {
			t.Errorf("read after wait ran on %s and found %s rows, want a replica and 1", h.ids[id], n)
		}
		if el := time.Since(start); el < 200*time.Millisecond {
			t.Errorf("read returned after %v: it did not wait for the replica", el)
		}
	})
}

// TestRoutingSpreadsReads runs 16 concurrent sessions of reads and checks
// that both replicas serve a fair share and the primary none.
func TestRoutingSpreadsReads(t *testing.T) {
	h := newRoutingHarness(t, nil)
	const workers = 16
	var mu sync.Mutex
	count := map[string]int{}
	var wg sync.WaitGroup
	deadline := time.Now().Add(2 * time.Second)
	for i := 0; i < workers; i++ {
		c := h.conn("")
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := map[string]int{}
			for time.Now().Before(deadline) {
				var id string
				if err := c.QueryRowContext(context.Background(), "SELECT @@server_id").Scan(&id); err != nil {
					t.Error(err)
					return
				}
				local[h.ids[id]]++
			}
			mu.Lock()
			for k, v := range local {
				count[k] += v
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	total := count["db1"] + count["db2"] + count["db3"]
	t.Logf("reads by server: %v (total %d)", count, total)
	if count["db1"] != 0 {
		t.Errorf("the primary served %d plain reads, want 0", count["db1"])
	}
	for _, n := range []string{"db2", "db3"} {
		if count[n] < total/4 {
			t.Errorf("%s served %d of %d reads, want at least a quarter", n, count[n], total)
		}
	}
	// The proxy observes a statement just after relaying its result, so
	// the counts settle a moment after the clients are done.
	deadline = time.Now().Add(2 * time.Second)
	for _, n := range []string{"db2", "db3"} {
		for h.router.Outstanding(n) != 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if o := h.router.Outstanding(n); o != 0 {
			t.Errorf("%s: %d statements still counted outstanding after the load", n, o)
		}
	}
}
