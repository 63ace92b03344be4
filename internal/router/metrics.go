package router

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the router's Prometheus collectors. A nil *metrics is a no-op.
type metrics struct {
	routed [TargetReject + 1][ReasonNoReplica + 1]prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, st *Stats) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vigil_router_statements_total",
		Help: "Statements routed, by where they ran and why.",
	}, []string{"target", "reason"})
	digests := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "vigil_router_digests",
		Help: "Distinct statement digests in the statistics table.",
	}, func() float64 { return float64(st.Len()) })
	for _, c := range []prometheus.Collector{vec, digests} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register router metrics: %w", err)
		}
	}
	m := &metrics{}
	for t := TargetPrimary; t <= TargetReject; t++ {
		for r := ReasonRead; r <= ReasonNoReplica; r++ {
			m.routed[t][r] = vec.WithLabelValues(t.String(), r.String())
		}
	}
	return m, nil
}

func (m *metrics) observe(t Target, r Reason) {
	if m == nil || t == 0 || t > TargetReject || r > ReasonNoReplica {
		return
	}
	m.routed[t][r].Inc()
}
