package sandboxtest_test

import (
	"context"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"vigil/internal/sandbox"
	"vigil/internal/sandbox/sandboxtest"
)

func TestNewReplicatesFromWritablePrimary(t *testing.T) {
	t.Parallel()
	c := sandboxtest.New(t, sandbox.Options{Replicas: 2, PrimaryWritable: true})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	app := c.App()
	db1 := sandboxtest.OpenDB(t, c.DSN("db1", app.User, app.Password, ""))
	for _, q := range []string{"CREATE DATABASE t", "CREATE TABLE t.x (id INT PRIMARY KEY)", "INSERT INTO t.x VALUES (42)"} {
		if _, err := db1.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s on db1: %v", q, err)
		}
	}
	var pos string
	if err := db1.QueryRowContext(ctx, "SELECT @@gtid_binlog_pos").Scan(&pos); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"db2", "db3"} {
		db := sandboxtest.OpenDB(t, c.AdminDSN(name))
		var waited int
		if err := db.QueryRowContext(ctx, "SELECT MASTER_GTID_WAIT(?, 10)", pos).Scan(&waited); err != nil || waited != 0 {
			t.Fatalf("%s: MASTER_GTID_WAIT(%s) = %d, %v; want 0, nil", name, pos, waited, err)
		}
		var got int
		if err := db.QueryRowContext(ctx, "SELECT id FROM t.x").Scan(&got); err != nil || got != 42 {
			t.Fatalf("%s: got %d, %v; want 42", name, got, err)
		}
		appDB := sandboxtest.OpenDB(t, c.DSN(name, app.User, app.Password, ""))
		if _, err := appDB.ExecContext(ctx, "INSERT INTO t.x VALUES (43)"); err == nil {
			t.Fatalf("%s: app insert on a read_only replica succeeded, want an error", name)
		}
	}
}

func TestNewInParallel(t *testing.T) {
	for _, name := range []string{"a", "b"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := sandboxtest.New(t, sandbox.Options{Replicas: 1})
			var ro int
			if err := sandboxtest.OpenDB(t, c.AdminDSN("db1")).QueryRow("SELECT @@read_only").Scan(&ro); err != nil || ro != 1 {
				t.Fatalf("db1 read_only = %d, %v; want 1 (only the manager opens it)", ro, err)
			}
		})
	}
}
