package router

import (
	"regexp"
	"testing"
	"time"
)

// TestRoutePreparedMatchesRoute routes the corpus, each text prepared
// once, through two sessions, one with Route and one with
// RoutePrepared, over rounds that change the stored function set and the
// rules between executes, and compares every decision and the statistics.
func TestRoutePreparedMatchesRoute(t *testing.T) {
	ra, rb := lexOnceRouter(t), lexOnceRouter(t)
	snap := testSnap()
	sa, sb := ra.NewSession("u", ""), rb.NewSession("u", "")
	corpus := lexOnceCorpus()
	preps := make([]Prepared, len(corpus))
	for i, q := range corpus {
		preps[i] = Prepare([]byte(q))
	}
	rules := Config{MaxReplicaLag: 5 * time.Second, Rules: []Rule{
		{Name: "in-list", Digest: regexp.MustCompile(`IN \(\.\.\.\)`), Action: ActionRoute, Route: RoutePrimary},
		{Name: "sbtest", Match: regexp.MustCompile(`sbtest1 WHERE id=5012`), Action: ActionRoute, Route: RouteReplica},
		{Name: "log", Digest: regexp.MustCompile(`^SELECT \?$`), Action: ActionLog},
		{Name: "no-get-lock", Digest: regexp.MustCompile(`GET_LOCK`), Action: ActionReject, Message: "no"},
	}}
	rounds := []struct {
		name  string
		funcs []string
		cfg   *Config
		flags Flags
	}{
		{name: "funcs", funcs: []string{"f", "log_visit", "db.g"}},
		{name: "hint", funcs: []string{"f", "log_visit", "db.g"}, flags: FlagHintPrimary},
		{name: "no funcs"},
		{name: "other funcs", funcs: []string{"LOG_VISIT", "g", "c"}},
		{name: "rules", funcs: []string{"g"}, cfg: &rules},
		{name: "funcs again", funcs: []string{"f", "log_visit", "db.g"}},
	}
	for _, rd := range rounds {
		ra.SetStoredFunctions(rd.funcs)
		rb.SetStoredFunctions(rd.funcs)
		if rd.cfg != nil {
			if err := ra.Reload(*rd.cfg); err != nil {
				t.Fatal(err)
			}
			if err := rb.Reload(*rd.cfg); err != nil {
				t.Fatal(err)
			}
		}
		for i, q := range corpus {
			sql := []byte(q)
			st := Classify(sql)
			if preps[i].Statement != st {
				t.Fatalf("%q: prepared classification %+v, want %+v", sql, preps[i].Statement, st)
			}
			st.Flags |= rd.flags
			// Through the long-lived sessions (whose pins the corpus
			// changes) and through new ones (where reads reach the stored
			// function check).
			for _, ss := range [][2]*Session{{sa, sb}, {ra.NewSession("u", ""), rb.NewSession("u", "")}} {
				start := time.Now()
				da := ss[0].Route(st, sql, snap)
				db := ss[1].RoutePrepared(&preps[i], rd.flags, snap, start)
				if da != db {
					t.Fatalf("%s: %q: RoutePrepared %+v, want %+v", rd.name, sql, db, da)
				}
				res := Result{Target: da.Target, Backend: da.Backend, Status: StatusAutocommit, StatusKnown: true, Duration: time.Microsecond}
				ss[0].Observe(res)
				ss[1].Observe(res)
				if pa, pb := ss[0].Pins(), ss[1].Pins(); pa != pb {
					t.Fatalf("%s: %q: pins %v after RoutePrepared, want %v", rd.name, sql, pb, pa)
				}
			}
		}
	}
	sameStats(t, "RoutePrepared", ra, rb)
}

// TestRoutePreparedStoredFunctionChange checks that the cached stored
// function check follows the router's set.
func TestRoutePreparedStoredFunctionChange(t *testing.T) {
	r := lexOnceRouter(t)
	r.SetStoredFunctions(nil)
	snap := testSnap()
	s := r.NewSession("u", "")
	p := Prepare([]byte("SELECT db.Audit(c) FROM t WHERE id = ?"))
	for _, step := range []struct {
		funcs []string
		want  Target
	}{
		{nil, TargetReplica},
		{[]string{"audit"}, TargetPrimary},
		{[]string{"audit"}, TargetPrimary},
		{[]string{"other"}, TargetReplica},
		{[]string{"db.AUDIT"}, TargetPrimary},
		{nil, TargetReplica},
	} {
		r.SetStoredFunctions(step.funcs)
		d := s.RoutePrepared(&p, 0, snap, time.Now())
		s.Observe(Result{Target: d.Target, Backend: d.Backend, Status: StatusAutocommit, StatusKnown: true, Duration: time.Microsecond})
		if d.Target != step.want {
			t.Fatalf("stored functions %q: %v (%v), want %v", step.funcs, d.Target, d.Reason, step.want)
		}
	}
}

func TestRoutePreparedAllocs(t *testing.T) {
	r := lexOnceRouter(t)
	snap := testSnap()
	s := r.NewSession("u", "")
	for _, q := range allocStatements {
		p := Prepare([]byte(q))
		for _, flags := range []Flags{0, FlagHintPrimary} {
			allocs := testing.AllocsPerRun(100, func() {
				d := s.RoutePrepared(&p, flags, snap, time.Now())
				s.Observe(Result{Target: d.Target, Backend: d.Backend, Status: StatusAutocommit, StatusKnown: true, Duration: time.Microsecond})
			})
			if allocs != 0 {
				t.Errorf("%s: %v allocations per RoutePrepared+Observe, want 0", q, allocs)
			}
		}
	}
}
