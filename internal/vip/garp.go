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

// openAnnouncer returns the gratuitous ARP sender (IPv4) or the unsolicited
// neighbour advertisement sender (IPv6) for the interface.
func openAnnouncer(ifname string, ifindex int, mac net.HardwareAddr, v6 bool, burst int) (announcer, error) {
	if v6 {
		return openNA(ifname, ifindex, mac, burst)
	}
	return openGARP(ifindex, mac, burst)
}

// naMessage builds an unsolicited neighbour advertisement (ICMPv6 type 136,
// Override flag, target link-layer address option) for target; the kernel
// fills in the checksum.
func naMessage(mac net.HardwareAddr, target netip.Addr) []byte {
	b := make([]byte, 32)
	b[0] = 136
	b[4] = 0x20 // Override
	t := target.As16()
	copy(b[8:24], t[:])
	b[24], b[25] = 2, 1 // option: target link-layer address, 8 bytes
	copy(b[26:32], mac)
	return b
}

// naSender sends unsolicited neighbour advertisements to ff02::1 with hop
// limit 255 from an ICMPv6 raw socket bound to the interface.
type naSender struct {
	fd      int
	ifindex int
	mac     net.HardwareAddr
	burst   int
}

func openNA(ifname string, ifindex int, mac net.HardwareAddr, burst int) (*naSender, error) {
	fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMPV6)
	if err != nil {
		return nil, fmt.Errorf("open ICMPv6 socket (needs CAP_NET_RAW): %w", err)
	}
	err = setInts(fd, []sockopt{
		{"IPV6_MULTICAST_HOPS", unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_HOPS, 255},
		{"IPV6_MULTICAST_IF", unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_IF, ifindex},
	})
	if err == nil {
		err = unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, ifname)
	}
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &naSender{fd: fd, ifindex: ifindex, mac: mac, burst: burst}, nil
}

// Announce sends a burst of unsolicited neighbour advertisements for ip.
func (n *naSender) Announce(ip netip.Addr) error {
	to := &unix.SockaddrInet6{Addr: netip.MustParseAddr("ff02::1").As16(), ZoneId: uint32(n.ifindex)}
	for range n.burst {
		if err := unix.Sendto(n.fd, naMessage(n.mac, ip), 0, to); err != nil {
			return fmt.Errorf("neighbour advertisement for %v: %w", ip, err)
		}
	}
	return nil
}

func (n *naSender) Close() error { return unix.Close(n.fd) }
