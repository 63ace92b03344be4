package proxy_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"vigil/internal/config"
	"vigil/internal/sandbox/sandboxtest"
)

// TestStoredFunctionsRunOnPrimary: a read that calls a stored function runs
// on the primary once the proxy knows the function (read at start, or
// after RefreshStoredFunctions), so a function that writes does not fail
// with the replica's read-only error; plain reads stay on the replica.
func TestStoredFunctionsRunOnPrimary(t *testing.T) {
	// Functions run as the invoker (the app user, whom read_only stops).
	h := newHarness(t, 1, func(cfg *config.Config) {
		adm := cfg.Accounts.Admin
		sandboxtest.Exec(t, sandboxtest.OpenDB(t, tcpDSN(cfg.Cluster.Servers[0].Address, adm.User, adm.Password, "", nil)),
			"CREATE DATABASE sf",
			"CREATE FUNCTION sf.whereami() RETURNS INT SQL SECURITY INVOKER READS SQL DATA RETURN @@server_id")
	})
	app := h.app()
	primaryID, replicaID := h.nodeID("db1"), h.nodeID("db2")
	db := h.open(h.dsn(app.User, app.Password, h.c.Database(), nil))
	db.SetMaxOpenConns(1)

	// Known at start: Run reads the functions in the background.
	deadline := time.Now().Add(5 * time.Second)
	for {
		var id int
		if err := db.QueryRow("SELECT sf.whereami()").Scan(&id); err != nil {
			t.Fatal(err)
		}
		if id == primaryID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("SELECT sf.whereami() still runs on %d after 5s, want the primary %d", id, primaryID)
		}
		time.Sleep(20 * time.Millisecond)
	}

	h.admin("db1",
		"CREATE TABLE "+h.c.Database()+".visits (id INT PRIMARY KEY)",
		"CREATE FUNCTION "+h.c.Database()+".log_visit(p INT) RETURNS INT SQL SECURITY INVOKER DETERMINISTIC MODIFIES SQL DATA "+
			"BEGIN INSERT INTO visits VALUES (p); RETURN p; END")
	h.catchUp("db2")
	time.Sleep(100 * time.Millisecond)
	var n int
	var me *mysql.MySQLError
	if err := db.QueryRow("SELECT log_visit(1)").Scan(&n); !errors.As(err, &me) || me.Number != 1290 {
		t.Fatalf("before the proxy knows log_visit: %v, want error 1290 from the replica", err)
	}

	if err := h.srv.RefreshStoredFunctions(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("SELECT LOG_VISIT(2)").Scan(&n); err != nil || n != 2 {
		t.Fatalf("SELECT LOG_VISIT(2) = %d, %v", n, err)
	}
	sel, err := db.Prepare("SELECT /* f(x) */ `log_visit`(?)")
	if err != nil {
		t.Fatal(err)
	}
	defer sel.Close()
	if err := sel.QueryRow(3).Scan(&n); err != nil || n != 3 {
		t.Fatalf("prepared SELECT log_visit(3) = %d, %v", n, err)
	}
	var rows int
	prim := h.open(h.directDSN("db1", app.User, app.Password, h.c.Database(), nil))
	if err := prim.QueryRow("SELECT COUNT(*) FROM visits WHERE id IN (2, 3)").Scan(&rows); err != nil || rows != 2 {
		t.Errorf("primary has %d of the rows 2 and 3 (%v), want 2", rows, err)
	}

	h.catchUp("db2")
	time.Sleep(100 * time.Millisecond)
	if got := serverID(t, db, "proxy"); got != replicaID {
		t.Errorf("plain read ran on server %d, want the replica %d", got, replicaID)
	}
}
