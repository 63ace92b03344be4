package vrrp

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// IPv4Header is the part of an IPv4 header the speaker needs: a raw socket
// delivers the header with every packet, and the speaker builds its own
// (IP_HDRINCL) to pin the source address and TTL.
type IPv4Header struct {
	Src, Dst netip.Addr
	TTL      uint8
	Protocol uint8
}

// ParseIPv4 splits a raw IPv4 packet into its header and payload.
func ParseIPv4(b []byte) (IPv4Header, []byte, error) {
	if len(b) < 20 {
		return IPv4Header{}, nil, fmt.Errorf("%w: %d-byte IPv4 packet", ErrShort, len(b))
	}
	if b[0]>>4 != 4 {
		return IPv4Header{}, nil, fmt.Errorf("%w: IP version %d", ErrFamily, b[0]>>4)
	}
	ihl := int(b[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(b[2:]))
	if ihl < 20 || total < ihl || total > len(b) {
		return IPv4Header{}, nil, fmt.Errorf("%w: header length %d, total %d, have %d", ErrShort, ihl, total, len(b))
	}
	h := IPv4Header{
		Src:      netip.AddrFrom4([4]byte(b[12:16])),
		Dst:      netip.AddrFrom4([4]byte(b[16:20])),
		TTL:      b[8],
		Protocol: b[9],
	}
	return h, b[ihl:total], nil
}

// BuildIPv4 returns an IPv4 packet carrying payload from src to dst with TTL
// 255, protocol VRRP and TOS 0xc0 (internetwork control, as keepalived
// sends). The kernel fills in the identification and header checksum.
func BuildIPv4(src, dst netip.Addr, payload []byte) []byte {
	b := make([]byte, 20+len(payload))
	b[0] = 4<<4 | 5
	b[1] = 0xc0
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	b[8] = TTL
	b[9] = Protocol
	s, d := src.As4(), dst.As4()
	copy(b[12:], s[:])
	copy(b[16:], d[:])
	copy(b[20:], payload)
	return b
}
