// Package vrrp is the pure core of Vigil's VRRP speaker: the VRRPv3 packet
// codec (RFC 9568, formerly RFC 5798), a minimal IPv4 header codec for raw
// sockets, and the protocol state machine. It does no I/O: sockets, netlink
// and ARP live in package vip, which feeds events in and executes the
// actions the Machine returns.
//
// IPv4 and IPv6 are implemented; one advert carries addresses of one family.
// The wire format matches keepalived 2.2 with `version 3` (checksum over the
// IP pseudo-header, in multicast and unicast mode alike).
package vrrp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Protocol is the IP protocol number of VRRP.
const Protocol = 112

// TTL is the only TTL a VRRP packet may carry; receivers drop anything else.
const TTL = 255

// MulticastGroup is the IPv4 VRRP group, 224.0.0.18.
var MulticastGroup = netip.AddrFrom4([4]byte{224, 0, 0, 18})

// MulticastGroup6 is the IPv6 VRRP group, ff02::12.
var MulticastGroup6 = netip.MustParseAddr("ff02::12")

// Group returns the VRRP multicast group of addr's family.
func Group(addr netip.Addr) netip.Addr {
	if addr.Is4() {
		return MulticastGroup
	}
	return MulticastGroup6
}

const (
	version3   = 3
	typeAdvert = 1
	headerLen  = 8
	// maxInterval is the largest advert interval the 12-bit centisecond field holds.
	maxInterval = 4095 * 10 * time.Millisecond
	// centisecond is the unit of the interval field.
	centisecond = 10 * time.Millisecond
)

// Errors returned by ParseAdvert. Callers branch on them with errors.Is.
var (
	ErrShort    = errors.New("vrrp: packet too short")
	ErrVersion  = errors.New("vrrp: not a VRRPv3 advertisement")
	ErrChecksum = errors.New("vrrp: bad checksum")
	ErrFamily   = errors.New("vrrp: addresses of mixed or unknown family")
	ErrInterval = errors.New("vrrp: zero advert interval")
)

// Advert is a VRRPv3 advertisement.
type Advert struct {
	// VRID is the virtual router id, 1..255.
	VRID uint8
	// Priority is the sender's priority; 0 means the master is leaving.
	Priority uint8
	// Interval is the sender's advertisement interval (centisecond resolution).
	Interval time.Duration
	// Addresses are the virtual addresses the sender protects.
	Addresses []netip.Addr
}

// family returns the address size of src and dst (4 or 16), 0 if they differ.
func family(src, dst netip.Addr) int {
	switch {
	case src.Is4() && dst.Is4():
		return 4
	case src.Is6() && !src.Is4In6() && dst.Is6() && !dst.Is4In6():
		return 16
	}
	return 0
}

// Marshal encodes a as sent from src to dst (the checksum covers the IP
// pseudo-header). The interval is rounded down to whole centiseconds and
// clamped to the 12-bit field. The addresses must be of src's family.
func (a *Advert) Marshal(src, dst netip.Addr) ([]byte, error) {
	size := family(src, dst)
	if size == 0 {
		return nil, ErrFamily
	}
	if len(a.Addresses) > 255 {
		return nil, fmt.Errorf("vrrp: %d addresses, at most 255", len(a.Addresses))
	}
	b := make([]byte, headerLen+size*len(a.Addresses))
	b[0] = version3<<4 | typeAdvert
	b[1] = a.VRID
	b[2] = a.Priority
	b[3] = uint8(len(a.Addresses))
	binary.BigEndian.PutUint16(b[4:], intervalField(a.Interval))
	for i, addr := range a.Addresses {
		if addr.BitLen() != 8*size || addr.Is4In6() {
			return nil, ErrFamily
		}
		copy(b[headerLen+size*i:], addr.AsSlice())
	}
	binary.BigEndian.PutUint16(b[6:], checksum(b, src, dst))
	return b, nil
}

func intervalField(d time.Duration) uint16 {
	cs := d / centisecond
	if cs > 4095 {
		cs = 4095
	}
	if cs < 1 {
		cs = 1
	}
	return uint16(cs)
}

// ParseAdvert decodes and verifies a VRRPv3 advertisement received from src
// to dst. It checks the version, type, length and checksum; the caller checks
// the TTL (see IPv4Header) and whether the advert is for its VRID.
func ParseAdvert(b []byte, src, dst netip.Addr) (Advert, error) {
	size := family(src, dst)
	if size == 0 {
		return Advert{}, ErrFamily
	}
	if len(b) < headerLen {
		return Advert{}, ErrShort
	}
	if b[0] != version3<<4|typeAdvert {
		return Advert{}, fmt.Errorf("%w: version/type byte 0x%02x", ErrVersion, b[0])
	}
	n := int(b[3])
	if len(b) < headerLen+size*n {
		return Advert{}, fmt.Errorf("%w: %d bytes for %d addresses", ErrShort, len(b), n)
	}
	b = b[:headerLen+size*n]
	if checksum(b, src, dst) != 0 {
		return Advert{}, ErrChecksum
	}
	if binary.BigEndian.Uint16(b[4:])&0x0fff == 0 {
		return Advert{}, ErrInterval
	}
	a := Advert{
		VRID:      b[1],
		Priority:  b[2],
		Interval:  time.Duration(binary.BigEndian.Uint16(b[4:])&0x0fff) * centisecond,
		Addresses: make([]netip.Addr, n),
	}
	for i := range n {
		a.Addresses[i], _ = netip.AddrFromSlice(b[headerLen+size*i : headerLen+size*(i+1)])
	}
	return a, nil
}

// checksum returns the Internet checksum of the IPv4 or IPv6 pseudo-header
// plus b. Over a packet that already carries its checksum it returns 0 when
// valid. (The IPv6 pseudo-header's 32-bit length and zero padding sum to the
// same as IPv4's 16-bit length and zero byte for packets under 64 KiB.)
func checksum(b []byte, src, dst netip.Addr) uint16 {
	var sum uint32
	for _, a := range [][]byte{src.AsSlice(), dst.AsSlice()} {
		for i := 0; i+1 < len(a); i += 2 {
			sum += uint32(binary.BigEndian.Uint16(a[i:]))
		}
	}
	sum += Protocol + uint32(len(b))
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}
