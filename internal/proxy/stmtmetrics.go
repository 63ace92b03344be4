package proxy

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"vigil/internal/lane"
	"vigil/internal/router"
)

// statementMetrics are vigil_proxy_statements_total{route} and the
// vigil_proxy_statement_seconds{route} histogram, counted per lane (a
// session's event loop, see session.lane) so that loops share no cache
// line per statement, and added up when scraped.
type statementMetrics struct{ c *lane.Counters }

// latencyBounds are the histogram's upper bounds: 50 µs times powers of 4.
var latencyBounds = func() []time.Duration {
	b := make([]time.Duration, 10)
	for i := range b {
		b[i] = 50 * time.Microsecond << (2 * i)
	}
	return b
}()

// Per route (router.Target, "none" included): the count, the sum in
// nanoseconds, then one counter per bound (not cumulative: observations
// above the last bound are only in the count).
const (
	routes   = int(router.TargetReject) + 1
	perRoute = 2
)

var (
	statementsDesc = prometheus.NewDesc("vigil_proxy_statements_total", "Statements run, by route.", []string{"route"}, nil)
	latencyDesc    = prometheus.NewDesc("vigil_proxy_statement_seconds",
		"Time from receiving a statement to the end of its answer, by route.", []string{"route"}, nil)
)

func newStatementMetrics() *statementMetrics {
	return &statementMetrics{lane.NewCounters(routes * (perRoute + len(latencyBounds)))}
}

func (m *statementMetrics) observe(ln uint32, t router.Target, took time.Duration) {
	base := int(min(t, router.TargetReject)) * (perRoute + len(latencyBounds))
	m.c.Add(ln, base, 1)
	m.c.Add(ln, base+1, uint64(max(took, 0)))
	for i, b := range latencyBounds {
		if took <= b {
			m.c.Add(ln, base+perRoute+i, 1)
			break
		}
	}
}

// Describe implements prometheus.Collector.
func (m *statementMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- statementsDesc
	ch <- latencyDesc
}

// Collect implements prometheus.Collector: primary, replica and reject
// always, "none" once it counted. Buckets are read before the count, which
// is added to first, so that no bucket exceeds the count.
func (m *statementMetrics) Collect(ch chan<- prometheus.Metric) {
	for t := range router.Target(routes) {
		base := int(t) * (perRoute + len(latencyBounds))
		buckets := make(map[float64]uint64, len(latencyBounds))
		var cum uint64
		for i, b := range latencyBounds {
			cum += m.c.Sum(base + perRoute + i)
			buckets[b.Seconds()] = cum
		}
		sum := time.Duration(m.c.Sum(base + 1)).Seconds()
		count := m.c.Sum(base)
		if t == 0 && count == 0 {
			continue
		}
		ch <- prometheus.MustNewConstMetric(statementsDesc, prometheus.CounterValue, float64(count), t.String())
		ch <- prometheus.MustNewConstHistogram(latencyDesc, count, sum, buckets, t.String())
	}
}
