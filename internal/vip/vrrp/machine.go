package vrrp

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// State is a VRRP router state. RFC 9568 calls Master "Active"; Vigil keeps
// keepalived's words because operators and notify scripts know them.
type State uint8

// The states. Init is both "not started" and "stopped".
const (
	StateInit State = iota
	StateBackup
	StateMaster
	StateFault
)

func (s State) String() string {
	switch s {
	case StateBackup:
		return "BACKUP"
	case StateMaster:
		return "MASTER"
	case StateFault:
		return "FAULT"
	default:
		return "INIT"
	}
}

// ActionKind says what the I/O layer must do.
type ActionKind uint8

// The actions a Machine asks for.
const (
	// SendAdvert sends an advertisement with Action.Priority.
	SendAdvert ActionKind = iota + 1
	// AddVIP adds the virtual addresses to the interface.
	AddVIP
	// RemoveVIP removes them.
	RemoveVIP
	// SendGARP sends a burst of gratuitous ARP for every virtual address.
	SendGARP
	// Notify reports a state change (Action.State) to logs, metrics and --notify.
	Notify
)

func (k ActionKind) String() string {
	return [...]string{"?", "send-advert", "add-vip", "remove-vip", "send-garp", "notify"}[min(int(k), 5)]
}

// Action is one step for the I/O layer, executed in order.
type Action struct {
	Kind     ActionKind
	Priority uint8 // SendAdvert
	State    State // Notify
}

func (a Action) String() string {
	switch a.Kind {
	case SendAdvert:
		return fmt.Sprintf("send-advert(%d)", a.Priority)
	case Notify:
		return "notify(" + a.State.String() + ")"
	}
	return a.Kind.String()
}

// Errors returned by Machine.Receive for adverts it ignores.
var (
	ErrOtherVRID       = errors.New("vrrp: advert for another VRID")
	ErrAddressMismatch = errors.New("vrrp: advert's address list differs from ours")
)

// Config is the protocol configuration of one virtual router.
type Config struct {
	// VRID is the virtual router id, 1..255.
	VRID uint8
	// Priority is 1..255 (255: address owner, master at once).
	Priority uint8
	// AdvertInterval is how often a master advertises (10ms..40.95s).
	AdvertInterval time.Duration
	// Preempt lets a higher-priority backup take over from a live master.
	Preempt bool
	// LocalAddr is the primary address of the interface: the advert source
	// and the tie-breaker between equal priorities.
	LocalAddr netip.Addr
	// Addresses are the virtual addresses.
	Addresses []netip.Addr
	// DownAdverts is how many adverts may be missed before takeover (default 3, RFC).
	DownAdverts int
	// GARPRepeat is the delay of the second GARP burst after becoming master (default 1s).
	GARPRepeat time.Duration
	// GARPRefresh is the period of GARP bursts while master (default 10s, negative: off).
	GARPRefresh time.Duration
	// CheckWeight is subtracted from Priority while the health check fails;
	// 0 means a failing check puts the router in FAULT.
	CheckWeight int
}

func (c *Config) setDefaults() {
	if c.DownAdverts == 0 {
		c.DownAdverts = 3
	}
	if c.GARPRepeat == 0 {
		c.GARPRepeat = time.Second
	}
	if c.GARPRefresh == 0 {
		c.GARPRefresh = 10 * time.Second
	}
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	switch {
	case c.VRID == 0:
		return errors.New("vrid must be 1..255")
	case c.Priority == 0:
		return errors.New("priority must be 1..255")
	case c.AdvertInterval < centisecond || c.AdvertInterval > maxInterval:
		return fmt.Errorf("advert interval %v: want 10ms..40.95s", c.AdvertInterval)
	case c.AdvertInterval%centisecond != 0:
		return fmt.Errorf("advert interval %v: want whole centiseconds", c.AdvertInterval)
	case !c.LocalAddr.IsValid() || c.LocalAddr.Is4In6():
		return fmt.Errorf("local address %v: want IPv4 or IPv6", c.LocalAddr)
	case len(c.Addresses) == 0 || len(c.Addresses) > 255:
		return errors.New("want 1..255 virtual addresses")
	case c.DownAdverts < 1 || c.DownAdverts > 100:
		return errors.New("down adverts must be 1..100")
	case c.CheckWeight < 0 || c.CheckWeight > 254:
		return errors.New("check weight must be 0..254")
	}
	for _, a := range c.Addresses {
		if a.BitLen() != c.LocalAddr.BitLen() || a.Is4In6() {
			return fmt.Errorf("virtual address %v: want the family of %v", a, c.LocalAddr)
		}
	}
	return nil
}

// Machine is the RFC 9568 §6.4 state machine with Vigil's additions: a final
// advert before yielding to a higher priority, an advert and GARP in answer
// to a lower-priority master, GARP repeat and refresh, and health tracking.
//
// It is pure: every method takes the current time and returns the actions
// to execute. It is not safe for concurrent use; one goroutine owns it and
// calls Tick when Deadline passes.
type Machine struct {
	cfg          Config
	state        State
	masterAdvInt time.Duration // learned from the master (backup) or own (master)
	linkUp       bool
	checkOK      bool
	master       netip.Addr // source of the last accepted advert (backup)

	advertAt, downAt, garpRepeatAt, garpRefreshAt time.Time // zero: disarmed
	lastLowerReply                                time.Time
}

// NewMachine validates cfg and returns a stopped machine (link up, check passing).
func NewMachine(cfg Config) (*Machine, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Addresses = slices.Clone(cfg.Addresses)
	slices.SortFunc(cfg.Addresses, netip.Addr.Compare)
	return &Machine{cfg: cfg, masterAdvInt: cfg.AdvertInterval, linkUp: true, checkOK: true}, nil
}

// State returns the current state.
func (m *Machine) State() State { return m.state }

// Master returns the address of the master this backup follows (zero if none).
func (m *Machine) Master() netip.Addr { return m.master }

// MasterAdvertInterval returns the learned (backup) or own (master) interval.
func (m *Machine) MasterAdvertInterval() time.Duration { return m.masterAdvInt }

// Priority returns the effective priority: the configured one, lowered by
// CheckWeight while the check fails.
func (m *Machine) Priority() uint8 {
	p := int(m.cfg.Priority)
	if !m.checkOK && m.cfg.CheckWeight > 0 {
		p = max(1, p-m.cfg.CheckWeight)
	}
	return uint8(p)
}

// Deadline returns the earliest armed timer; ok is false when none is armed.
func (m *Machine) Deadline() (t time.Time, ok bool) {
	for _, d := range []time.Time{m.advertAt, m.downAt, m.garpRepeatAt, m.garpRefreshAt} {
		if !d.IsZero() && (t.IsZero() || d.Before(t)) {
			t = d
		}
	}
	return t, !t.IsZero()
}

func (m *Machine) skew() time.Duration {
	return time.Duration(256-int(m.Priority())) * m.masterAdvInt / 256
}

func (m *Machine) masterDownInterval() time.Duration {
	return time.Duration(m.cfg.DownAdverts)*m.masterAdvInt + m.skew()
}

func (m *Machine) faulted() bool {
	return !m.linkUp || (!m.checkOK && m.cfg.CheckWeight == 0)
}

func (m *Machine) disarm() {
	m.advertAt, m.downAt, m.garpRepeatAt, m.garpRefreshAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
}
