package pool

import (
	"errors"
	"sync"
	"time"

	"vigil/internal/mysqlwire"
)

// isRefusal reports whether a COM_CHANGE_USER error is the server refusing
// the login (the session gets it), as opposed to a connection that died
// while idle (killed, server shut down, timed out), where Get tries another.
func isRefusal(err error) bool {
	var se *mysqlwire.SQLError
	if !errors.As(err, &se) {
		return false
	}
	switch se.Number {
	case mysqlwire.ErConnectionKilled, 1053 /* ER_SERVER_SHUTDOWN */, 4031 /* ER_CLIENT_INTERACTION_TIMEOUT */ :
		return false
	}
	return true
}

// countBroken counts an idle connection found dead by Get.
func (p *Pool) countBroken(addr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.server(addr).broken++
}

// check takes the idle connections that have not answered for
// HealthInterval out of the idle list and pings each on a goroutine
// counted in wg. Called by Run.
func (p *Pool) check(wg *sync.WaitGroup) {
	p.mu.Lock()
	defer p.mu.Unlock()
	cutoff := p.now().Add(-p.cfg.HealthInterval)
	for _, s := range p.servers {
		keep := s.idle[:0]
		for _, c := range s.idle {
			if !c.checkedAt.Before(cutoff) {
				keep = append(keep, c)
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				p.ping(c)
			}()
		}
		clear(s.idle[len(keep):])
		s.idle = keep
	}
}

// ping sends COM_PING on c (taken out of the idle list by check) and puts
// it back if the server answers, else closes it.
func (p *Pool) ping(c *Conn) {
	_ = c.SetDeadline(time.Now().Add(p.cfg.ConnectTimeout))
	_, err := c.Command([]byte{mysqlwire.ComPing})
	_ = c.SetDeadline(time.Time{})
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.server(c.Addr)
	defer p.signal(s)
	if err != nil {
		p.cfg.Logger.Debug("idle backend connection failed its ping; closed", "addr", c.Addr, "err", err)
		s.broken++
	}
	if err != nil || p.closed || len(s.idle) >= p.cfg.MaxIdle {
		s.open--
		go c.Close()
		return
	}
	c.checkedAt = p.now()
	s.idle = append(s.idle, c)
}
