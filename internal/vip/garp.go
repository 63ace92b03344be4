package vip

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/sys/unix"
)

var broadcastMAC = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// garpFrame builds a gratuitous ARP Ethernet frame for ip from mac:
// broadcast destination, SPA = TPA = ip, THA = broadcast (as keepalived
// sends). op is 1 (request) or 2 (reply).
func garpFrame(mac net.HardwareAddr, ip netip.Addr, op uint16) []byte {
	b := make([]byte, 42)
	copy(b[0:6], broadcastMAC)
	copy(b[6:12], mac)
	binary.BigEndian.PutUint16(b[12:], unix.ETH_P_ARP)
	binary.BigEndian.PutUint16(b[14:], 1)      // hardware: Ethernet
	binary.BigEndian.PutUint16(b[16:], 0x0800) // protocol: IPv4
	b[18], b[19] = 6, 4
	binary.BigEndian.PutUint16(b[20:], op)
	v4 := ip.As4()
	copy(b[22:28], mac)
	copy(b[28:32], v4[:])
	copy(b[32:38], broadcastMAC)
	copy(b[38:42], v4[:])
	return b
}

// garpSender sends gratuitous ARP on one interface through an AF_PACKET
// socket that receives nothing (protocol 0). Safe for one goroutine.
type garpSender struct {
	fd      int
	ifindex int
	mac     net.HardwareAddr
	burst   int
}

func openGARP(ifindex int, mac net.HardwareAddr, burst int) (*garpSender, error) {
	if len(mac) != 6 {
		return nil, fmt.Errorf("gratuitous ARP needs an Ethernet interface, hardware address %q", mac)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open ARP socket (needs CAP_NET_RAW): %w", err)
	}
	return &garpSender{fd: fd, ifindex: ifindex, mac: mac, burst: burst}, nil
}

// Announce sends a burst of gratuitous ARP for ip, alternating request and
// reply (some hosts only learn from one of them).
func (g *garpSender) Announce(ip netip.Addr) error {
	to := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ARP), Ifindex: g.ifindex, Halen: 6}
	copy(to.Addr[:], broadcastMAC)
	for i := range g.burst {
		op := uint16(1 + i%2)
		if err := unix.Sendto(g.fd, garpFrame(g.mac, ip, op), 0, to); err != nil {
			return fmt.Errorf("gratuitous ARP for %v: %w", ip, err)
		}
	}
	return nil
}

func (g *garpSender) Close() error { return unix.Close(g.fd) }

func htons(v uint16) uint16 { return v<<8 | v>>8 }
