package proxy

import (
	"errors"
	"os"
	"time"

	"vigil/internal/mysqlwire"
)

// errClientGone ends the session: the client connection failed.
var errClientGone = errors.New("client connection failed")

// exec sends command p to b and relays the response to the client. On a
// backend failure it drops b, answers the client with error 2013 and
// returns an error that answer() understands (errSessionLost when the
// session's state died with b). On a client failure it returns
// errClientGone.
func (s *session) exec(b *backend, p []byte, kind mysqlwire.Response) (mysqlwire.Summary, error) {
	if err := s.beginExec(b, p); err != nil {
		return s.endExec(b, mysqlwire.Summary{}, err)
	}
	sum, err := s.relay.Relay(kind)
	return s.endExec(b, sum, err)
}

// beginExec sends command p to b, with the query timeout as b's read
// deadline; the response is relayed next (s.relay), then endExec called.
func (s *session) beginExec(b *backend, p []byte) error {
	if qt := s.srv.config().QueryTimeout; qt > 0 {
		_ = b.conn.NetConn().SetReadDeadline(time.Now().Add(qt))
		s.deadline = true
	}
	s.cur = b
	s.gtid = s.gtid[:0]
	s.relay.Server, s.relay.ServerCaps, s.relay.ClientCaps = b.conn.Conn, b.conn.Caps, s.caps
	s.relay.CacheMetadata = b.conn.ExtCaps&mysqlwire.ExtCacheMetadata != 0
	return b.conn.WriteRequest(p)
}

// endExec ends a statement begun on b whose relay returned sum and err.
func (s *session) endExec(b *backend, sum mysqlwire.Summary, err error) (mysqlwire.Summary, error) {
	s.cur = nil
	s.lastPiped = s.lastPiped[:0] // the session's last statement ran here
	if s.deadline {
		_ = b.conn.NetConn().SetReadDeadline(time.Time{})
		s.deadline = false
	}
	if err != nil {
		return sum, s.failed(b, err)
	}
	if sum.HaveStatus {
		s.status = sum.Status
	}
	return sum, nil
}

// failed handles a relay error on b.
func (s *session) failed(b *backend, err error) error {
	if errors.Is(err, mysqlwire.ErrClientIO) {
		s.forget(b, true)
		return errClientGone
	}
	pinned := b == s.prim && s.pinned()
	if errors.Is(err, os.ErrDeadlineExceeded) {
		s.srv.m.backendErrors.WithLabelValues(b.node, "timeout").Inc()
		s.forget(b, true)
		s.srv.killThread(b.conn.Addr, b.conn.Greeting.ConnID, "QUERY") // stop the server's work too
		qt := s.srv.config().QueryTimeout
		if pinned {
			s.status = mysqlwire.StatusAutocommit
			return lostError(1969, "vigil: query_timeout (%v) exceeded on %s; the transaction was lost", qt, b.node)
		}
		return mysqlwire.Errorf(1969, "70100", "Query execution was interrupted (vigil query_timeout %v exceeded on %s)", qt, b.node)
	}
	s.srv.m.backendErrors.WithLabelValues(b.node, "query").Inc()
	s.log.Warn("backend connection failed during a statement", "server", b.node, "err", err, "session_lost", pinned)
	s.forget(b, true)
	if pinned {
		s.status = mysqlwire.StatusAutocommit
		return lostError(mysqlwire.CrServerLost, "Lost connection to server %s during query; the transaction was lost", b.node)
	}
	return mysqlwire.Errorf(mysqlwire.CrServerLost, "HY000", "Lost connection to server %s during query", b.node)
}

// forget removes b from the session and closes or pools it.
func (s *session) forget(b *backend, broken bool) {
	switch b {
	case s.prim:
		s.dropPrim(broken)
	case s.repl:
		s.setRepl(nil)
		if broken {
			s.discard(b)
		} else {
			s.release(b)
		}
	default:
		s.discard(b)
	}
}

// onPrimary runs a command on the primary (COM_FIELD_LIST, COM_STATISTICS).
func (s *session) onPrimary(p []byte, kind mysqlwire.Response) bool {
	b, err := s.primary()
	if err != nil {
		return s.answer(err)
	}
	if _, err := s.exec(b, p, kind); err != nil {
		return s.answer(err)
	}
	return true
}
