package vip

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"vigil/internal/vip/vrrp"
)

// handlePacket validates one received packet and feeds it to the machine.
func (ss *session) handlePacket(p packet) {
	if p.src == ss.local {
		return
	}
	if p.ttl != vrrp.TTL {
		ss.metrics.dropped.WithLabelValues("ttl").Inc()
		ss.warnLimited("dropped VRRP packet with TTL != 255 (routed or spoofed)", "from", p.src, "ttl", p.ttl)
		return
	}
	if len(ss.cfg.UnicastPeers) > 0 && !slices.Contains(ss.cfg.UnicastPeers, p.src) {
		ss.metrics.dropped.WithLabelValues("unknown_peer").Inc()
		ss.warnLimited("dropped VRRP packet from an address that is not a unicast peer", "from", p.src)
		return
	}
	a, err := vrrp.ParseAdvert(p.payload, p.src, p.dst)
	if err != nil {
		reason := "malformed"
		if errors.Is(err, vrrp.ErrChecksum) {
			reason = "checksum"
		}
		ss.metrics.dropped.WithLabelValues(reason).Inc()
		ss.warnLimited("dropped bad VRRP packet", "from", p.src, "err", err)
		return
	}
	acts, err := ss.machine.Receive(time.Now(), p.src, a)
	switch {
	case errors.Is(err, vrrp.ErrOtherVRID):
		return
	case err != nil:
		ss.metrics.dropped.WithLabelValues("address_mismatch").Inc()
		ss.warnLimited("ignoring VRRP advert: fix the vip list on one side", "err", err)
		return
	}
	ss.metrics.received.Inc()
	ss.exec(acts, fmt.Sprintf("advert from %v priority %d", p.src, a.Priority))
}

// exec performs the machine's actions in order. why is logged with state changes.
func (ss *session) exec(acts []vrrp.Action, why string) {
	for _, a := range acts {
		switch a.Kind {
		case vrrp.SendAdvert:
			ss.sendAdvert(a.Priority)
		case vrrp.AddVIP:
			ss.addVIPs()
		case vrrp.RemoveVIP:
			for _, p := range ss.cfg.Addresses {
				if err := ss.addrs.Remove(p); err != nil {
					ss.log.Error("cannot remove virtual address; expect a duplicate IP", "vip", p, "err", err)
				}
			}
		case vrrp.SendGARP:
			ss.addVIPs() // reconcile: re-add an address deleted behind our back
			ss.sendGARP()
		case vrrp.Notify:
			ss.notify(a.State, why)
		}
	}
}

func (ss *session) addVIPs() {
	for _, p := range ss.cfg.Addresses {
		if err := ss.addrs.Add(p); err != nil {
			ss.log.Error("cannot add virtual address; clients cannot reach this master", "vip", p, "err", err)
		}
	}
}

func (ss *session) sendGARP() {
	for _, p := range ss.cfg.Addresses {
		if err := ss.garp.Announce(p.Addr()); err != nil {
			ss.log.Warn("gratuitous ARP failed; clients may keep the old MAC", "vip", p, "err", err)
			continue
		}
		ss.metrics.garps.Inc()
	}
}

func (ss *session) sendAdvert(prio uint8) {
	dsts := ss.cfg.UnicastPeers
	if len(dsts) == 0 {
		dsts = []netip.Addr{vrrp.Group(ss.local)}
	}
	adv := ss.machine.Advert(prio)
	for _, dst := range dsts {
		payload, err := adv.Marshal(ss.local, dst)
		if err == nil {
			err = ss.conn.Send(dst, payload)
		}
		if err != nil {
			if ss.linkUp {
				ss.warnLimited("VRRP advert not sent", "to", dst, "err", err)
			}
			continue
		}
		ss.metrics.sent.Inc()
	}
}

func (ss *session) notify(s vrrp.State, why string) {
	ss.metrics.setState(s)
	ss.metrics.transitions.WithLabelValues(s.String()).Inc()
	ss.metrics.priority.Set(float64(ss.machine.Priority()))
	ss.log.Info("VRRP state change", "state", s.String(), "reason", why, "priority", ss.machine.Priority(),
		"master", ss.machine.Master())
	ss.notifier.Post(s.String())
}
