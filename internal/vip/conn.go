package vip

import (
	"errors"
	"fmt"
	"net/netip"
	"os"

	"golang.org/x/sys/unix"

	"vigil/internal/vip/vrrp"
)

// rawConn is a raw IPv4 socket for protocol 112 bound to one interface. It
// builds its own IP header (IP_HDRINCL) so the source address and TTL 255
// are exact, and reads whole IP packets so the receiver can check the TTL.
// Send and Recv may be called from different goroutines; Close unblocks Recv.
type rawConn struct {
	f *os.File
}

// openRawConn opens the socket on ifindex/ifname and, for multicast, joins
// 224.0.0.18 there.
func openRawConn(ifname string, ifindex int, multicast bool) (*rawConn, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, vrrp.Protocol)
	if err != nil {
		return nil, fmt.Errorf("open VRRP socket (needs CAP_NET_RAW): %w", err)
	}
	if err := setupRawConn(fd, ifname, ifindex, multicast); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &rawConn{f: os.NewFile(uintptr(fd), "vrrp:"+ifname)}, nil
}

func setupRawConn(fd int, ifname string, ifindex int, multicast bool) error {
	opts := []struct {
		name       string
		level, opt int
		val        int
	}{
		{"IP_HDRINCL", unix.IPPROTO_IP, unix.IP_HDRINCL, 1},
		{"IP_MULTICAST_LOOP", unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP, 0},
		{"IP_MULTICAST_TTL", unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, vrrp.TTL},
	}
	for _, o := range opts {
		if err := unix.SetsockoptInt(fd, o.level, o.opt, o.val); err != nil {
			return fmt.Errorf("VRRP socket %s: %w", o.name, err)
		}
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

// Send sends an IPv4 packet (header included) to dst.
func (c *rawConn) Send(dst netip.Addr, pkt []byte) error {
	rc, err := c.f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Write(func(fd uintptr) bool {
		serr = unix.Sendto(int(fd), pkt, 0, &unix.SockaddrInet4{Addr: dst.As4()})
		return !errors.Is(serr, unix.EAGAIN)
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("send VRRP to %v: %w", dst, err)
	}
	return nil
}

// Recv reads one IPv4 packet (header included) into buf.
func (c *rawConn) Recv(buf []byte) (int, error) {
	return c.f.Read(buf)
}

// Close closes the socket and unblocks Recv.
func (c *rawConn) Close() error { return c.f.Close() }
