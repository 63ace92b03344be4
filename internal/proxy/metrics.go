package proxy

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"vigil/internal/pool"
	"vigil/internal/router"
)

// metrics are the proxy's Prometheus metrics.
type metrics struct {
	sessions      prometheus.Gauge
	connections   prometheus.Counter
	statements    *statementMetrics
	errors        *prometheus.CounterVec
	backendErrors *prometheus.CounterVec
	holds         prometheus.Counter
	holdSeconds   prometheus.Histogram
	// readOnlyRetries counts writes a read-only primary refused that ran
	// again once a primary was writable.
	readOnlyRetries prometheus.Counter
	// loopRuns reports the statements the event loops ran in place (each
	// loop counts its own: no cache line shared between loops); loopBacks,
	// by loopBack, sessions they gave back to their goroutines.
	loopRuns  prometheus.CounterFunc
	loopBack  *prometheus.CounterVec
	loopBacks [backEnd + 1]prometheus.Counter
	// Pipelines (pipeline.go): reads answered on pipelines (counted per
	// loop, as loopRuns), pipelines open, opened and closed, reads given
	// back to run again.
	pipeRuns   prometheus.CounterFunc
	pipesOpen  prometheus.GaugeFunc
	pipeOpens  prometheus.Counter
	pipeCloses *prometheus.CounterVec
	pipeAgain  *prometheus.CounterVec
	now        func() time.Time
	// loops are the server's event loops, set once they start: their
	// counters are per loop, added up when scraped (loopSum).
	loops atomic.Pointer[[]*loop]
}

// loopSum returns a function adding up f over the server's event loops (0
// before they start).
func (m *metrics) loopSum(f func(*loop) float64) func() float64 {
	return func() float64 {
		ls := m.loops.Load()
		if ls == nil {
			return 0
		}
		var n float64
		for _, l := range *ls {
			n += f(l)
		}
		return n
	}
}

func newMetrics(reg prometheus.Registerer, p *pool.Pool) (*metrics, error) {
	m := &metrics{
		sessions: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "vigil", Subsystem: "proxy", Name: "sessions", Help: "Client sessions open now.",
		}),
		connections: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "vigil", Subsystem: "proxy", Name: "connections_total", Help: "Client connections accepted.",
		}),
		statements: newStatementMetrics(),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "vigil", Subsystem: "proxy", Name: "errors_total", Help: "Errors the proxy itself answered, by kind.",
		}, []string{"kind"}),
		backendErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "vigil", Subsystem: "proxy", Name: "backend_errors_total", Help: "Backend connection failures, by server and phase.",
		}, []string{"server", "phase"}),
		holds: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "vigil", Subsystem: "proxy", Name: "holds_total", Help: "Statements that waited for a writable primary.",
		}),
		holdSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "vigil", Subsystem: "proxy", Name: "hold_seconds", Help: "How long held statements waited.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 12),
		}),
		readOnlyRetries: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "vigil", Subsystem: "proxy", Name: "readonly_retries_total",
			Help: "Statements a read-only primary refused (error 1290, nothing ran) that waited for a writable primary and ran again.",
		}),
		loopBack: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "vigil", Subsystem: "proxy", Name: "loop_handbacks_total",
			Help: "Sessions the event loop gave back to their goroutines, by the step they were at.",
		}, []string{"at"}),
		pipeOpens: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "vigil", Subsystem: "proxy", Name: "pipeline_opens_total",
			Help: "Pipeline connections the event loops began to open (proxy.pipelines).",
		}),
		pipeCloses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "vigil", Subsystem: "proxy", Name: "pipeline_closes_total",
			Help: "Pipeline connections closed, by why: io, protocol, large (an answer over the buffer), stall, killed (KILL QUERY of a read on it), idle, stop.",
		}, []string{"why"}),
		pipeAgain: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "vigil", Subsystem: "proxy", Name: "pipeline_reruns_total",
			Help: "Reads sent on a pipeline that ran again on their session's own connection, by why (diagnostics: an answer with warnings or an error, which the session's connection gives again).",
		}, []string{"why"}),
		now: time.Now,
	}
	m.pipesOpen = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "vigil", Subsystem: "proxy", Name: "pipelines",
		Help: "Pipeline connections the event loops hold open now (lent by the pool).",
	}, m.loopSum(func(l *loop) float64 { return float64(l.pipesOpen.Load()) }))
	m.pipeRuns = prometheus.NewCounterFunc(prometheus.CounterOpts{
		Namespace: "vigil", Subsystem: "proxy", Name: "pipeline_statements_total",
		Help: "Reads answered on pipelines (proxy.pipelines); also counted in loop_statements_total.",
	}, m.loopSum(func(l *loop) float64 { return float64(l.pipeRan.Load()) }))
	m.loopRuns = prometheus.NewCounterFunc(prometheus.CounterOpts{
		Namespace: "vigil", Subsystem: "proxy", Name: "loop_statements_total",
		Help: "Statements the event loops ran in place (data_path: loop).",
	}, m.loopSum(func(l *loop) float64 { return float64(l.ran.Load()) }))
	for b := range m.loopBacks {
		m.loopBacks[b] = m.loopBack.WithLabelValues(loopBack(b).String())
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.sessions, m.connections, m.statements,
		m.errors, m.backendErrors, m.holds, m.holdSeconds, m.readOnlyRetries, m.loopRuns, m.loopBack,
		m.pipeRuns, m.pipesOpen, m.pipeOpens, m.pipeCloses, m.pipeAgain, poolCollector{p}} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// observe counts a statement of a session on lane and its latency.
func (m *metrics) observe(ln uint32, t router.Target, start time.Time) {
	m.statements.observe(ln, t, time.Since(start))
}

// poolCollector exports the pool's per-server counts.
type poolCollector struct{ p *pool.Pool }

var (
	poolOpenDesc = prometheus.NewDesc("vigil_proxy_pool_connections",
		"Backend connections by server address and state (busy or idle).", []string{"addr", "state"}, nil)
	poolDialsDesc = prometheus.NewDesc("vigil_proxy_pool_dials_total",
		"Backend connections opened, by server address.", []string{"addr"}, nil)
	poolReusesDesc = prometheus.NewDesc("vigil_proxy_pool_reuses_total",
		"Idle backend connections handed to a session, by server address.", []string{"addr"}, nil)
	poolWarmedDesc = prometheus.NewDesc("vigil_proxy_pool_warmed_total",
		"Backend connections opened ahead of demand by warm-up, by server address.", []string{"addr"}, nil)
	poolWarmFailuresDesc = prometheus.NewDesc("vigil_proxy_pool_warm_failures_total",
		"Failed warm-up connection attempts, by server address.", []string{"addr"}, nil)
	poolBrokenDesc = prometheus.NewDesc("vigil_proxy_pool_broken_total",
		"Idle backend connections found dead (failed ping or re-login) and closed, by server address.", []string{"addr"}, nil)
)

func (c poolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- poolOpenDesc
	ch <- poolDialsDesc
	ch <- poolReusesDesc
	ch <- poolWarmedDesc
	ch <- poolWarmFailuresDesc
	ch <- poolBrokenDesc
}

func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	for addr, st := range c.p.Stats() {
		ch <- prometheus.MustNewConstMetric(poolOpenDesc, prometheus.GaugeValue, float64(st.Open-st.Idle), addr, "busy")
		ch <- prometheus.MustNewConstMetric(poolOpenDesc, prometheus.GaugeValue, float64(st.Idle), addr, "idle")
		ch <- prometheus.MustNewConstMetric(poolDialsDesc, prometheus.CounterValue, float64(st.Dials), addr)
		ch <- prometheus.MustNewConstMetric(poolReusesDesc, prometheus.CounterValue, float64(st.Reuses), addr)
		ch <- prometheus.MustNewConstMetric(poolWarmedDesc, prometheus.CounterValue, float64(st.Warmed), addr)
		ch <- prometheus.MustNewConstMetric(poolWarmFailuresDesc, prometheus.CounterValue, float64(st.WarmFailures), addr)
		ch <- prometheus.MustNewConstMetric(poolBrokenDesc, prometheus.CounterValue, float64(st.Broken), addr)
	}
}
