package config

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

// VIP configures `vigil vip`, the VRRP speaker. Every field is also a flag of
// `vigil vip` (same name, dashes for underscores); flags override the file.
// Zero values take the defaults applied by the vip package.
type VIP struct {
	// Interface carries the virtual address (e.g. eth0).
	Interface string `yaml:"interface,omitempty"`
	// VRID is the virtual router id, 1..255.
	VRID int `yaml:"vrid,omitempty"`
	// Priority is 1..254 (255 is for the address owner).
	Priority int `yaml:"priority,omitempty"`
	// Addresses are the virtual addresses, ADDR/PREFIX, all IPv4 or all IPv6 (flag --vip).
	Addresses []string `yaml:"addresses,omitempty"`
	// AdvertInterval is the VRRP advert period (default 100ms).
	AdvertInterval time.Duration `yaml:"advert_interval,omitempty"`
	// NoPreempt keeps a live lower-priority master in place.
	NoPreempt bool `yaml:"nopreempt,omitempty"`
	// UnicastPeers replace multicast 224.0.0.18 when set (flag --unicast-peer).
	UnicastPeers []string `yaml:"unicast_peers,omitempty"`
	// Check is the local proxy health check: tcp:HOST:PORT or mysql:HOST:PORT.
	Check string `yaml:"check,omitempty"`
	// CheckInterval is the probe period (default 200ms).
	CheckInterval time.Duration `yaml:"check_interval,omitempty"`
	// CheckTimeout bounds one probe (default 1s).
	CheckTimeout time.Duration `yaml:"check_timeout,omitempty"`
	// CheckFall failures in a row fail the check (default 3).
	CheckFall int `yaml:"check_fall,omitempty"`
	// CheckRise successes in a row pass it again (default 2).
	CheckRise int `yaml:"check_rise,omitempty"`
	// CheckWeight lowers the priority while the check fails; 0 means FAULT.
	CheckWeight int `yaml:"check_weight,omitempty"`
	// Notify runs with MASTER, BACKUP or FAULT appended as its last argument.
	Notify string `yaml:"notify,omitempty"`
	// HTTPListen serves /metrics (empty: off).
	HTTPListen string `yaml:"http_listen,omitempty"`
	// DownAdverts is how many adverts may be missed before takeover (default 3).
	DownAdverts int `yaml:"down_adverts,omitempty"`
	// GARPRepeat delays the second gratuitous ARP burst after takeover (default 1s).
	GARPRepeat time.Duration `yaml:"garp_repeat,omitempty"`
	// GARPRefresh is the period of gratuitous ARP while master (default 10s).
	GARPRefresh time.Duration `yaml:"garp_refresh,omitempty"`
}

func (v *VIP) setDefaults() {}

// Validate checks the syntax of the section; an empty section is valid (the
// role is unused). The vip package checks the rest when the role starts.
func (v *VIP) Validate() error {
	if v.VRID < 0 || v.VRID > 255 {
		return fmt.Errorf("vrid %d: want 1..255", v.VRID)
	}
	if v.Priority < 0 || v.Priority > 255 {
		return fmt.Errorf("priority %d: want 1..255", v.Priority)
	}
	for _, a := range v.Addresses {
		if _, err := netip.ParsePrefix(a); err != nil {
			return fmt.Errorf("addresses: %q: want ADDR/PREFIX", a)
		}
	}
	for _, a := range v.UnicastPeers {
		if _, err := netip.ParseAddr(a); err != nil {
			return fmt.Errorf("unicast_peers: %q: want an IP address", a)
		}
	}
	if v.Check != "" {
		kind, addr, _ := strings.Cut(v.Check, ":")
		if _, _, err := net.SplitHostPort(addr); (kind != "tcp" && kind != "mysql") || err != nil {
			return fmt.Errorf("check %q: want tcp:HOST:PORT or mysql:HOST:PORT", v.Check)
		}
	}
	if v.HTTPListen != "" {
		if _, _, err := net.SplitHostPort(v.HTTPListen); err != nil {
			return fmt.Errorf("http_listen %q: want host:port", v.HTTPListen)
		}
	}
	for _, d := range []time.Duration{v.AdvertInterval, v.CheckInterval, v.CheckTimeout, v.GARPRepeat, v.GARPRefresh} {
		if d < 0 {
			return fmt.Errorf("durations must not be negative")
		}
	}
	if v.CheckFall < 0 || v.CheckRise < 0 || v.CheckWeight < 0 || v.CheckWeight > 254 || v.DownAdverts < 0 {
		return fmt.Errorf("check_fall, check_rise, down_adverts must not be negative; check_weight 0..254")
	}
	return nil
}
