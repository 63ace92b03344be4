package vip

import (
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"vigil/internal/vip/vrrp"
)

// fakeIO records what the session asks of its seams.
type fakeIO struct {
	sent      []netip.Addr // destinations of sent adverts
	pkts      [][]byte     // their payloads
	addrs     map[netip.Prefix]bool
	announced int
}

func (f *fakeIO) Send(dst netip.Addr, pkt []byte) error {
	f.sent, f.pkts = append(f.sent, dst), append(f.pkts, pkt)
	return nil
}
func (f *fakeIO) Recv([]byte) (packet, error)     { return packet{}, io.EOF }
func (f *fakeIO) Close() error                    { return nil }
func (f *fakeIO) Add(p netip.Prefix) error        { f.addrs[p] = true; return nil }
func (f *fakeIO) Remove(p netip.Prefix) error     { delete(f.addrs, p); return nil }
func (f *fakeIO) Has(ip netip.Addr) (bool, error) { return f.addrs[netip.PrefixFrom(ip, 24)], nil }
func (f *fakeIO) Announce(ip netip.Addr) error    { f.announced++; return nil }

var (
	local = netip.MustParseAddr("10.0.0.11")
	peer  = netip.MustParseAddr("10.0.0.12")
	vipP  = netip.MustParsePrefix("10.0.0.100/24")
)

func newTestSession(t *testing.T, mod func(*Config)) (*session, *fakeIO) {
	t.Helper()
	cfg := Config{Interface: "eth0", VRID: 51, Priority: 150, Addresses: []netip.Prefix{vipP}}
	if mod != nil {
		mod(&cfg)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := New(cfg, log, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	m, err := vrrp.NewMachine(s.cfg.machineConfig(local))
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeIO{addrs: map[netip.Prefix]bool{}}
	ss := &session{Speaker: s, local: local, addrs: f, conn: f, garp: f, machine: m,
		notifier: newNotifier("", log), linkUp: true}
	return ss, f
}

func advertPacket(t *testing.T, src, dst netip.Addr, prio uint8, ttl uint8) packet {
	t.Helper()
	a := vrrp.Advert{VRID: 51, Priority: prio, Interval: 100 * time.Millisecond, Addresses: []netip.Addr{vipP.Addr()}}
	payload, err := a.Marshal(src, dst)
	if err != nil {
		t.Fatal(err)
	}
	return packet{src: src, dst: dst, ttl: ttl, payload: payload}
}

func TestSessionBecomesMasterAndAnnounces(t *testing.T) {
	ss, f := newTestSession(t, nil)
	now := time.Now()
	ss.exec(ss.machine.Start(now), "start")
	d, _ := ss.machine.Deadline()
	ss.exec(ss.machine.Tick(d), "timer")
	if !f.addrs[vipP] || f.announced != 1 || !slices.Equal(f.sent, []netip.Addr{vrrp.MulticastGroup}) {
		t.Fatalf("got addrs %v, %d GARP bursts, adverts to %v; want the VIP, 1 burst, 1 advert to 224.0.0.18",
			f.addrs, f.announced, f.sent)
	}
	if _, err := vrrp.ParseAdvert(f.pkts[0], local, vrrp.MulticastGroup); err != nil {
		t.Fatalf("advert does not parse: %v", err)
	}
	if got := value(ss.metrics.state.WithLabelValues("MASTER")); got != 1 {
		t.Fatalf("vigil_vip_state{MASTER} = %v, want 1", got)
	}
}

func TestSessionDropsInvalidPackets(t *testing.T) {
	cases := []struct {
		name   string
		mod    func(*Config)
		pkt    func(t *testing.T) packet
		reason string // "" means accepted
	}{
		{"valid multicast", nil, func(t *testing.T) packet { return advertPacket(t, peer, vrrp.MulticastGroup, 200, 255) }, ""},
		{"TTL 254", nil, func(t *testing.T) packet { return advertPacket(t, peer, vrrp.MulticastGroup, 200, 254) }, "ttl"},
		{"bad checksum", nil, func(t *testing.T) packet {
			p := advertPacket(t, peer, vrrp.MulticastGroup, 200, 255)
			p.payload[2] ^= 1
			return p
		}, "checksum"},
		{"unknown unicast peer", func(c *Config) { c.UnicastPeers = []netip.Addr{netip.MustParseAddr("10.0.0.13")} },
			func(t *testing.T) packet { return advertPacket(t, peer, local, 200, 255) }, "unknown_peer"},
		{"listed unicast peer", func(c *Config) { c.UnicastPeers = []netip.Addr{peer} },
			func(t *testing.T) packet { return advertPacket(t, peer, local, 200, 255) }, ""},
		{"truncated", nil, func(t *testing.T) packet {
			p := advertPacket(t, peer, vrrp.MulticastGroup, 200, 255)
			p.payload = p.payload[:10]
			return p
		}, "malformed"},
	}
	for _, c := range cases {
		ss, _ := newTestSession(t, c.mod)
		ss.exec(ss.machine.Start(time.Now()), "start")
		ss.handlePacket(c.pkt(t))
		received := value(ss.metrics.received)
		if c.reason == "" {
			if received != 1 {
				t.Errorf("%s: received = %v, want 1", c.name, received)
			}
			continue
		}
		if got := value(ss.metrics.dropped.WithLabelValues(c.reason)); got != 1 || received != 0 {
			t.Errorf("%s: dropped{%s} = %v, received = %v; want 1 and 0", c.name, c.reason, got, received)
		}
	}
}

func TestSessionUnicastAdvertsGoToEachPeer(t *testing.T) {
	p2 := netip.MustParseAddr("10.0.0.13")
	ss, f := newTestSession(t, func(c *Config) { c.UnicastPeers = []netip.Addr{peer, p2} })
	ss.sendAdvert(150)
	if !slices.Equal(f.sent, []netip.Addr{peer, p2}) {
		t.Fatalf("adverts went to %v, want %v", f.sent, []netip.Addr{peer, p2})
	}
	for i, dst := range f.sent {
		if _, err := vrrp.ParseAdvert(f.pkts[i], local, dst); err != nil {
			t.Fatalf("advert to %v: %v; the checksum must cover the unicast destination", dst, err)
		}
	}
}

func TestRemoveStale(t *testing.T) {
	ss, f := newTestSession(t, nil)
	f.addrs[vipP] = true
	ss.removeStale()
	if f.addrs[vipP] {
		t.Fatal("stale VIP still present after removeStale")
	}
}

// value reads a counter or gauge.
func value(m prometheus.Metric) float64 {
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		return -1
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}
