package router

import (
	"testing"
	"time"
)

func TestStoredFunctionsRouteToPrimary(t *testing.T) {
	r, err := New(Config{MaxReplicaLag: 5 * time.Second}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	snap := testSnap()
	run := func(sql string) Decision {
		t.Helper()
		s := r.NewSession("u", "")
		b := []byte(sql)
		d := s.Route(Classify(b), b, snap)
		s.Observe(Result{Target: d.Target, Backend: d.Backend, Status: StatusAutocommit, StatusKnown: true})
		return d
	}
	if d := run("SELECT f(1)"); d.Target != TargetReplica {
		t.Fatalf("no stored functions: SELECT f(1) went to %v, want a replica", d.Target)
	}
	r.SetStoredFunctions([]string{"f", "Log_Visit", "other.g2"})
	if n := r.StoredFunctions(); n != 3 {
		t.Fatalf("StoredFunctions() = %d, want 3", n)
	}
	tests := []struct {
		sql  string
		want Target
	}{
		{"SELECT f(1)", TargetPrimary},
		{"SELECT f(?)", TargetPrimary}, // a prepared statement's text
		{"SELECT db.f(1)", TargetPrimary},
		{"SELECT `db`.`f`(1)", TargetPrimary},
		{"SELECT F(1)", TargetPrimary},
		{"select f (1)", TargetPrimary},
		{"SELECT LOG_VISIT(3)", TargetPrimary},
		{"SELECT log_visit(3) FROM dual", TargetPrimary},
		{"select x from t where g2(a)=1", TargetPrimary},
		{"SELECT a FROM t WHERE id IN (SELECT f(b) FROM u)", TargetPrimary},
		{"SELECT /*!f(1)*/ 1", TargetPrimary},
		{"select x from t where g(a)=1", TargetReplica},
		{"SELECT f", TargetReplica},
		{"SELECT f FROM t", TargetReplica},
		{"SELECT 'f(1)'", TargetReplica},
		{`SELECT "log_visit(3)"`, TargetReplica},
		{"SELECT 1 /* f(1) */", TargetReplica},
		{"SELECT 1 -- f(1)", TargetReplica},
		{"SELECT 1 # f(1)", TargetReplica},
		{"SELECT ff(1), xf(1), f_(1)", TargetReplica},
		{"SELECT `f(1)`", TargetReplica},
		// Under NO_BACKSLASH_ESCAPES the string ends at the backslash.
		{`SELECT 'a\', f(1) -- '`, TargetPrimary},
	}
	for _, tc := range tests {
		if d := run(tc.sql); d.Target != tc.want {
			t.Errorf("%s: target %v (%v), want %v", tc.sql, d.Target, d.Reason, tc.want)
		}
	}
	r.SetStoredFunctions(nil)
	if d := run("SELECT f(1)"); d.Target != TargetReplica || r.StoredFunctions() != 0 {
		t.Errorf("after clearing the set: SELECT f(1) went to %v, want a replica", d.Target)
	}
}

func TestStoredFunctionsRouteAllocs(t *testing.T) {
	r, err := New(Config{MaxReplicaLag: 5 * time.Second}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.SetStoredFunctions([]string{"log_visit", "f", "g"})
	snap := testSnap()
	s := r.NewSession("u", "")
	for _, sql := range [][]byte{
		[]byte("SELECT c FROM sbtest1 WHERE id=5012 AND LOWER(c) = 'x'"),
		[]byte("SELECT db.Log_Visit(3)"),
	} {
		st := Classify(sql)
		allocs := testing.AllocsPerRun(100, func() {
			d := s.Route(st, sql, snap)
			s.Observe(Result{Target: d.Target, Backend: d.Backend, Status: StatusAutocommit, StatusKnown: true, Duration: time.Microsecond})
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per Route+Observe, want 0", sql, allocs)
		}
	}
}
