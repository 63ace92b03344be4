package vrrp

import (
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// Start leaves Init: an address owner (priority 255) becomes master at once,
// anyone else becomes backup and waits one Master_Down_Interval for a master.
func (m *Machine) Start(now time.Time) []Action {
	if m.state != StateInit {
		return nil
	}
	if m.faulted() {
		return m.enterFault(now)
	}
	if m.cfg.Priority == 255 {
		return m.becomeMaster(now)
	}
	return m.becomeBackup(now, m.cfg.AdvertInterval)
}

// Stop leaves the protocol: a master sends priority 0 so the backup takes
// over after Skew_Time, and releases the addresses.
func (m *Machine) Stop(now time.Time) []Action {
	var acts []Action
	if m.state == StateMaster {
		acts = append(acts, Action{Kind: SendAdvert, Priority: 0}, Action{Kind: RemoveVIP},
			Action{Kind: Notify, State: StateBackup})
	}
	m.state = StateInit
	m.master = netip.Addr{}
	m.disarm()
	return acts
}

// Tick fires every timer due at now.
func (m *Machine) Tick(now time.Time) []Action {
	var acts []Action
	due := func(t time.Time) bool { return !t.IsZero() && !now.Before(t) }
	switch m.state {
	case StateBackup:
		if due(m.downAt) {
			acts = append(acts, m.becomeMaster(now)...)
		}
	case StateMaster:
		if due(m.advertAt) {
			acts = append(acts, m.advert())
			m.advertAt = now.Add(m.cfg.AdvertInterval)
		}
		if due(m.garpRepeatAt) {
			acts = append(acts, Action{Kind: SendGARP})
			m.garpRepeatAt = time.Time{}
		}
		if due(m.garpRefreshAt) {
			acts = append(acts, Action{Kind: SendGARP})
			m.garpRefreshAt = now.Add(m.cfg.GARPRefresh)
		}
	}
	return acts
}

// Receive handles an advert from src that passed ParseAdvert and the TTL
// check. It returns ErrOtherVRID or ErrAddressMismatch (with no actions) for
// adverts it ignores.
func (m *Machine) Receive(now time.Time, src netip.Addr, a Advert) ([]Action, error) {
	if a.VRID != m.cfg.VRID {
		return nil, ErrOtherVRID
	}
	if a.Priority != 0 && !m.sameAddresses(a.Addresses) {
		return nil, fmt.Errorf("%w: %v from %v, want %v", ErrAddressMismatch, a.Addresses, src, m.cfg.Addresses)
	}
	switch m.state {
	case StateBackup:
		return m.backupReceive(now, src, a), nil
	case StateMaster:
		return m.masterReceive(now, src, a), nil
	}
	return nil, nil
}

func (m *Machine) backupReceive(now time.Time, src netip.Addr, a Advert) []Action {
	if a.Priority == 0 {
		m.downAt = now.Add(m.skew())
		return nil
	}
	if !m.cfg.Preempt || a.Priority >= m.Priority() {
		m.master = src
		if a.Interval > 0 {
			m.masterAdvInt = a.Interval
		}
		m.downAt = now.Add(m.masterDownInterval())
	}
	return nil
}

func (m *Machine) masterReceive(now time.Time, src netip.Addr, a Advert) []Action {
	own := m.Priority()
	switch {
	case a.Priority == 0:
		m.advertAt = now.Add(m.cfg.AdvertInterval)
		return []Action{m.advert()}
	case a.Priority > own || (a.Priority == own && src.Compare(m.cfg.LocalAddr) > 0):
		// The partition-heal fix: one last advert so the winner hears a
		// lower priority and re-announces the addresses with GARP.
		acts := []Action{m.advert()}
		interval := a.Interval
		if interval <= 0 {
			interval = m.cfg.AdvertInterval
		}
		acts = append(acts, m.becomeBackup(now, interval)...)
		m.master = src
		return acts
	default:
		// A lower priority master (split brain healing): assert at once,
		// at most once per advert interval.
		if !m.lastLowerReply.IsZero() && now.Sub(m.lastLowerReply) < m.cfg.AdvertInterval {
			return nil
		}
		m.lastLowerReply = now
		m.advertAt = now.Add(m.cfg.AdvertInterval)
		// Repeat the burst later too: a host that took the loser's GARP less
		// than its ARP locktime ago (Linux: 1s) ignores this one.
		m.garpRepeatAt = now.Add(m.cfg.GARPRepeat)
		return []Action{m.advert(), {Kind: SendGARP}}
	}
}

// SetLink reports the interface's carrier; a down link means FAULT.
func (m *Machine) SetLink(now time.Time, up bool) []Action {
	m.linkUp = up
	return m.reconcileHealth(now)
}

// SetCheck reports the health check result: FAULT when CheckWeight is 0,
// otherwise a priority lowered by CheckWeight.
func (m *Machine) SetCheck(now time.Time, ok bool) []Action {
	m.checkOK = ok
	return m.reconcileHealth(now)
}

func (m *Machine) reconcileHealth(now time.Time) []Action {
	switch {
	case m.state == StateInit:
		return nil
	case m.faulted() && m.state != StateFault:
		return m.enterFault(now)
	case !m.faulted() && m.state == StateFault:
		return m.becomeBackup(now, m.cfg.AdvertInterval)
	case m.state == StateMaster:
		// Priority may have changed: tell the peers now.
		m.advertAt = now.Add(m.cfg.AdvertInterval)
		return []Action{m.advert()}
	}
	return nil
}

func (m *Machine) enterFault(now time.Time) []Action {
	var acts []Action
	if m.state == StateMaster {
		acts = append(acts, Action{Kind: SendAdvert, Priority: 0}, Action{Kind: RemoveVIP})
	}
	m.state = StateFault
	m.master = netip.Addr{}
	m.disarm()
	return append(acts, Action{Kind: Notify, State: StateFault})
}

func (m *Machine) becomeMaster(now time.Time) []Action {
	m.state = StateMaster
	m.master = netip.Addr{}
	m.masterAdvInt = m.cfg.AdvertInterval
	m.disarm()
	m.advertAt = now.Add(m.cfg.AdvertInterval)
	m.garpRepeatAt = now.Add(m.cfg.GARPRepeat)
	if m.cfg.GARPRefresh > 0 {
		m.garpRefreshAt = now.Add(m.cfg.GARPRefresh)
	}
	return []Action{m.advert(), {Kind: AddVIP}, {Kind: SendGARP}, {Kind: Notify, State: StateMaster}}
}

func (m *Machine) becomeBackup(now time.Time, interval time.Duration) []Action {
	var acts []Action
	if m.state == StateMaster {
		acts = append(acts, Action{Kind: RemoveVIP})
	}
	m.state = StateBackup
	m.masterAdvInt = interval
	m.disarm()
	m.downAt = now.Add(m.masterDownInterval())
	return append(acts, Action{Kind: Notify, State: StateBackup})
}

func (m *Machine) advert() Action {
	return Action{Kind: SendAdvert, Priority: m.Priority()}
}

// Advert returns the advertisement for priority p (the payload of SendAdvert).
func (m *Machine) Advert(p uint8) Advert {
	return Advert{VRID: m.cfg.VRID, Priority: p, Interval: m.cfg.AdvertInterval, Addresses: m.cfg.Addresses}
}

func (m *Machine) sameAddresses(addrs []netip.Addr) bool {
	if len(addrs) != len(m.cfg.Addresses) {
		return false
	}
	s := slices.Clone(addrs)
	slices.SortFunc(s, netip.Addr.Compare)
	return slices.Equal(s, m.cfg.Addresses)
}
