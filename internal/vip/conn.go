package vip

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"vigil/internal/vip/vrrp"
)

// packet is one received VRRP packet: the IP fields the speaker checks and
// the VRRP payload.
type packet struct {
	src, dst netip.Addr
	ttl      uint8 // IPv4 TTL or IPv6 hop limit
	payload  []byte
}

// errMalformed marks a received packet whose IP layer cannot be parsed.
var errMalformed = errors.New("malformed IP packet")

// rawConn is a raw socket for IP protocol 112 bound to one interface. Over
// IPv4 it builds its own IP header (IP_HDRINCL) so the source address and
// TTL 255 are exact, and reads whole IP packets to check the TTL. Over IPv6
// the hop limit and destination come as control messages, and a second
// socket bound to the link-local source sends. Send and Recv may be called
// from different goroutines; Close unblocks Recv.
type rawConn struct {
	f      *os.File
	send6  int // IPv6 only: the bound sending socket, -1 for IPv4
	local  netip.Addr
	zone   int
	close  sync.Once
	closed atomic.Bool
}

// openRawConn opens the socket on the interface and, for multicast, joins
// the VRRP group of local's family there.
func openRawConn(ifname string, ifindex int, local netip.Addr, multicast bool) (*rawConn, error) {
	family := unix.AF_INET
	if local.Is6() {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, vrrp.Protocol)
	if err != nil {
		return nil, fmt.Errorf("open VRRP socket (needs CAP_NET_RAW): %w", err)
	}
	c := &rawConn{send6: -1, local: local, zone: ifindex}
	if local.Is4() {
		err = setup4(fd, ifname, ifindex, multicast)
	} else {
		err = setup6(fd, ifname, ifindex, multicast)
		if err == nil {
			c.send6, err = openSend6(ifname, ifindex, local)
		}
	}
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	c.f = os.NewFile(uintptr(fd), "vrrp:"+ifname)
	return c, nil
}

type sockopt struct {
	name       string
	level, opt int
	val        int
}

func setInts(fd int, opts []sockopt) error {
	for _, o := range opts {
		if err := unix.SetsockoptInt(fd, o.level, o.opt, o.val); err != nil {
			return fmt.Errorf("VRRP socket %s: %w", o.name, err)
		}
	}
	return nil
}

func setup4(fd int, ifname string, ifindex int, multicast bool) error {
	err := setInts(fd, []sockopt{
		{"IP_HDRINCL", unix.IPPROTO_IP, unix.IP_HDRINCL, 1},
		{"IP_MULTICAST_LOOP", unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP, 0},
		{"IP_MULTICAST_TTL", unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, vrrp.TTL},
	})
	if err != nil {
		return err
	}
	if err := unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, ifname); err != nil {
		return fmt.Errorf("VRRP socket bind to %s: %w", ifname, err)
	}
	mreq := &unix.IPMreqn{Multiaddr: vrrp.MulticastGroup.As4(), Ifindex: int32(ifindex)}
	if err := unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_IF, mreq); err != nil {
		return fmt.Errorf("VRRP socket IP_MULTICAST_IF %s: %w", ifname, err)
	}
	if multicast {
		if err := unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_ADD_MEMBERSHIP, mreq); err != nil {
			return fmt.Errorf("join 224.0.0.18 on %s: %w", ifname, err)
		}
	}
	return nil
}

func setup6(fd int, ifname string, ifindex int, multicast bool) error {
	err := setInts(fd, []sockopt{
		{"IPV6_RECVHOPLIMIT", unix.IPPROTO_IPV6, unix.IPV6_RECVHOPLIMIT, 1},
		{"IPV6_RECVPKTINFO", unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1},
	})
	if err != nil {
		return err
	}
	if err := unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, ifname); err != nil {
		return fmt.Errorf("VRRP socket bind to %s: %w", ifname, err)
	}
	if multicast {
		mreq := &unix.IPv6Mreq{Multiaddr: vrrp.MulticastGroup6.As16(), Interface: uint32(ifindex)}
		if err := unix.SetsockoptIPv6Mreq(fd, unix.IPPROTO_IPV6, unix.IPV6_JOIN_GROUP, mreq); err != nil {
			return fmt.Errorf("join ff02::12 on %s: %w", ifname, err)
		}
	}
	return nil
}

// openSend6 opens the IPv6 sending socket, bound to local so the source
// address (covered by the checksum) is exact.
func openSend6(ifname string, ifindex int, local netip.Addr) (int, error) {
	fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_RAW|unix.SOCK_CLOEXEC, vrrp.Protocol)
	if err != nil {
		return -1, fmt.Errorf("open VRRP socket: %w", err)
	}
	err = setInts(fd, []sockopt{
		{"IPV6_MULTICAST_HOPS", unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_HOPS, vrrp.TTL},
		{"IPV6_UNICAST_HOPS", unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS, vrrp.TTL},
		{"IPV6_MULTICAST_LOOP", unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_LOOP, 0},
		{"IPV6_MULTICAST_IF", unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_IF, ifindex},
	})
	if err == nil {
		err = unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, ifname)
	}
	if err == nil {
		err = unix.Bind(fd, &unix.SockaddrInet6{Addr: local.As16(), ZoneId: uint32(ifindex)})
	}
	if err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("VRRP send socket on %s from %v: %w", ifname, local, err)
	}
	return fd, nil
}

// Send sends a VRRP payload from the local address to dst.
func (c *rawConn) Send(dst netip.Addr, payload []byte) error {
	var err error
	if c.send6 >= 0 {
		err = unix.Sendto(c.send6, payload, 0, &unix.SockaddrInet6{Addr: dst.As16(), ZoneId: uint32(c.zone)})
	} else {
		err = c.send4(dst, vrrp.BuildIPv4(c.local, dst, payload))
	}
	if err != nil {
		return fmt.Errorf("send VRRP to %v: %w", dst, err)
	}
	return nil
}

func (c *rawConn) send4(dst netip.Addr, pkt []byte) error {
	rc, err := c.f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Write(func(fd uintptr) bool {
		serr = unix.Sendto(int(fd), pkt, 0, &unix.SockaddrInet4{Addr: dst.As4()})
		return !errors.Is(serr, unix.EAGAIN)
	})
	if err != nil {
		return err
	}
	return serr
}

// Recv reads the next protocol-112 packet into buf (its payload aliases buf).
func (c *rawConn) Recv(buf []byte) (packet, error) {
	if c.local.Is6() {
		return c.recv6(buf)
	}
	for {
		n, err := c.f.Read(buf)
		if err != nil {
			return packet{}, err
		}
		h, payload, err := vrrp.ParseIPv4(buf[:n])
		if err != nil {
			return packet{}, fmt.Errorf("%w: %w", errMalformed, err)
		}
		if h.Protocol == vrrp.Protocol {
			return packet{src: h.Src, dst: h.Dst, ttl: h.TTL, payload: payload}, nil
		}
	}
}

func (c *rawConn) recv6(buf []byte) (packet, error) {
	rc, err := c.f.SyscallConn()
	if err != nil {
		return packet{}, err
	}
	oob := make([]byte, 128)
	var (
		n, oobn int
		from    unix.Sockaddr
		rerr    error
	)
	err = rc.Read(func(fd uintptr) bool {
		n, oobn, _, from, rerr = unix.Recvmsg(int(fd), buf, oob, 0)
		return !errors.Is(rerr, unix.EAGAIN)
	})
	if c.closed.Load() {
		return packet{}, os.ErrClosed // RawConn reports poll's own "use of closed file"
	}
	if err == nil {
		err = rerr
	}
	if err != nil {
		return packet{}, err
	}
	p := packet{payload: buf[:n]}
	if sa, ok := from.(*unix.SockaddrInet6); ok {
		p.src = netip.AddrFrom16(sa.Addr)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return packet{}, fmt.Errorf("%w: control messages: %w", errMalformed, err)
	}
	for _, m := range msgs {
		switch {
		case m.Header.Level != unix.IPPROTO_IPV6:
		case m.Header.Type == unix.IPV6_HOPLIMIT && len(m.Data) >= 4:
			p.ttl = uint8(binary.NativeEndian.Uint32(m.Data))
		case m.Header.Type == unix.IPV6_PKTINFO && len(m.Data) >= 16:
			p.dst = netip.AddrFrom16([16]byte(m.Data[:16]))
		}
	}
	if !p.src.IsValid() || !p.dst.IsValid() {
		return packet{}, fmt.Errorf("%w: no source or destination", errMalformed)
	}
	return p, nil
}

// Close closes the sockets and unblocks Recv; it may be called again.
func (c *rawConn) Close() error {
	var err error
	c.close.Do(func() {
		c.closed.Store(true)
		if c.send6 >= 0 {
			unix.Close(c.send6)
		}
		err = c.f.Close()
	})
	return err
}
