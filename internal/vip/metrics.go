package vip

import (
	"github.com/prometheus/client_golang/prometheus"

	"vigil/internal/vip/vrrp"
)

// metrics are the speaker's Prometheus series, registered on the registry
// passed to New.
type metrics struct {
	state       *prometheus.GaugeVec
	priority    prometheus.Gauge
	transitions *prometheus.CounterVec
	sent        prometheus.Counter
	received    prometheus.Counter
	dropped     *prometheus.CounterVec
	garps       prometheus.Counter
	checkUp     prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		state: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "vigil_vip_state",
			Help: "1 for the speaker's current VRRP state (INIT, BACKUP, MASTER, FAULT)."}, []string{"state"}),
		priority: prometheus.NewGauge(prometheus.GaugeOpts{Name: "vigil_vip_priority",
			Help: "Effective VRRP priority (lowered by the check weight while the check fails)."}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_vip_transitions_total",
			Help: "State changes, by new state."}, []string{"state"}),
		sent: prometheus.NewCounter(prometheus.CounterOpts{Name: "vigil_vip_adverts_sent_total",
			Help: "VRRP advertisements sent (one per destination)."}),
		received: prometheus.NewCounter(prometheus.CounterOpts{Name: "vigil_vip_adverts_received_total",
			Help: "Valid VRRP advertisements received for our VRID."}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_vip_adverts_dropped_total",
			Help: "Received VRRP packets dropped, by reason."}, []string{"reason"}),
		garps: prometheus.NewCounter(prometheus.CounterOpts{Name: "vigil_vip_garp_bursts_total",
			Help: "Gratuitous ARP bursts sent (one per virtual address)."}),
		checkUp: prometheus.NewGauge(prometheus.GaugeOpts{Name: "vigil_vip_check_up",
			Help: "1 while the local proxy health check passes."}),
	}
	for _, c := range []prometheus.Collector{m.state, m.priority, m.transitions, m.sent, m.received, m.dropped, m.garps, m.checkUp} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) setState(s vrrp.State) {
	for _, st := range []vrrp.State{vrrp.StateInit, vrrp.StateBackup, vrrp.StateMaster, vrrp.StateFault} {
		v := 0.0
		if st == s {
			v = 1
		}
		m.state.WithLabelValues(st.String()).Set(v)
	}
}
