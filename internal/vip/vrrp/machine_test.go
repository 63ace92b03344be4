package vrrp

import (
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const ms = time.Millisecond

func newTestMachine(t *testing.T, prio uint8, local netip.Addr, mod func(*Config)) *Machine {
	t.Helper()
	cfg := Config{VRID: 213, Priority: prio, AdvertInterval: 100 * ms, Preempt: true,
		LocalAddr: local, Addresses: []netip.Addr{vip}}
	if mod != nil {
		mod(&cfg)
	}
	m, err := NewMachine(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func adv(prio uint8, interval time.Duration) Advert {
	return Advert{VRID: 213, Priority: prio, Interval: interval, Addresses: []netip.Addr{vip}}
}

func kinds(acts []Action) []string {
	var s []string
	for _, a := range acts {
		s = append(s, a.String())
	}
	return s
}

func wantActs(t *testing.T, what string, got []Action, want ...string) {
	t.Helper()
	if !slices.Equal(kinds(got), want) {
		t.Fatalf("%s: got actions %v, want %v", what, kinds(got), want)
	}
}

// runUntil ticks the machine at each deadline up to end and returns the
// time of the first transition to state s (zero if none).
func runUntil(m *Machine, from, end time.Time, s State) time.Time {
	for now := from; ; {
		d, ok := m.Deadline()
		if !ok || d.After(end) {
			return time.Time{}
		}
		now = d
		m.Tick(now)
		if m.State() == s {
			return now
		}
	}
}

func TestMasterDownTimer(t *testing.T) {
	cases := []struct {
		prio     uint8
		interval time.Duration // the master's advertised interval, learned
		want     time.Duration // RFC: 3 × interval + (256-prio) × interval / 256
	}{
		{100, 100 * ms, 300*ms + 156*100*ms/256},
		{100, time.Second, 3*time.Second + 156*time.Second/256},
		{254, 100 * ms, 300*ms + 2*100*ms/256},
		{1, 2 * time.Second, 6*time.Second + 255*2*time.Second/256},
	}
	for _, c := range cases {
		m := newTestMachine(t, c.prio, srcB, nil)
		m.Start(t0)
		at := t0.Add(50 * ms)
		if _, err := m.Receive(at, srcA, adv(255, c.interval)); err != nil {
			t.Fatal(err)
		}
		got := runUntil(m, at, at.Add(time.Minute), StateMaster).Sub(at)
		if got != c.want {
			t.Errorf("prio %d, interval %v: takeover after %v, want %v", c.prio, c.interval, got, c.want)
		}
		if m.MasterAdvertInterval() != 100*ms {
			t.Errorf("master interval after takeover = %v, want own 100ms", m.MasterAdvertInterval())
		}
	}
}

func TestStartAndTakeover(t *testing.T) {
	m := newTestMachine(t, 100, srcB, nil)
	wantActs(t, "start", m.Start(t0), "notify(BACKUP)")
	d, _ := m.Deadline()
	if got, want := d.Sub(t0), 300*ms+156*100*ms/256; got != want {
		t.Fatalf("first master-down deadline after %v, want %v", got, want)
	}
	wantActs(t, "timer", m.Tick(d), "send-advert(100)", "add-vip", "send-garp", "notify(MASTER)")
	wantActs(t, "advert timer", m.Tick(d.Add(100*ms)), "send-advert(100)")
	wantActs(t, "garp repeat", m.Tick(d.Add(time.Second)), "send-advert(100)", "send-garp")
	wantActs(t, "garp refresh", m.Tick(d.Add(10*time.Second)), "send-advert(100)", "send-garp")
}

func TestOwnerStartsAsMaster(t *testing.T) {
	m := newTestMachine(t, 255, srcA, nil)
	wantActs(t, "start", m.Start(t0), "send-advert(255)", "add-vip", "send-garp", "notify(MASTER)")
}

func TestPriorityZeroMeansSkewTime(t *testing.T) {
	m := newTestMachine(t, 100, srcB, nil)
	m.Start(t0)
	m.Receive(t0, srcA, adv(150, 100*ms))
	at := t0.Add(30 * ms)
	m.Receive(at, srcA, adv(0, 100*ms))
	got := runUntil(m, at, at.Add(time.Minute), StateMaster).Sub(at)
	if want := 156 * 100 * ms / 256; got != want {
		t.Fatalf("takeover after priority 0 in %v, want skew %v", got, want)
	}
}

func TestMasterAnswersPriorityZero(t *testing.T) {
	m := newTestMachine(t, 255, srcA, nil)
	m.Start(t0)
	acts, _ := m.Receive(t0.Add(10*ms), srcB, adv(0, 100*ms))
	wantActs(t, "prio 0 to master", acts, "send-advert(255)")
}

func TestMasterReceive(t *testing.T) {
	cases := []struct {
		name  string
		own   uint8
		prio  uint8
		src   netip.Addr
		state State
		acts  []string
	}{
		{"higher priority: final advert, yield", 100, 150, srcB, StateBackup, []string{"send-advert(100)", "remove-vip", "notify(BACKUP)"}},
		{"equal priority, higher address: yield", 100, 100, srcB, StateBackup, []string{"send-advert(100)", "remove-vip", "notify(BACKUP)"}},
		{"equal priority, lower address: assert", 100, 100, netip.MustParseAddr("10.213.0.5"), StateMaster, []string{"send-advert(100)", "send-garp"}},
		{"lower priority: assert with GARP", 150, 100, srcB, StateMaster, []string{"send-advert(150)", "send-garp"}},
	}
	for _, c := range cases {
		m := newTestMachine(t, c.own, srcA, nil)
		m.Start(t0)
		d, _ := m.Deadline()
		m.Tick(d)
		acts, err := m.Receive(d.Add(ms), c.src, adv(c.prio, 100*ms))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if m.State() != c.state || !slices.Equal(kinds(acts), c.acts) {
			t.Errorf("%s: got %v %v, want %v %v", c.name, m.State(), kinds(acts), c.state, c.acts)
		}
	}
}

func TestLowerPriorityAnswerIsRateLimited(t *testing.T) {
	m := newTestMachine(t, 255, srcA, nil)
	m.Start(t0)
	a1, _ := m.Receive(t0.Add(1*ms), srcB, adv(100, 100*ms))
	a2, _ := m.Receive(t0.Add(50*ms), srcB, adv(100, 100*ms))
	a3, _ := m.Receive(t0.Add(101*ms), srcB, adv(100, 100*ms))
	if len(a1) != 2 || len(a2) != 0 || len(a3) != 2 {
		t.Fatalf("got %v / %v / %v, want an answer, nothing, an answer", kinds(a1), kinds(a2), kinds(a3))
	}
}

func TestBackupPreemption(t *testing.T) {
	cases := []struct {
		name     string
		preempt  bool
		prio     uint8
		takeover bool
	}{
		{"preempt, lower master is ignored", true, 90, true},
		{"preempt, equal master holds", true, 100, false},
		{"nopreempt, lower master holds", false, 90, false},
	}
	for _, c := range cases {
		m := newTestMachine(t, 100, srcB, func(cfg *Config) { cfg.Preempt = c.preempt })
		m.Start(t0)
		now := t0
		took := false
		for i := 0; i < 20 && !took; i++ {
			now = now.Add(100 * ms)
			m.Receive(now, srcA, adv(c.prio, 100*ms))
			took = !runUntil(m, now, now.Add(99*ms), StateMaster).IsZero()
		}
		if took != c.takeover {
			t.Errorf("%s: takeover %v, want %v", c.name, took, c.takeover)
		}
	}
}

func TestLearnsMasterInterval(t *testing.T) {
	m := newTestMachine(t, 100, srcB, nil)
	m.Start(t0)
	m.Receive(t0, srcA, adv(150, time.Second))
	if got := m.MasterAdvertInterval(); got != time.Second {
		t.Fatalf("learned interval %v, want 1s", got)
	}
	if got := runUntil(m, t0, t0.Add(time.Minute), StateMaster).Sub(t0); got < 3*time.Second {
		t.Fatalf("took over after %v, want the 1s master's 3.6s", got)
	}
}

func TestHealth(t *testing.T) {
	m := newTestMachine(t, 255, srcA, nil)
	m.Start(t0)
	wantActs(t, "check fails (weight 0)", m.SetCheck(t0, false), "send-advert(0)", "remove-vip", "notify(FAULT)")
	if _, ok := m.Deadline(); ok {
		t.Fatal("FAULT has an armed timer")
	}
	if acts, _ := m.Receive(t0, srcB, adv(100, 100*ms)); len(acts) != 0 {
		t.Fatalf("FAULT answered an advert: %v", kinds(acts))
	}
	wantActs(t, "check passes", m.SetCheck(t0.Add(time.Second), true), "notify(BACKUP)")
	wantActs(t, "link down", m.SetLink(t0.Add(2*time.Second), false), "notify(FAULT)")
	wantActs(t, "check fails while link down", m.SetCheck(t0.Add(2*time.Second), false))
	wantActs(t, "link up, check still failing", m.SetLink(t0.Add(3*time.Second), true))
	if m.State() != StateFault {
		t.Fatalf("state %v, want FAULT while the check fails", m.State())
	}
}

func TestCheckWeightLowersPriority(t *testing.T) {
	m := newTestMachine(t, 150, srcA, func(c *Config) { c.CheckWeight = 60 })
	m.Start(t0)
	d, _ := m.Deadline()
	m.Tick(d)
	wantActs(t, "check fails", m.SetCheck(d, false), "send-advert(90)")
	if m.State() != StateMaster {
		t.Fatalf("state %v, want MASTER (weight only lowers priority)", m.State())
	}
	acts, _ := m.Receive(d.Add(ms), srcB, adv(100, 100*ms))
	wantActs(t, "higher backup takes over", acts, "send-advert(90)", "remove-vip", "notify(BACKUP)")
}

func TestStop(t *testing.T) {
	m := newTestMachine(t, 255, srcA, nil)
	m.Start(t0)
	wantActs(t, "stop master", m.Stop(t0), "send-advert(0)", "remove-vip", "notify(BACKUP)")
	b := newTestMachine(t, 100, srcB, nil)
	b.Start(t0)
	wantActs(t, "stop backup", b.Stop(t0))
}

func TestReceiveRejects(t *testing.T) {
	m := newTestMachine(t, 100, srcB, nil)
	m.Start(t0)
	other := adv(150, 100*ms)
	other.VRID = 9
	if _, err := m.Receive(t0, srcA, other); !errors.Is(err, ErrOtherVRID) {
		t.Errorf("other VRID: got %v, want ErrOtherVRID", err)
	}
	wrong := adv(150, 100*ms)
	wrong.Addresses = []netip.Addr{srcA}
	if _, err := m.Receive(t0, srcA, wrong); !errors.Is(err, ErrAddressMismatch) {
		t.Errorf("address list: got %v, want ErrAddressMismatch", err)
	}
}

func TestConfigValidate(t *testing.T) {
	base := Config{VRID: 1, Priority: 100, AdvertInterval: 100 * ms, LocalAddr: srcA, Addresses: []netip.Addr{vip}}
	cases := map[string]func(*Config){
		"vrid 0":         func(c *Config) { c.VRID = 0 },
		"priority 0":     func(c *Config) { c.Priority = 0 },
		"interval 5ms":   func(c *Config) { c.AdvertInterval = 5 * ms },
		"interval 105ms": func(c *Config) { c.AdvertInterval = 105 * ms },
		"no addresses":   func(c *Config) { c.Addresses = nil },
		"ipv6 vip":       func(c *Config) { c.Addresses = []netip.Addr{netip.IPv6Loopback()} },
	}
	for name, mod := range cases {
		c := base
		mod(&c)
		if _, err := NewMachine(c); err == nil {
			t.Errorf("%s: got nil error, want one", name)
		}
	}
	if _, err := NewMachine(base); err != nil {
		t.Errorf("base config: %v", err)
	}
}

func TestLowerPriorityAnswerRepeatsGARP(t *testing.T) {
	m := newTestMachine(t, 255, srcA, func(c *Config) { c.GARPRefresh = -1 })
	m.Start(t0)
	m.Tick(t0.Add(time.Second)) // the takeover's repeat burst is done
	at := t0.Add(5 * time.Second)
	acts, _ := m.Receive(at, srcB, adv(100, 100*ms))
	wantActs(t, "lower priority", acts, "send-advert(255)", "send-garp")
	wantActs(t, "one repeat interval later", m.Tick(at.Add(time.Second)), "send-advert(255)", "send-garp")
}
