package manager

import (
	"github.com/prometheus/client_golang/prometheus"
)

// collector exports the engine's status at scrape time.
type collector struct {
	eng                                         Engine
	epoch, up, lag, readOnly, primary, blk, fos *prometheus.Desc
}

func registerMetrics(reg *prometheus.Registry, eng Engine) error {
	c := &collector{
		eng:      eng,
		epoch:    prometheus.NewDesc("vigil_manager_epoch", "Current topology epoch.", []string{"cluster"}, nil),
		primary:  prometheus.NewDesc("vigil_manager_has_primary", "1 when the cluster has a designated primary.", []string{"cluster"}, nil),
		blk:      prometheus.NewDesc("vigil_manager_failover_blocked", "1 while automatic failover is blocked (anti-flap).", []string{"cluster"}, nil),
		fos:      prometheus.NewDesc("vigil_manager_failovers_total", "Failovers completed by this manager process.", []string{"cluster"}, nil),
		up:       prometheus.NewDesc("vigil_server_up", "1 when the last probe reached the server.", []string{"cluster", "server", "role"}, nil),
		lag:      prometheus.NewDesc("vigil_server_lag_seconds", "Replica lag (-1 unknown).", []string{"cluster", "server"}, nil),
		readOnly: prometheus.NewDesc("vigil_server_read_only", "The server's read_only.", []string{"cluster", "server"}, nil),
	}
	return reg.Register(c)
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.epoch, c.primary, c.blk, c.fos, c.up, c.lag, c.readOnly} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	st := c.eng.Status()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	gauge(c.epoch, float64(st.Epoch), st.Cluster)
	gauge(c.primary, b2f(st.Primary != ""), st.Cluster)
	gauge(c.blk, b2f(!st.BlockedUntil.IsZero()), st.Cluster)
	ch <- prometheus.MustNewConstMetric(c.fos, prometheus.CounterValue, float64(st.Failovers), st.Cluster)
	for _, n := range st.Nodes {
		gauge(c.up, b2f(n.Up), st.Cluster, n.Name, string(n.Role))
		lag := n.Lag.Seconds()
		if n.Lag < 0 {
			lag = -1
		}
		gauge(c.lag, lag, st.Cluster, n.Name)
		gauge(c.readOnly, b2f(n.ReadOnly), st.Cluster, n.Name)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
