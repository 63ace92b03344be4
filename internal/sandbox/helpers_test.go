package sandbox_test

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"strconv"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"vigil/internal/sandbox"
)

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// up starts a cluster in dir for the test and kills it in t.Cleanup.
func up(t testing.TB, opts sandbox.Options) *sandbox.Cluster {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	opts.KillWithParent = true
	c, err := sandbox.Up(testCtx(t), opts)
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func openDB(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func mustExec(t testing.TB, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.ExecContext(testCtx(t), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func queryInt(t testing.TB, db *sql.DB, q string, args ...any) int {
	t.Helper()
	var v int
	if err := db.QueryRowContext(testCtx(t), q, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return v
}

// waitReplicated waits until the named replica has applied db1's binlog.
func waitReplicated(t testing.TB, c *sandbox.Cluster, replica string) {
	t.Helper()
	var pos string
	if err := openDB(t, c.AdminDSN("db1")).QueryRow("SELECT @@gtid_binlog_pos").Scan(&pos); err != nil {
		t.Fatal(err)
	}
	if got := queryInt(t, openDB(t, c.AdminDSN(replica)), "SELECT MASTER_GTID_WAIT(?, 20)", pos); got != 0 {
		t.Fatalf("%s: MASTER_GTID_WAIT(%q) = %d, want 0", replica, pos, got)
	}
}

// strayProcesses returns the pids of live processes whose command line
// mentions dir.
func strayProcesses(dir string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || !bytes.Contains(cmdline, []byte(dir)) {
			continue
		}
		stat, _ := os.ReadFile("/proc/" + e.Name() + "/stat")
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}
