package router

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"
)

// lexOnceCases are texts where the fused pass's look-ahead handling matters.
var lexOnceCases = []string{
	"SELECT * FROM t WHERE id IN (1, 2, 3)",
	"SELECT * FROM t WHERE id IN ()",
	"SELECT * FROM t WHERE id IN (1, a)",
	"SELECT * FROM t WHERE id IN (1, -2, +3, NULL, 'x', ?)",
	"SELECT * FROM t WHERE id IN (1, (2))",
	"SELECT * FROM t WHERE id IN ((1), 2)",
	"SELECT * FROM t WHERE id IN (1, 2",
	"SELECT * FROM t WHERE id IN (",
	"SELECT f(1, g(2, 3), (4), ())",
	"INSERT INTO t VALUES (1,'a'),(2,'b'),(3,NULL)",
	"INSERT INTO t VALUES (1,'a'),(2,b),(3,NULL)",
	"INSERT INTO t VALUES (1,'a'),(2,'b'),",
	"INSERT INTO t VALUES (1,'a'),(2,'b'),(",
	"INSERT INTO t VALUES (1,'a'),(2,'b'),(3",
	"INSERT INTO t VALUES (1,'a'),(2,'b'), x",
	"INSERT INTO t VALUES (1),(2),((3))",
	"INSERT INTO t VALUES (1),(),(3)",
	"INSERT INTO t (a,b) VALUES (?,?) ON DUPLICATE KEY UPDATE a=VALUES(a)",
	"SELECT (1),(2) ; SELECT (3)",
	"CREATE TEMPORARY TABLE t1 (a INT)",
	"SELECT 1 /*! , (2, 3) */",
	"/*!SET STATEMENT max_statement_time=1 FOR*/ SELECT (1, 2)",
	"SET STATEMENT max_statement_time=1 FOR SELECT f(1)",
	"SET STATEMENT max_statement_time=1 ; SELECT f(1)",
	"SET STATEMENT max_statement_time=(1)",
	"/*!SET STATEMENT x=1 ; */ SELECT f(1)",
	"SELECT f('a\\'', 1), g(2)",
	"SELECT 'a\\' , log_visit(1) -- '",
	"SELECT `f`(1), db.g(2), `db`.`log_visit`(3)",
	"SELECT @@(1), @(2), @@",
	"SELECT GET_LOCK('a', 10), NEXT VALUE FOR s",
	"SELECT c FROM sbtest1 WHERE id=5012",
	"SHOW WARNINGS; SELECT (1)",
	"DROP TEMPORARY TABLE IF EXISTS a, `b`.c (1)",
	"WITH x AS (SELECT (1)) DELETE FROM t WHERE id IN (1,2)",
	"SELECT (((((1)))))",
	"SELECT ((1),(2)),(3)",
}

// lexOnceCorpus is every test text of the package that the fused pass
// must agree on.
func lexOnceCorpus() []string {
	var c []string
	for _, cc := range classifyCases {
		c = append(c, cc.sql)
	}
	for _, b := range benchStatements {
		c = append(c, b.sql)
	}
	c = append(c, lexOnceCases...)
	// Digest text cut at MaxDigestLen inside and around literal lists.
	for _, pad := range []int{MaxDigestLen - 40, MaxDigestLen - 9, MaxDigestLen - 8, MaxDigestLen - 7, MaxDigestLen - 2, MaxDigestLen} {
		p := "SELECT " + strings.Repeat("a", pad) + " "
		for _, tail := range []string{"IN (1,2),(3) , f(1)", "(1),(2,3),(x)", "f(a, 1), (2)", "x, y, z (1", "VALUES (1),(2),(3),(4)"} {
			c = append(c, p+tail)
		}
	}
	return c
}

// checkLexOnce compares the fused pass over sql with the separate ones.
func checkLexOnce(t *testing.T, r *Router, sql []byte) {
	t.Helper()
	lx := digestSink{sql: sql, dst: make([]byte, 0, 8), funcs: r.funcs.Load()}
	st, _ := classifyWith(sql, &lx)
	if want := Classify(sql); st != want {
		t.Fatalf("%q: fused classification %+v, want %+v", sql, st, want)
	}
	if !lx.eof {
		if !bytes.Contains(bytes.ToUpper(sql), []byte("STATEMENT")) {
			t.Errorf("%q: fused pass incomplete", sql)
		}
		return
	}
	n, h := lx.digest()
	wn, wh := normalizeInto(nil, sql)
	if !bytes.Equal(n, wn) || h != wh {
		t.Fatalf("%q: fused digest %q %x, want %q %x", sql, n, h, wn, wh)
	}
	if got, want := lx.callsStored(), r.callsStored(sql); got != want {
		t.Fatalf("%q: fused stored function check %v, want %v", sql, got, want)
	}
}

func lexOnceRouter(t testing.TB) *Router {
	r, err := New(Config{MaxReplicaLag: 5 * time.Second}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.SetStoredFunctions([]string{"f", "log_visit", "db.g"})
	return r
}

func TestLexOnceMatchesSeparatePasses(t *testing.T) {
	r := lexOnceRouter(t)
	for _, sql := range lexOnceCorpus() {
		checkLexOnce(t, r, []byte(sql))
	}
	r.SetStoredFunctions(nil)
	for _, sql := range lexOnceCorpus() {
		checkLexOnce(t, r, []byte(sql))
	}
}

func FuzzLexOnce(f *testing.F) {
	for _, sql := range lexOnceCorpus() {
		f.Add([]byte(sql))
	}
	r := lexOnceRouter(f)
	f.Fuzz(func(t *testing.T, sql []byte) {
		checkLexOnce(t, r, sql)
	})
}

// TestRouteQueryMatchesRoute runs the corpus through two sessions, one
// with Classify+Route and one with RouteQuery, and compares every
// decision and the statistics.
func TestRouteQueryMatchesRoute(t *testing.T) {
	ra, rb := lexOnceRouter(t), lexOnceRouter(t)
	snap := testSnap()
	sa, sb := ra.NewSession("u", ""), rb.NewSession("u", "")
	for _, q := range lexOnceCorpus() {
		sql := []byte(q)
		st := Classify(sql)
		da := sa.Route(st, sql, snap)
		stb, db := sb.RouteQuery(sql, snap, time.Now())
		if stb != st || da != db {
			t.Fatalf("%q: RouteQuery %+v %+v, want %+v %+v", sql, stb, db, st, da)
		}
		res := Result{Target: da.Target, Backend: da.Backend, Status: StatusAutocommit, StatusKnown: true, Duration: time.Microsecond}
		sa.Observe(res)
		sb.Observe(res)
	}
	sameStats(t, "RouteQuery", ra, rb)
}

// sameStats fails t unless rb's digest statistics match ra's (digest,
// text, count and where the statements ran); how names the way rb routed.
func sameStats(t *testing.T, how string, ra, rb *Router) {
	t.Helper()
	ta, tb := ra.Stats().Top(0), rb.Stats().Top(0)
	byDigest := func(a, b DigestStat) int { return strings.Compare(a.Digest, b.Digest) }
	slices.SortFunc(ta, byDigest)
	slices.SortFunc(tb, byDigest)
	if len(ta) != len(tb) {
		t.Fatalf("%d digests after %s, want %d", len(tb), how, len(ta))
	}
	for i := range ta {
		if ta[i].Digest != tb[i].Digest || ta[i].Text != tb[i].Text || ta[i].Count != tb[i].Count ||
			ta[i].Primary != tb[i].Primary || ta[i].Replica != tb[i].Replica {
			t.Errorf("digest %d after %s: %s %q x%d (primary %d, replica %d), want %s %q x%d (primary %d, replica %d)",
				i, how, tb[i].Digest, tb[i].Text, tb[i].Count, tb[i].Primary, tb[i].Replica,
				ta[i].Digest, ta[i].Text, ta[i].Count, ta[i].Primary, ta[i].Replica)
		}
	}
}

// allocStatements are the statements the allocation tests route: a point
// select, a Moodle select, a stored function call and a multi-row insert.
var allocStatements = []string{benchStatements[0].sql, benchStatements[2].sql,
	"SELECT db.Log_Visit(3)", "INSERT INTO t VALUES (1,'a'),(2,'b')"}

func TestRouteQueryAllocs(t *testing.T) {
	r := lexOnceRouter(t)
	snap := testSnap()
	s := r.NewSession("u", "")
	for _, q := range allocStatements {
		sql := []byte(q)
		allocs := testing.AllocsPerRun(100, func() {
			_, d := s.RouteQuery(sql, snap, time.Now())
			s.Observe(Result{Target: d.Target, Backend: d.Backend, Status: StatusAutocommit, StatusKnown: true, Duration: time.Microsecond})
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per RouteQuery+Observe, want 0", sql, allocs)
		}
	}
}
