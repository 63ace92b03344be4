package proxy

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strconv"

	"vigil/internal/mysqlwire"
)

// killRequest is a parsed KILL statement.
type killRequest struct {
	id    uint32
	query bool // KILL QUERY: only the running statement
}

// parseKill recognises "KILL [HARD|SOFT] [CONNECTION|QUERY] <id>" with an
// optional trailing semicolon. Anything else (KILL USER, KILL QUERY ID)
// is left to the server.
func parseKill(sql []byte) (killRequest, bool) {
	lead := bytes.TrimLeft(sql, " \t\r\n")
	if len(lead) < 5 || !bytes.EqualFold(lead[:4], []byte("kill")) {
		return killRequest{}, false // the hot path: not a KILL, no allocation
	}
	f := bytes.Fields(bytes.TrimRight(bytes.TrimSpace(sql), "; \t\r\n"))
	if len(f) < 2 || !bytes.EqualFold(f[0], []byte("kill")) {
		return killRequest{}, false
	}
	var k killRequest
	f = f[1:]
	if len(f) > 1 && (bytes.EqualFold(f[0], []byte("hard")) || bytes.EqualFold(f[0], []byte("soft"))) {
		f = f[1:]
	}
	if len(f) > 1 {
		switch {
		case bytes.EqualFold(f[0], []byte("connection")):
		case bytes.EqualFold(f[0], []byte("query")):
			k.query = true
		default:
			return killRequest{}, false
		}
		f = f[1:]
	}
	if len(f) != 1 {
		return killRequest{}, false
	}
	id, err := strconv.ParseUint(string(f[0]), 10, 32)
	if err != nil {
		return killRequest{}, false
	}
	k.id = uint32(id)
	return k, true
}

// comProcessKill handles the old COM_PROCESS_KILL command.
func (s *session) comProcessKill(p []byte) bool {
	if len(p) < 5 {
		return s.writeErr(mysqlwire.Errorf(mysqlwire.ErUnknownComError, "08S01", "Malformed COM_PROCESS_KILL"))
	}
	return s.kill(killRequest{id: binary.LittleEndian.Uint32(p[1:])})
}

// kill handles KILL of a proxy connection id: KILL QUERY kills the
// statement running on the target's backends; KILL CONNECTION also closes
// the target session. Only the same user may kill a session.
func (s *session) kill(k killRequest) bool {
	target := s.srv.session(k.id)
	if target == nil {
		// Applications that KILL what CONNECTION_ID() told them name a
		// backend thread: find the session that uses it.
		target = s.srv.sessionByThread(k.id, s.user)
	}
	if target == nil {
		return s.writeErr(mysqlwire.Errorf(mysqlwire.ErNoSuchThread, "HY000", "Unknown thread id: %d", k.id))
	}
	if target.userName() != s.user {
		return s.writeErr(mysqlwire.Errorf(1095, "HY000", "You are not owner of thread %d", k.id))
	}
	if target == s {
		if k.query {
			return s.writeErr(mysqlwire.Errorf(mysqlwire.ErQueryInterrupted, "70100", "Query execution was interrupted"))
		}
		_ = s.c.WriteError(mysqlwire.Errorf(mysqlwire.ErConnectionKilled, "70100", "Connection was killed"))
		return false
	}
	if target.state.Load() == stateBusy {
		s.killBackends(target)
	}
	if !k.query {
		target.close()
	}
	return s.writeOK()
}

// killBackends runs KILL QUERY on the servers of target's backend
// connections, as the admin user.
func (s *session) killBackends(target *session) {
	type victim struct {
		addr   string
		thread uint32
	}
	var vs []victim
	target.mu.Lock()
	for _, b := range []*backend{target.prim, target.repl} {
		if b != nil {
			vs = append(vs, victim{b.conn.Addr, b.conn.Greeting.ConnID})
		}
	}
	target.mu.Unlock()
	for _, v := range vs {
		s.killQuery(v.addr, v.thread)
	}
}

// killQuery runs KILL QUERY thread on the server at addr as the admin user.
func (s *session) killQuery(addr string, thread uint32) {
	cfg := s.srv.config()
	ctx, cancel := context.WithTimeout(context.Background(), cfg.ConnectTimeout)
	c, err := mysqlwire.Dial(ctx, mysqlwire.DialConfig{
		Addr: addr, User: cfg.Admin.User, Password: cfg.Admin.Password, TLS: s.srv.pool.TLS(),
	})
	cancel()
	if err != nil {
		s.log.Warn("KILL QUERY: cannot reach server", "addr", addr, "err", err)
		return
	}
	defer c.Close()
	if _, err := c.Exec(fmt.Sprintf("KILL QUERY %d", thread)); err != nil {
		s.log.Debug("KILL QUERY on backend", "addr", addr, "thread", thread, "err", err)
	}
}

// sessionByThread returns a session of user with a backend connection
// whose server thread id is thread, or nil.
func (s *Server) sessionByThread(thread uint32, user string) *session {
	s.mu.Lock()
	sessions := make([]*session, 0, len(s.sessions))
	for _, sess := range s.sessions {
		sessions = append(sessions, sess)
	}
	s.mu.Unlock()
	for _, sess := range sessions {
		sess.mu.Lock()
		match := sess.user == user &&
			((sess.prim != nil && sess.prim.conn.Greeting.ConnID == thread) ||
				(sess.repl != nil && sess.repl.conn.Greeting.ConnID == thread))
		sess.mu.Unlock()
		if match {
			return sess
		}
	}
	return nil
}
