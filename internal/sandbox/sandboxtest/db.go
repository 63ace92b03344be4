package sandboxtest

import (
	"context"
	"database/sql"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql" // the "mysql" driver OpenDB uses

	"vigil/internal/sandbox"
	"vigil/internal/topology"
)

// stmtTimeout bounds each helper's statements, so a hung server fails the
// test instead of blocking it.
const stmtTimeout = 2 * time.Minute

// OpenDB opens a go-sql-driver handle for dsn and closes it in t.Cleanup.
func OpenDB(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Exec runs stmts on db in order and fails the test on the first error.
func Exec(t testing.TB, db *sql.DB, stmts ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), stmtTimeout)
	defer cancel()
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// QueryInt runs a query returning one integer and fails the test on error.
func QueryInt(t testing.TB, db *sql.DB, q string, args ...any) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), stmtTimeout)
	defer cancel()
	var v int
	if err := db.QueryRowContext(ctx, q, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return v
}

// WaitReplicated waits (MASTER_GTID_WAIT, up to timeout each) until every
// named replica has applied primary's current binlog position, and fails
// the test if one does not.
func WaitReplicated(t testing.TB, c *sandbox.Cluster, timeout time.Duration, primary string, replicas ...string) {
	t.Helper()
	src := OpenDB(t, c.AdminDSN(primary))
	var pos string
	if err := src.QueryRow("SELECT @@gtid_binlog_pos").Scan(&pos); err != nil {
		t.Fatal(err)
	}
	for _, r := range replicas {
		var res sql.NullInt64
		err := OpenDB(t, c.AdminDSN(r)).QueryRow("SELECT MASTER_GTID_WAIT(?, ?)", pos, timeout.Seconds()).Scan(&res)
		if err != nil || !res.Valid || res.Int64 != 0 {
			t.Fatalf("%s did not apply %s from %s: %v %v", r, pos, primary, res, err)
		}
	}
}

// WaitSnapshot waits up to d until ok holds for src's current snapshot and
// returns that snapshot; it fails the test (naming what) on timeout.
func WaitSnapshot(t testing.TB, src topology.Source, d time.Duration, what string, ok func(*topology.Snapshot) bool) *topology.Snapshot {
	t.Helper()
	deadline := time.After(d)
	for {
		s, changed := src.Current()
		if ok(s) {
			return s
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("timed out after %v waiting for %s; last snapshot %+v", d, what, s)
		}
	}
}
