package router

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"vigil/internal/lane"
)

// metrics are the router's Prometheus collectors. A nil *metrics is a no-op.
// The statement counters are kept per lane (Session.SetLane), added up
// when scraped.
type metrics struct {
	routed *lane.Counters // by routedIndex
}

const numReasons = int(ReasonNoReplica) + 1

func routedIndex(t Target, r Reason) int { return int(t-TargetPrimary)*numReasons + int(r) }

var routedDesc = prometheus.NewDesc("vigil_router_statements_total",
	"Statements routed, by where they ran and why.", []string{"target", "reason"}, nil)

func newMetrics(reg prometheus.Registerer, st *Stats) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &metrics{routed: lane.NewCounters(int(TargetReject) * numReasons)}
	digests := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "vigil_router_digests",
		Help: "Distinct statement digests in the statistics table.",
	}, func() float64 { return float64(st.Len()) })
	for _, c := range []prometheus.Collector{m, digests} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register router metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) observe(ln uint32, t Target, r Reason) {
	if m == nil || t == 0 || t > TargetReject || r > ReasonNoReplica {
		return
	}
	m.routed.Add(ln, routedIndex(t, r), 1)
}

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) { ch <- routedDesc }

// Collect implements prometheus.Collector: every target and reason, zeros
// included.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	for t := TargetPrimary; t <= TargetReject; t++ {
		for r := ReasonRead; r <= ReasonNoReplica; r++ {
			ch <- prometheus.MustNewConstMetric(routedDesc, prometheus.CounterValue,
				float64(m.routed.Sum(routedIndex(t, r))), t.String(), r.String())
		}
	}
}
