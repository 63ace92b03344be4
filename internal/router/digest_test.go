package router

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"SELECT 1", "SELECT ?"},
		{"select  *\n from t where id=5", "select * from t where id = ?"},
		{"SELECT * FROM t WHERE a = 'x' AND b = \"y\"", "SELECT * FROM t WHERE a = ? AND b = ?"},
		{"SELECT * FROM t WHERE id IN (1, 2, 3)", "SELECT * FROM t WHERE id IN (...)"},
		{"SELECT * FROM t WHERE id IN (1)", "SELECT * FROM t WHERE id IN (...)"},
		{"SELECT * FROM t WHERE id IN ('a','b')", "SELECT * FROM t WHERE id IN (...)"},
		{"INSERT INTO t VALUES (1,'a'),(2,'b'),(3,NULL)", "INSERT INTO t VALUES (...)"},
		{"INSERT INTO t (a,b) VALUES (?,?)", "INSERT INTO t(a, b) VALUES (...)"},
		{"SELECT /* c */ 1 -- x\n", "SELECT ?"},
		{"SELECT -1.5e3, 0x1F, x'41'", "SELECT - ?, ?, ?"},
		{"SELECT GET_LOCK('a', 10)", "SELECT GET_LOCK(...)"},
		{"SELECT f(a, 1)", "SELECT f(a, ?)"},
		{"SELECT `a`.`b` FROM `t`", "SELECT `a`.`b` FROM `t`"},
		{"SELECT @@session.sql_mode, @x", "SELECT @@session.sql_mode, @x"},
		{"SELECT 1; SELECT 2", "SELECT ?; SELECT ?"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Normalize([]byte(tt.in)); got != tt.want {
			t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if Digest([]byte("SELECT * FROM t WHERE id = 1")) != Digest([]byte("SELECT *  FROM t WHERE id=99")) {
		t.Errorf("same shape, different literals: digests differ")
	}
	long := "SELECT " + strings.Repeat("a, ", 2000) + "b"
	if n := len(Normalize([]byte(long))); n > MaxDigestLen {
		t.Errorf("digest text length %d > %d", n, MaxDigestLen)
	}
}

func TestTableNames(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"CREATE TEMPORARY TABLE t (a INT)", []string{"t"}},
		{"CREATE TEMPORARY TABLE IF NOT EXISTS `My``T` (a INT)", []string{"my`t"}},
		{"CREATE TEMPORARY TABLE db.t AS SELECT 1", []string{"t"}},
		{"DROP TEMPORARY TABLE IF EXISTS a, db.b, `c`", []string{"a", "b", "c"}},
		{"DROP TABLE a", []string{"a"}},
		{"DROP TABLE", nil},
	}
	for _, tt := range tests {
		if got := tableNames([]byte(tt.in)); !slices.Equal(got, tt.want) {
			t.Errorf("tableNames(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestStatsAndHandler(t *testing.T) {
	r := newTestRouter(t, Config{})
	s := r.NewSession("u", "")
	snap := testSnap()
	for i := 0; i < 3; i++ {
		sql := "SELECT * FROM t WHERE id = " + strings.Repeat("9", i+1)
		d := s.Route(Classify([]byte(sql)), []byte(sql), snap)
		s.Observe(Result{Target: d.Target, Backend: d.Backend, Rows: 1, Duration: time.Duration(i+1) * time.Millisecond})
	}
	sql := "UPDATE t SET a = 1"
	d := s.Route(Classify([]byte(sql)), []byte(sql), snap)
	s.Observe(Result{Target: d.Target, Backend: d.Backend, Err: true, Duration: 10 * time.Millisecond})

	srv := httptest.NewServer(r.Stats().Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "?limit=10")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body DigestsResponse
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if len(body.Digests) != 2 {
		t.Fatalf("got %d digests, want 2: %+v", len(body.Digests), body.Digests)
	}
	up, sel := body.Digests[0], body.Digests[1]
	if up.Text != "UPDATE t SET a = ?" || up.Errors != 1 || up.Primary != 1 {
		t.Errorf("first (busiest) digest = %+v, want the UPDATE with 1 error on the primary", up)
	}
	if sel.Text != "SELECT * FROM t WHERE id = ?" || sel.Count != 3 || sel.Replica != 3 || sel.Rows != 3 ||
		sel.Min != time.Millisecond || sel.Max != 3*time.Millisecond || sel.Total != 6*time.Millisecond {
		t.Errorf("select digest = %+v, want count 3 on replicas, 1..3ms, total 6ms", sel)
	}
	if resp, err := http.Post(srv.URL, "text/plain", nil); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %v %v, want 405", resp.StatusCode, err)
	}
	req, _ := http.NewRequest(http.MethodDelete, srv.URL, nil)
	if _, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	if n := r.Stats().Len(); n != 0 {
		t.Errorf("after DELETE: %d digests, want 0", n)
	}
}

func TestStatsCap(t *testing.T) {
	st := NewStats(32)
	for i := 0; i < 1000; i++ {
		st.recordAt(uint64(i)*7919+1, 0, []byte("x"), Result{Target: TargetPrimary}, time.Now())
	}
	if n := st.Len(); n > 32+2*statShards {
		t.Errorf("table holds %d digests, cap 32", n)
	}
	var total uint64
	for _, d := range st.Top(0) {
		total += d.Count
	}
	if total != 1000 {
		t.Errorf("counted %d executions, want 1000", total)
	}
}
