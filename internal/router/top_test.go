package router

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestFetchAndWriteTop(t *testing.T) {
	st := NewStats(0)
	st.recordAt(1, 0, []byte("SELECT * FROM mdl_user WHERE id = ?"), Result{Target: TargetReplica, Rows: 1, Duration: 2 * time.Millisecond}, time.Now())
	st.recordAt(1, 1, []byte("ignored"), Result{Target: TargetReplica, Rows: 1, Duration: 4 * time.Millisecond}, time.Now())
	st.recordAt(2, 0, []byte("UPDATE mdl_user SET lastaccess = ? WHERE id = ?"), Result{Target: TargetPrimary, Duration: 10 * time.Millisecond, Err: true}, time.Now())
	st.recordAt(3, 0, []byte("SELECT ?"), Result{Target: TargetReplica, Duration: time.Microsecond}, time.Now())
	srv := httptest.NewServer(http.StripPrefix("/api/v1/digests", st.Handler()))
	defer srv.Close()

	got, err := FetchDigests(context.Background(), srv.Client(), srv.URL, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Text != "UPDATE mdl_user SET lastaccess = ? WHERE id = ?" || got[1].Count != 2 {
		t.Fatalf("FetchDigests = %+v, want the UPDATE then the 2 SELECTs", got)
	}
	var buf bytes.Buffer
	if err := WriteTop(&buf, got, 30); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("table has %d lines, want header + 2:\n%s", len(lines), buf.String())
	}
	for _, want := range []string{"COUNT", "UPDATE mdl_user SET lastacc...", "3ms"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, buf.String())
		}
	}
	if _, err := FetchDigests(context.Background(), srv.Client(), srv.URL+"/nothing-here", 2); err == nil {
		t.Errorf("FetchDigests from a wrong path: no error")
	}
}

func TestSortDigests(t *testing.T) {
	ds := []DigestStat{
		{Text: "a", Count: 10, Total: 10 * time.Millisecond, Max: time.Millisecond, Errors: 0, Rows: 5},
		{Text: "b", Count: 1, Total: 20 * time.Millisecond, Max: 20 * time.Millisecond, Errors: 2, Rows: 1},
		{Text: "c", Count: 5, Total: 6 * time.Millisecond, Max: 3 * time.Millisecond, Errors: 1, Rows: 50},
	}
	for key, want := range map[string]string{"total": "bac", "count": "acb", "mean": "bca", "max": "bca", "errors": "bca", "rows": "cab"} {
		if err := SortDigests(ds, key); err != nil {
			t.Fatal(err)
		}
		got := ""
		for _, d := range ds {
			got += d.Text
		}
		if got != want {
			t.Errorf("sort by %s: %s, want %s", key, got, want)
		}
	}
	if err := SortDigests(ds, "bogus"); err == nil {
		t.Errorf("unknown sort key: no error")
	}
}
