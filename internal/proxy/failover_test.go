package proxy_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"vigil/internal/config"
	"vigil/internal/sandbox/sandboxtest"
)

func mysqlErrNo(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

func TestFailoverHold(t *testing.T) {
	h := newHarness(t, 1, func(c *config.Config) { c.Proxy.HoldTimeout = 2 * time.Second })
	app := h.app()
	db := h.open(h.dsn(app.User, app.Password, h.c.Database(), nil))
	db.SetMaxOpenConns(1)
	sandboxtest.Exec(t, db, "CREATE TABLE h (id INT PRIMARY KEY)")

	t.Run("statement waits for a new primary", func(t *testing.T) {
		h.publish("")
		done := make(chan error, 1)
		start := time.Now()
		go func() { _, err := db.Exec("INSERT INTO h VALUES (1)"); done <- err }()
		time.Sleep(300 * time.Millisecond)
		h.publish("db1")
		if err := <-done; err != nil {
			t.Fatalf("held insert: %v", err)
		}
		if d := time.Since(start); d < 300*time.Millisecond {
			t.Errorf("insert finished after %v, before the primary was published", d)
		}
	})
	t.Run("hold times out", func(t *testing.T) {
		h.publish("")
		defer h.publish("db1")
		start := time.Now()
		_, err := db.Exec("INSERT INTO h VALUES (2)")
		if mysqlErrNo(err) != 1105 || !strings.Contains(err.Error(), "hold_timeout") {
			t.Fatalf("got %v, want error 1105 about hold_timeout", err)
		}
		if d := time.Since(start); d < 2*time.Second || d > 6*time.Second {
			t.Errorf("failed after %v, want about the 2s hold timeout", d)
		}
	})
	t.Run("read-only primary holds writes until writable", func(t *testing.T) {
		h.publish("db2") // db2 still has read_only=ON
		done := make(chan error, 1)
		go func() { _, err := db.Exec("INSERT INTO h VALUES (3)"); done <- err }()
		time.Sleep(400 * time.Millisecond)
		select {
		case err := <-done:
			t.Fatalf("insert on a read-only primary finished early: %v", err)
		default:
		}
		h.admin("db2", "SET GLOBAL read_only = 0")
		if err := <-done; err != nil {
			t.Fatalf("insert after read_only=OFF: %v", err)
		}
		direct := h.open(h.directDSN("db2", app.User, app.Password, h.c.Database(), nil))
		var n int
		if err := direct.QueryRow("SELECT COUNT(*) FROM h WHERE id = 3").Scan(&n); err != nil || n != 1 {
			t.Fatalf("row on db2: n=%d err=%v, want 1", n, err)
		}
	})
}

func TestTransactionLostOnPrimaryChange(t *testing.T) {
	h := newHarness(t, 1, nil)
	app := h.app()
	db := h.open(h.dsn(app.User, app.Password, h.c.Database(), nil))
	sandboxtest.Exec(t, db, "CREATE TABLE tx (id INT PRIMARY KEY)")
	plain, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if _, err := plain.ExecContext(context.Background(), "INSERT INTO tx VALUES (100)"); err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("INSERT INTO tx VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	h.catchUp("db2")
	h.admin("db2", "STOP SLAVE", "SET GLOBAL read_only = 0")
	h.publish("db2")
	if _, err := tx.Exec("INSERT INTO tx VALUES (2)"); err == nil {
		t.Fatal("statement of a transaction begun on the old primary succeeded on the new one")
	}
	if err := tx.Commit(); err == nil {
		t.Fatal("COMMIT of a transaction begun on the old primary succeeded")
	}
	// A session without a transaction moves on to the new primary.
	if _, err := plain.ExecContext(context.Background(), "INSERT INTO tx VALUES (101)"); err != nil {
		t.Fatalf("session without state after the primary change: %v", err)
	}
	d2 := h.open(h.directDSN("db2", app.User, app.Password, h.c.Database(), nil))
	var ids []int
	rows, err := d2.Query("SELECT id FROM tx ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int
		_ = rows.Scan(&id)
		ids = append(ids, id)
	}
	if got, want := ids, []int{100, 101}; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("rows on the new primary = %v, want %v", got, want)
	}
}

func TestBackendKilledMidQuery(t *testing.T) {
	h := newHarness(t, 1, nil)
	app := h.app()
	db := h.open(h.dsn(app.User, app.Password, h.c.Database(), nil))
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := context.Background()
	if _, err := conn.ExecContext(ctx, "SELECT /* vigil:primary */ 1"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := conn.ExecContext(ctx, "SELECT /* vigil:primary */ SLEEP(20)")
		done <- err
	}()
	time.Sleep(300 * time.Millisecond)
	if err := h.c.Kill("db1"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if mysqlErrNo(err) != 2013 {
			t.Fatalf("statement on a killed backend: got %v, want error 2013", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("statement on a killed backend did not fail")
	}
	h.admin("db2", "STOP SLAVE", "SET GLOBAL read_only = 0")
	h.publish("db2")
	var v int
	if err := conn.QueryRowContext(ctx, "SELECT /* vigil:primary */ 7").Scan(&v); err != nil || v != 7 {
		t.Fatalf("same session after the backend died: v=%d err=%v", v, err)
	}
}

func TestReadsDuringFailover(t *testing.T) {
	h := newHarness(t, 1, nil)
	app := h.app()
	h.publish("")
	db := h.open(h.dsn(app.User, app.Password, h.c.Database(), nil))
	start := time.Now()
	var v int
	if err := db.QueryRow("SELECT 3").Scan(&v); err != nil || v != 3 {
		t.Fatalf("read with a schema while there is no primary: %v", err)
	}
	if d := time.Since(start); d > 2500*time.Millisecond { // the hold timeout is 3s
		t.Errorf("login and read took %v: held for a primary it does not need", d)
	}
}

func TestPreparedStatementsSurviveFailover(t *testing.T) {
	h := newHarness(t, 1, nil)
	db := h.appSession()
	sandboxtest.Exec(t, db, "CREATE TABLE pf (id INT PRIMARY KEY)")
	ins, err := db.Prepare("INSERT INTO pf VALUES (?)")
	if err != nil {
		t.Fatal(err)
	}
	defer ins.Close()
	if _, err := ins.Exec(1); err != nil {
		t.Fatal(err)
	}
	h.catchUp("db2")
	h.admin("db2", "STOP SLAVE", "SET GLOBAL read_only = 0")
	h.publish("db2")
	if _, err := ins.Exec(2); err != nil {
		t.Fatalf("prepared INSERT after the primary changed: %v", err)
	}
	// A statement prepared after the failover gets a fresh proxy id.
	sel, err := db.Prepare("SELECT /* vigil:primary */ COUNT(*), @@server_id FROM pf")
	if err != nil {
		t.Fatal(err)
	}
	defer sel.Close()
	var n, sid int
	if err := sel.QueryRow().Scan(&n, &sid); err != nil || n != 2 {
		t.Fatalf("rows on the new primary: %d (%v), want 2", n, err)
	}
	if want := h.nodeID("db2"); sid != want {
		t.Errorf("ran on server %d, want the new primary %d", sid, want)
	}
}
