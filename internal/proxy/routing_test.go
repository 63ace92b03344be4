package proxy_test

import (
	"context"
	"database/sql"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"vigil/internal/sandbox/sandboxtest"
)

func serverID(t testing.TB, db *sql.DB, node string) int {
	t.Helper()
	var id int
	if err := db.QueryRow("SELECT @@server_id").Scan(&id); err != nil {
		t.Fatalf("server_id of %s: %v", node, err)
	}
	return id
}

// nodeID is the @@server_id of node, asked directly as the app user.
func (h *harness) nodeID(node string) int {
	h.t.Helper()
	app := h.app()
	return serverID(h.t, h.open(h.directDSN(node, app.User, app.Password, "", nil)), node)
}

func TestReadWriteSplit(t *testing.T) {
	h := newHarness(t, 1, nil)
	app := h.app()
	primaryID := h.nodeID("db1")
	replicaID := h.nodeID("db2")
	db := h.open(h.dsn(app.User, app.Password, h.c.Database(), nil))
	db.SetMaxOpenConns(1)
	if got := serverID(t, db, "proxy"); got != replicaID {
		t.Errorf("plain read ran on server %d, want the replica %d", got, replicaID)
	}
	var id int
	if err := db.QueryRow("SELECT /* vigil:primary */ @@server_id").Scan(&id); err != nil || id != primaryID {
		t.Errorf("hinted read ran on %d (%v), want the primary %d", id, err, primaryID)
	}
	sandboxtest.Exec(t, db, "CREATE TABLE rw (id INT PRIMARY KEY)")
	for i := range 50 {
		if _, err := db.Exec("INSERT INTO rw VALUES (?)", i); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM rw WHERE id = ?", i).Scan(&n); err != nil || n != 1 {
			t.Fatalf("read right after writing row %d saw %d rows (%v): read-your-writes broken", i, n, err)
		}
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.QueryRow("SELECT @@server_id").Scan(&id); err != nil || id != primaryID {
		t.Errorf("read in a transaction ran on %d (%v), want the primary %d", id, err, primaryID)
	}
	_ = tx.Rollback()
	sandboxtest.Exec(t, db, "SET @v = 1")
	sandboxtest.Exec(t, db, "SET time_zone = '+03:00'")
	var tz string
	if err := db.QueryRow("SELECT @@time_zone").Scan(&tz); err != nil || tz != "+03:00" {
		t.Errorf("session variable on the read backend = %q (%v), want +03:00 replayed", tz, err)
	}

	// Metrics and health are served.
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(h.reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{`vigil_proxy_statements_total{route="replica"}`, `vigil_proxy_statements_total{route="primary"}`,
		"vigil_proxy_sessions 1", `vigil_proxy_pool_connections{addr=`} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	srv := httptest.NewServer(h.srv.HealthHandler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"primary":"db1"`) {
		t.Errorf("health: %d %s", resp.StatusCode, body)
	}
}

func TestGracefulShutdown(t *testing.T) {
	h := newHarness(t, 0, nil)
	app := h.app()
	db := h.open(h.dsn(app.User, app.Password, h.c.Database(), nil))
	sandboxtest.Exec(t, db, "CREATE TABLE sd (id INT PRIMARY KEY)")
	idle, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	if err := idle.PingContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("INSERT INTO sd VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- h.srv.Shutdown(ctx)
	}()
	time.Sleep(200 * time.Millisecond)
	if _, err := tx.Exec("INSERT INTO sd VALUES (2)"); err != nil {
		t.Fatalf("statement of an open transaction during shutdown: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatalf("COMMIT during shutdown: %v", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(4 * time.Second):
		t.Fatal("Shutdown did not finish after the last transaction ended")
	}
	if err := idle.PingContext(context.Background()); err == nil {
		t.Error("idle session still open after shutdown")
	}
	var n int
	direct := h.open(h.directDSN("db1", app.User, app.Password, h.c.Database(), nil))
	if err := direct.QueryRow("SELECT COUNT(*) FROM sd").Scan(&n); err != nil || n != 2 {
		t.Errorf("rows committed during shutdown = %d (%v), want 2", n, err)
	}
}

func TestPreparedStatementsOnReplicas(t *testing.T) {
	h := newHarness(t, 1, nil)
	app := h.app()
	replicaID := h.nodeID("db2")
	primaryID := h.nodeID("db1")
	db := h.open(h.dsn(app.User, app.Password, h.c.Database(), nil))
	db.SetMaxOpenConns(1)
	sandboxtest.Exec(t, db, "CREATE TABLE ps (id INT PRIMARY KEY, v VARCHAR(10))")
	ins, err := db.Prepare("INSERT INTO ps VALUES (?, ?)")
	if err != nil {
		t.Fatal(err)
	}
	defer ins.Close()
	sel, err := db.Prepare("SELECT @@server_id, COUNT(*) FROM ps WHERE id <= ?")
	if err != nil {
		t.Fatal(err)
	}
	defer sel.Close()
	for i := range 20 {
		if _, err := ins.Exec(i, "v"); err != nil {
			t.Fatal(err)
		}
		var sid, n int
		if err := sel.QueryRow(i).Scan(&sid, &n); err != nil {
			t.Fatal(err)
		}
		if n != i+1 {
			t.Fatalf("prepared read after write %d saw %d rows, want %d", i, n, i+1)
		}
		if i == 19 && sid != replicaID && sid != primaryID {
			t.Errorf("server id %d is neither replica nor primary", sid)
		}
	}
	// Once replication is idle, prepared reads run on the replica.
	h.catchUp("db2")
	time.Sleep(100 * time.Millisecond)
	var sid, n int
	if err := sel.QueryRow(100).Scan(&sid, &n); err != nil || sid != replicaID || n != 20 {
		t.Errorf("prepared read ran on %d with %d rows (%v), want the replica %d with 20", sid, n, err, replicaID)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Stmt(sel).QueryRow(100).Scan(&sid, &n); err != nil || sid != primaryID {
		t.Errorf("prepared read in a transaction ran on %d (%v), want the primary %d", sid, err, primaryID)
	}
	_ = tx.Rollback()
}
