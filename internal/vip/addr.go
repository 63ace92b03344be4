package vip

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// linkAddrs manages the virtual addresses on one interface through netlink.
type linkAddrs struct {
	link netlink.Link
}

func toNetlink(p netip.Prefix) *netlink.Addr {
	a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
	if p.Addr().Is6() {
		a.Flags = unix.IFA_F_NODAD // usable at once: the VRRP election already decided ownership
	}
	return a
}

// Add adds p; adding an address already present is not an error.
func (l *linkAddrs) Add(p netip.Prefix) error {
	if err := netlink.AddrReplace(l.link, toNetlink(p)); err != nil {
		return fmt.Errorf("add %v to %s: %w", p, l.link.Attrs().Name, err)
	}
	return nil
}

// Remove removes p; removing an absent address is not an error.
func (l *linkAddrs) Remove(p netip.Prefix) error {
	err := netlink.AddrDel(l.link, toNetlink(p))
	if err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove %v from %s: %w", p, l.link.Attrs().Name, err)
	}
	return nil
}

// Has reports whether ip is on the interface.
func (l *linkAddrs) Has(ip netip.Addr) (bool, error) {
	addrs, err := netlink.AddrList(l.link, netlink.FAMILY_ALL)
	if err != nil {
		return false, fmt.Errorf("list addresses of %s: %w", l.link.Attrs().Name, err)
	}
	for _, a := range addrs {
		if got, ok := netip.AddrFromSlice(a.IP); ok && got.Unmap() == ip {
			return true, nil
		}
	}
	return false, nil
}

// primaryAddr returns the VRRP source address and tie-breaker for the family
// of the virtual addresses: the interface's first IPv4 address that is not
// virtual, or (IPv6, as RFC 9568 requires) its link-local address.
func primaryAddr(link netlink.Link, vips []netip.Prefix) (netip.Addr, error) {
	v6 := vips[0].Addr().Is6()
	family := netlink.FAMILY_V4
	if v6 {
		family = netlink.FAMILY_V6
	}
	addrs, err := netlink.AddrList(link, family)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("list addresses of %s: %w", link.Attrs().Name, err)
	}
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok || isVIP(ip.Unmap(), vips) {
			continue
		}
		ip = ip.Unmap()
		if (!v6 && a.Flags&unix.IFA_F_SECONDARY == 0) || (v6 && ip.IsLinkLocalUnicast() && a.Flags&unix.IFA_F_TENTATIVE == 0) {
			return ip, nil
		}
	}
	if v6 {
		return netip.Addr{}, fmt.Errorf("interface %s has no usable IPv6 link-local address yet", link.Attrs().Name)
	}
	return netip.Addr{}, fmt.Errorf("interface %s has no IPv4 address of its own", link.Attrs().Name)
}

func isVIP(ip netip.Addr, vips []netip.Prefix) bool {
	for _, v := range vips {
		if v.Addr() == ip {
			return true
		}
	}
	return false
}

// linkUp reports whether the interface is administratively up with carrier.
func linkUp(attrs *netlink.LinkAttrs) bool {
	return attrs.Flags&net.FlagUp != 0 && attrs.RawFlags&unix.IFF_RUNNING != 0
}
