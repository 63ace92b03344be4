package vip

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/vishvananda/netlink"

	"vigil/internal/vip/vrrp"
)

// The I/O seams of a session. The real implementations are rawConn,
// linkAddrs and garpSender.
type (
	// packetConn sends VRRP payloads from the local address and receives
	// VRRP packets with the IP fields that must be checked.
	packetConn interface {
		Send(dst netip.Addr, payload []byte) error
		Recv(buf []byte) (packet, error)
		Close() error
	}
	// addrManager adds and removes the virtual addresses (idempotently).
	addrManager interface {
		Add(p netip.Prefix) error
		Remove(p netip.Prefix) error
		Has(ip netip.Addr) (bool, error)
	}
	// announcer sends gratuitous ARP (IPv4) or unsolicited neighbour
	// advertisements (IPv6) for an address.
	announcer interface {
		Announce(ip netip.Addr) error
		Close() error
	}
)

// session is the state of one Run: the open sockets and the machine. It is
// owned by the Run goroutine.
type session struct {
	*Speaker
	ifindex  int
	local    netip.Addr
	addrs    addrManager
	conn     packetConn
	garp     announcer
	machine  *vrrp.Machine
	notifier *notifier
	linkUp   bool
	lastWarn time.Time
}

// Run speaks VRRP until ctx is cancelled, then sends priority 0 if master,
// releases the addresses and returns nil. It returns an error only when it
// cannot start (missing interface, no privileges).
func (s *Speaker) Run(ctx context.Context) error {
	ss, err := s.open()
	if err != nil {
		return err
	}
	defer ss.close()
	ss.removeStale()

	helpers, stopHelpers := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { stopHelpers(); ss.conn.Close(); wg.Wait() }()

	pkts := make(chan packet, 128)
	wg.Go(func() { ss.readLoop(pkts) })
	wg.Go(func() { ss.notifier.Run(helpers) })
	links := make(chan netlink.LinkUpdate, 16)
	if err := netlink.LinkSubscribeWithOptions(links, helpers.Done(), netlink.LinkSubscribeOptions{}); err != nil {
		return fmt.Errorf("watch link %s: %w", s.cfg.Interface, err)
	}
	checks := make(chan checkResult)
	if s.cfg.Check != "" {
		c := ss.newChecker()
		err := c.check.Probe(ctx, c.timeout)
		ss.setCheck(err == nil, err, "initial check")
		wg.Go(func() { c.Run(helpers, err == nil, checks) })
	}
	ss.metrics.setState(vrrp.StateInit)
	ss.metrics.priority.Set(float64(ss.machine.Priority()))
	ss.exec(ss.machine.SetLink(time.Now(), ss.linkUp), "initial link state")
	ss.exec(ss.machine.Start(time.Now()), "start")
	ss.log.Info("VRRP speaker started", "local", ss.local, "priority", s.cfg.Priority,
		"advert_interval", s.cfg.AdvertInterval, "vips", s.cfg.Addresses, "unicast_peers", s.cfg.UnicastPeers)
	return ss.loop(ctx, pkts, links, checks)
}

func (ss *session) loop(ctx context.Context, pkts <-chan packet, links <-chan netlink.LinkUpdate, checks <-chan checkResult) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if d, ok := ss.machine.Deadline(); ok {
			timer.Reset(time.Until(d))
		} else {
			timer.Reset(time.Hour)
		}
		select {
		case <-ctx.Done():
			ss.exec(ss.machine.Stop(time.Now()), "shutdown")
			return nil
		case <-timer.C:
			// Adverts that arrived while this goroutine was not scheduled
			// come first: a late wake-up must not become a false takeover.
			runtime.Gosched()
			ss.drain(pkts)
			ss.exec(ss.machine.Tick(time.Now()), "master down timer expired")
		case p := <-pkts:
			ss.handlePacket(p)
		case u, ok := <-links:
			if !ok {
				links = nil
				continue
			}
			ss.handleLink(u)
		case r := <-checks:
			ss.setCheck(r.ok, r.err, "check "+ss.cfg.Check)
		}
	}
}

func (s *Speaker) open() (*session, error) {
	link, err := netlink.LinkByName(s.cfg.Interface)
	if err != nil {
		return nil, fmt.Errorf("interface %s: %w", s.cfg.Interface, err)
	}
	local, err := primaryAddr(link, s.cfg.Addresses)
	if err != nil {
		return nil, err
	}
	m, err := vrrp.NewMachine(s.cfg.machineConfig(local))
	if err != nil {
		return nil, err
	}
	attrs := link.Attrs()
	conn, err := openRawConn(attrs.Name, attrs.Index, local, len(s.cfg.UnicastPeers) == 0)
	if err != nil {
		return nil, err
	}
	garp, err := openAnnouncer(attrs.Name, attrs.Index, attrs.HardwareAddr, local.Is6(), s.cfg.GARPCount)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return &session{Speaker: s, ifindex: attrs.Index, local: local, addrs: &linkAddrs{link: link},
		conn: conn, garp: garp, machine: m, notifier: newNotifier(s.cfg.Notify, s.log), linkUp: linkUp(attrs)}, nil
}

func (ss *session) close() {
	ss.conn.Close()
	ss.garp.Close()
}

// removeStale deletes virtual addresses left on the interface by a crashed
// earlier run (or anyone else): holding them while backup is a duplicate IP.
func (ss *session) removeStale() {
	for _, p := range ss.cfg.Addresses {
		has, err := ss.addrs.Has(p.Addr())
		if err != nil {
			ss.log.Warn("cannot check for a stale virtual address", "vip", p, "err", err)
			continue
		}
		if has {
			ss.log.Warn("removing stale virtual address left by an earlier run", "vip", p)
			if err := ss.addrs.Remove(p); err != nil {
				ss.log.Error("cannot remove stale virtual address; expect a duplicate IP", "vip", p, "err", err)
			}
		}
	}
}

func (ss *session) newChecker() *checker {
	c, _ := ParseCheck(ss.cfg.Check) // validated by New
	return &checker{check: c, interval: ss.cfg.CheckInterval, timeout: ss.cfg.CheckTimeout,
		fall: ss.cfg.CheckFall, rise: ss.cfg.CheckRise}
}

// drain handles the packets already queued, without blocking.
func (ss *session) drain(pkts <-chan packet) {
	for {
		select {
		case p := <-pkts:
			ss.handlePacket(p)
		default:
			return
		}
	}
}

// readLoop copies received packets to out until the socket is closed.
func (ss *session) readLoop(out chan<- packet) {
	buf := make([]byte, 65536)
	for {
		p, err := ss.conn.Recv(buf)
		switch {
		case errors.Is(err, os.ErrClosed):
			return
		case errors.Is(err, errMalformed):
			ss.metrics.dropped.WithLabelValues("malformed").Inc()
			continue
		case err != nil:
			ss.log.Warn("VRRP receive failed", "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		p.payload = slices.Clone(p.payload)
		select {
		case out <- p:
		default:
			ss.metrics.dropped.WithLabelValues("queue_full").Inc()
		}
	}
}

func (ss *session) handleLink(u netlink.LinkUpdate) {
	if u.Attrs().Index != ss.ifindex {
		return
	}
	up := linkUp(u.Attrs())
	if up == ss.linkUp {
		return
	}
	ss.linkUp = up
	why := "link down"
	if up {
		why = "link up"
	}
	ss.log.Info("interface "+why, "up", up)
	ss.exec(ss.machine.SetLink(time.Now(), up), why)
}

func (ss *session) setCheck(ok bool, err error, why string) {
	if ok {
		ss.metrics.checkUp.Set(1)
		ss.log.Info("health check passes", "check", ss.cfg.Check)
	} else {
		ss.metrics.checkUp.Set(0)
		ss.log.Warn("health check fails", "check", ss.cfg.Check, "err", err, "weight", ss.cfg.CheckWeight)
	}
	ss.exec(ss.machine.SetCheck(time.Now(), ok), why)
	ss.metrics.priority.Set(float64(ss.machine.Priority()))
}

// warnLimited logs at most one warning per 10 seconds (bad adverts arrive
// ten times a second).
func (ss *session) warnLimited(msg string, args ...any) {
	if now := time.Now(); now.Sub(ss.lastWarn) >= 10*time.Second {
		ss.lastWarn = now
		ss.log.Warn(msg, args...)
	}
}
