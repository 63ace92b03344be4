package router

import (
	"testing"
	"time"
)

// Rows of one digest recorded on different lanes read as one.
func TestStatsMergeLanes(t *testing.T) {
	st := NewStats(0)
	t0 := time.Now()
	st.recordAt(7, 0, []byte("SELECT ?"), Result{Target: TargetReplica, Rows: 2, Duration: 3 * time.Millisecond}, t0.Add(time.Second))
	st.recordAt(7, 1, []byte("SELECT ?"), Result{Target: TargetPrimary, Rows: 1, Duration: time.Millisecond, Err: true}, t0)
	st.recordAt(7, 5, []byte("SELECT ?"), Result{Target: TargetReplica, Duration: 5 * time.Millisecond}, t0.Add(2*time.Second))
	if n := st.Len(); n != 1 {
		t.Fatalf("Len = %d, want 1 digest", n)
	}
	d := st.Top(0)[0]
	want := DigestStat{Digest: d.Digest, Text: "SELECT ?", Count: 3, Errors: 1, Rows: 3, Total: 9 * time.Millisecond,
		Min: time.Millisecond, Max: 5 * time.Millisecond, Primary: 1, Replica: 2,
		FirstSeen: t0, LastSeen: t0.Add(2 * time.Second)}
	if d != want {
		t.Errorf("merged row\n got %+v\nwant %+v", d, want)
	}
}
