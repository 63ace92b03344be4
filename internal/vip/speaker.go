// Package vip is Vigil's VRRP speaker: it holds virtual addresses on the
// healthy proxy host, talking VRRPv3 (wire-compatible with keepalived 2.2)
// with its peers, over IPv4 or IPv6.
//
// The protocol is the pure state machine of package vrrp; this package is
// the thin I/O layer around it: a raw socket for IP protocol 112 (multicast
// 224.0.0.18 / ff02::12, or unicast peers), netlink for the addresses and
// the link state, gratuitous ARP (IPv4, AF_PACKET) or unsolicited neighbour
// advertisements (IPv6), the local proxy health check, the --notify command
// and Prometheus metrics. One goroutine (Run) owns the machine; helpers feed
// it through channels. The I/O seams are small interfaces (packetConn,
// addrManager, announcer) so the glue is unit-tested with fakes.
package vip

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"vigil/internal/vip/vrrp"
)

// Config configures a Speaker. Zero durations and counts take the defaults
// documented on each field.
type Config struct {
	// Interface carries the virtual addresses and the VRRP traffic.
	Interface string
	// VRID is the virtual router id, 1..255.
	VRID int
	// Priority is 1..255 (255: address owner).
	Priority int
	// Addresses are the virtual addresses, ADDR/PREFIX, all IPv4 or all IPv6.
	Addresses []netip.Prefix
	// AdvertInterval is the advert period (default 100ms, whole centiseconds).
	AdvertInterval time.Duration
	// NoPreempt keeps a live lower-priority master in place.
	NoPreempt bool
	// UnicastPeers, if set, replace multicast: adverts go to each peer and
	// only adverts from them are accepted.
	UnicastPeers []netip.Addr
	// Check is the local proxy health check, "" for none.
	Check string
	// CheckInterval is the probe period (default 200ms).
	CheckInterval time.Duration
	// CheckTimeout bounds one probe (default 1s).
	CheckTimeout time.Duration
	// CheckFall is the number of failures that fail the check (default 3).
	CheckFall int
	// CheckRise is the number of successes that pass it again (default 2).
	CheckRise int
	// CheckWeight is subtracted from the priority while the check fails;
	// 0 (default) means FAULT: the speaker releases the addresses.
	CheckWeight int
	// Notify is a command run with MASTER, BACKUP or FAULT appended.
	Notify string
	// DownAdverts is how many adverts may be missed (default 3, the RFC's).
	DownAdverts int
	// GARPCount is the number of gratuitous ARP frames per burst (default 3).
	GARPCount int
	// GARPRepeat is the delay of the second burst after takeover (default 1s).
	GARPRepeat time.Duration
	// GARPRefresh is the period of bursts while master (default 10s).
	GARPRefresh time.Duration
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	defInt := func(d *int, v int) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.AdvertInterval, 100*time.Millisecond)
	def(&c.CheckInterval, 200*time.Millisecond)
	def(&c.CheckTimeout, time.Second)
	def(&c.GARPRepeat, time.Second)
	def(&c.GARPRefresh, 10*time.Second)
	defInt(&c.CheckFall, 3)
	defInt(&c.CheckRise, 2)
	defInt(&c.DownAdverts, 3)
	defInt(&c.GARPCount, 3)
}

// Validate checks the configuration (after defaults).
func (c *Config) Validate() error {
	switch {
	case c.Interface == "":
		return errors.New("interface is required")
	case c.VRID < 1 || c.VRID > 255:
		return fmt.Errorf("vrid %d: want 1..255", c.VRID)
	case c.Priority < 1 || c.Priority > 255:
		return fmt.Errorf("priority %d: want 1..255", c.Priority)
	case len(c.Addresses) == 0:
		return errors.New("at least one virtual address is required")
	case c.AdvertInterval < 20*time.Millisecond:
		return fmt.Errorf("advert interval %v: below 20ms a scheduler stall causes false takeovers", c.AdvertInterval)
	case c.CheckInterval <= 0 || c.CheckTimeout <= 0 || c.CheckFall < 1 || c.CheckRise < 1:
		return errors.New("check interval, timeout, fall and rise must be positive")
	case c.GARPCount < 1 || c.GARPRepeat < 0:
		return errors.New("garp count must be positive and garp repeat not negative")
	}
	v6 := c.Addresses[0].Addr().Is6()
	for _, p := range c.Addresses {
		if p.Addr().Is6() != v6 || p.Addr().Is4In6() {
			return fmt.Errorf("virtual address %v: all addresses of one speaker must be IPv4 or all IPv6", p)
		}
	}
	for _, p := range c.UnicastPeers {
		if p.Is6() != v6 {
			return fmt.Errorf("unicast peer %v: want the family of the virtual addresses", p)
		}
	}
	if c.Check != "" {
		if _, err := ParseCheck(c.Check); err != nil {
			return err
		}
	}
	probe := netip.AddrFrom4([4]byte{127, 0, 0, 1})
	if v6 {
		probe = netip.MustParseAddr("fe80::1")
	}
	_, err := vrrp.NewMachine(c.machineConfig(probe))
	return err
}

func (c *Config) machineConfig(local netip.Addr) vrrp.Config {
	addrs := make([]netip.Addr, len(c.Addresses))
	for i, p := range c.Addresses {
		addrs[i] = p.Addr()
	}
	return vrrp.Config{
		VRID: uint8(c.VRID), Priority: uint8(c.Priority), AdvertInterval: c.AdvertInterval,
		Preempt: !c.NoPreempt, LocalAddr: local, Addresses: addrs, DownAdverts: c.DownAdverts,
		GARPRepeat: c.GARPRepeat, GARPRefresh: c.GARPRefresh, CheckWeight: c.CheckWeight,
	}
}

// Speaker runs one VRRP virtual router on one interface.
type Speaker struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
}

// New validates cfg and registers the speaker's metrics on reg.
func New(cfg Config, log *slog.Logger, reg prometheus.Registerer) (*Speaker, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("register vip metrics: %w", err)
	}
	log = log.With("interface", cfg.Interface, "vrid", cfg.VRID)
	return &Speaker{cfg: cfg, log: log, metrics: m}, nil
}
