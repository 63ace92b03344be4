package proxy_test

import (
	"testing"
	"time"

	"vigil/internal/sandbox/sandboxtest"
)

// A primary that turns read-only before the proxy hears of it (a
// switchover's fence, or an operator) refuses writes with 1290 and runs
// nothing of them: the proxy holds such a write until the primary is
// writable and runs it again, unless the session is pinned there.
func TestReadOnlyRefusalRunsAgain(t *testing.T) {
	h := newHarness(t, 0, nil)
	db := h.appSession()
	sandboxtest.Exec(t, db, "CREATE TABLE ro (id INT PRIMARY KEY)", "INSERT INTO ro VALUES (1)")

	prepared, err := db.Prepare("INSERT INTO ro VALUES (?)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := prepared.Exec(10); err != nil { // prepared and run on the writable primary
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		id    int
		write func() error
	}{
		{"text write", 2, func() error { _, err := db.Exec("INSERT INTO ro VALUES (2)"); return err }},
		{"prepared write", 11, func() error { _, err := prepared.Exec(11); return err }},
	} {
		t.Run(tc.name+" waits and runs", func(t *testing.T) {
			retries := metricValue(t, h.reg, "vigil_proxy_readonly_retries_total")
			refused := metricValue(t, h.reg, loopHandbacks, "at", "refused")
			adm := sandboxtest.OpenDB(t, h.c.AdminDSN("db1"))
			sandboxtest.Exec(t, adm, "SET GLOBAL read_only = 1")
			reopened := make(chan struct{})
			go func() {
				defer close(reopened)
				time.Sleep(400 * time.Millisecond)
				if _, err := adm.Exec("SET GLOBAL read_only = 0"); err != nil {
					t.Errorf("read_only = 0: %v", err)
				}
			}()
			start := time.Now()
			err := tc.write()
			<-reopened
			if err != nil {
				t.Fatalf("write refused as read-only reached the client: %v", err)
			}
			if d := time.Since(start); d < 300*time.Millisecond {
				t.Errorf("write finished after %v, before the primary was writable again", d)
			}
			var n int
			if err := db.QueryRow("SELECT COUNT(*) FROM ro WHERE id = ?", tc.id).Scan(&n); err != nil || n != 1 {
				t.Fatalf("rows with id %d: %d (%v), want 1", tc.id, n, err)
			}
			if got := metricValue(t, h.reg, "vigil_proxy_readonly_retries_total") - retries; got < 1 {
				t.Errorf("readonly_retries_total grew by %v, want at least 1", got)
			}
			if got := metricValue(t, h.reg, loopHandbacks, "at", "refused") - refused; onLoop() && got != 1 {
				t.Errorf("loop handbacks at refused grew by %v, want 1 (the loop found the refusal)", got)
			}
		})
	}

	t.Run("pinned session gets the error", func(t *testing.T) {
		sandboxtest.Exec(t, db, "DO GET_LOCK('vigil_ro', 0)") // a user lock pins the session
		h.admin("db1", "SET GLOBAL read_only = 1")
		defer h.admin("db1", "SET GLOBAL read_only = 0")
		start := time.Now()
		_, err := db.Exec("INSERT INTO ro VALUES (3)")
		if mysqlErrNo(err) != 1290 {
			t.Fatalf("pinned write on a read-only primary: got %v, want error 1290", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("pinned write failed after %v: it was held, want the error at once", d)
		}
		sandboxtest.Exec(t, db, "DO RELEASE_LOCK('vigil_ro')")
	})
}
