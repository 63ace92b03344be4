package proxy

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"vigil/internal/router"
)

// Statements observed on several lanes are scraped as one counter and one
// histogram per route.
func TestStatementMetricsAddUpLanes(t *testing.T) {
	m := newStatementMetrics()
	m.observe(0, router.TargetPrimary, 30*time.Microsecond) // first bucket
	m.observe(1, router.TargetPrimary, 100*time.Microsecond)
	m.observe(7, router.TargetPrimary, time.Minute) // above every bound
	m.observe(3, router.TargetReplica, 700*time.Microsecond)
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*dto.Metric{}
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			got[mf.GetName()+"/"+mt.GetLabel()[0].GetValue()] = mt
		}
	}
	if _, ok := got["vigil_proxy_statements_total/none"]; ok {
		t.Error(`route "none" exported with nothing counted`)
	}
	if c := got["vigil_proxy_statements_total/primary"].GetCounter().GetValue(); c != 3 {
		t.Errorf("primary statements = %v, want 3", c)
	}
	if c := got["vigil_proxy_statements_total/reject"].GetCounter().GetValue(); c != 0 {
		t.Errorf("reject statements = %v, want 0 (exported at zero)", c)
	}
	h := got["vigil_proxy_statement_seconds/primary"].GetHistogram()
	if h.GetSampleCount() != 3 {
		t.Errorf("primary histogram count = %d, want 3", h.GetSampleCount())
	}
	if want := (time.Minute + 130*time.Microsecond).Seconds(); h.GetSampleSum() != want {
		t.Errorf("primary histogram sum = %v, want %v", h.GetSampleSum(), want)
	}
	wantCum := []uint64{1, 2, 2, 2, 2, 2, 2, 2, 2, 2} // 50 µs, 200 µs, ... 13.1 s
	if n := len(h.GetBucket()); n != len(wantCum) {
		t.Fatalf("primary histogram has %d buckets, want %d", n, len(wantCum))
	}
	for i, b := range h.GetBucket() {
		if b.GetUpperBound() != latencyBounds[i].Seconds() || b.GetCumulativeCount() != wantCum[i] {
			t.Errorf("bucket %d: le=%v count=%d, want le=%v count=%d", i, b.GetUpperBound(), b.GetCumulativeCount(),
				latencyBounds[i].Seconds(), wantCum[i])
		}
	}
	if r := got["vigil_proxy_statement_seconds/replica"].GetHistogram(); r.GetSampleCount() != 1 || r.GetBucket()[2].GetCumulativeCount() != 1 {
		t.Errorf("replica histogram = %v, want 1 statement in the 800 µs bucket", r)
	}
}
