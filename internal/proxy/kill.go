package proxy

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"

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
	i := 0
	for i < len(sql) && (sql[i] == ' ' || sql[i] == '\t' || sql[i] == '\r' || sql[i] == '\n') {
		i++
	}
	lead := sql[i:]
	if len(lead) < 5 || lead[0]|0x20 != 'k' || !bytes.EqualFold(lead[:4], []byte("kill")) {
		return killRequest{}, false // the hot path: not a KILL, one byte compared
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
// the target session. As on the server, a user may kill its own sessions,
// and a user that holds SUPER or CONNECTION ADMIN on the primary may kill
// anyone's (see mayKillOthers). Runs on s's goroutine.
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
		ok, err := s.mayKillOthers()
		if err != nil {
			return s.answer(err)
		}
		if !ok {
			return s.writeErr(mysqlwire.Errorf(1095, "HY000", "You are not owner of thread %d", k.id))
		}
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
		if l := target.ls.loop; l != nil {
			l.interrupt(target)
		}
	}
	if !k.query {
		target.close()
	}
	return s.writeOK()
}

// mayKillOthers reports whether s's user may kill other users' threads:
// whether SHOW GRANTS, run on s's own primary connection (opened the usual
// way if s has none), lists SUPER, CONNECTION ADMIN (MySQL 8:
// CONNECTION_ADMIN) or ALL PRIVILEGES on *.*. SHOW GRANTS rather than
// information_schema.USER_PRIVILEGES because it also lists the privileges
// of the session's enabled roles (MariaDB), which USER_PRIVILEGES does not
// show to the user. Asked at each KILL of another user's thread, so that a
// GRANT or REVOKE counts at once. A failed check is an error for the
// client (the server's, the hold's, or 2013 if the connection broke);
// runs on s's goroutine, which owns s.prim.
func (s *session) mayKillOthers() (bool, error) {
	b, err := s.primary()
	if err != nil {
		return false, err
	}
	nc := b.conn.NetConn()
	_ = nc.SetReadDeadline(time.Now().Add(s.srv.config().ConnectTimeout))
	rows, err := b.conn.Query("SHOW GRANTS")
	_ = nc.SetReadDeadline(time.Time{})
	if err != nil {
		if isSQLError(err) {
			return false, err
		}
		s.srv.m.backendErrors.WithLabelValues(b.node, "query").Inc()
		pinned := s.pinned()
		s.log.Warn("backend connection failed while checking the KILL privilege", "server", b.node, "err", err, "session_lost", pinned)
		s.forget(b, true)
		if pinned {
			s.status = mysqlwire.StatusAutocommit
			return false, lostError(mysqlwire.CrServerLost,
				"Lost connection to server %s while checking the privilege to KILL another user's thread; the transaction was lost", b.node)
		}
		return false, mysqlwire.Errorf(mysqlwire.CrServerLost, "HY000",
			"Lost connection to server %s while checking the privilege to KILL another user's thread", b.node)
	}
	for _, r := range rows {
		if len(r) > 0 && grantAllowsKill(r[0].String) {
			return true, nil
		}
	}
	return false, nil
}

// grantAllowsKill reports whether g, one line of SHOW GRANTS, grants a
// privilege that lets its holder kill other users' threads: "GRANT <privs>
// ON *.* TO ..." with SUPER, CONNECTION ADMIN, CONNECTION_ADMIN or ALL
// [PRIVILEGES] among privs.
func grantAllowsKill(g string) bool {
	rest, ok := strings.CutPrefix(g, "GRANT ")
	if !ok {
		return false
	}
	privs, on, ok := strings.Cut(rest, " ON ")
	if !ok || !strings.HasPrefix(on, "*.* TO ") {
		return false
	}
	for p := range strings.SplitSeq(privs, ",") {
		switch strings.ToUpper(strings.TrimSpace(p)) {
		case "ALL", "ALL PRIVILEGES", "SUPER", "CONNECTION ADMIN", "CONNECTION_ADMIN":
			return true
		}
	}
	return false
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
		s.srv.killThread(v.addr, v.thread, "QUERY")
	}
}

// killThread runs KILL <what> thread (QUERY or CONNECTION) on the server
// at addr as the admin user.
func (s *Server) killThread(addr string, thread uint32, what string) {
	cfg := s.config()
	ctx, cancel := context.WithTimeout(context.Background(), cfg.ConnectTimeout)
	c, err := mysqlwire.Dial(ctx, mysqlwire.DialConfig{
		Addr: addr, User: cfg.Admin.User, Password: cfg.Admin.Password, TLS: s.pool.TLS(),
	})
	cancel()
	if err != nil {
		s.log.Warn("KILL "+what+": cannot reach server", "addr", addr, "err", err)
		return
	}
	defer c.Close()
	if _, err := c.Exec(fmt.Sprintf("KILL %s %d", what, thread)); err != nil {
		s.log.Debug("KILL "+what+" on backend", "addr", addr, "thread", thread, "err", err)
	}
}

// sessionByThread returns a session with a backend connection whose
// server thread id is thread, or nil. Thread ids of different servers may
// coincide: a session of user comes first (the caller's own threads, as
// before privileged KILL existed), then a match on a primary connection.
// Whether the caller may kill the session is for kill to judge.
func (s *Server) sessionByThread(thread uint32, user string) *session {
	s.mu.Lock()
	sessions := make([]*session, 0, len(s.sessions))
	for _, sess := range s.sessions {
		sessions = append(sessions, sess)
	}
	s.mu.Unlock()
	var best *session
	bestRank := 0
	for _, sess := range sessions {
		sess.mu.Lock()
		rank := 0
		switch {
		case sess.prim != nil && sess.prim.conn.Greeting.ConnID == thread:
			rank = 2
		case sess.repl != nil && sess.repl.conn.Greeting.ConnID == thread:
			rank = 1
		}
		if rank > 0 && sess.user == user {
			rank += 2
		}
		sess.mu.Unlock()
		if rank > bestRank {
			best, bestRank = sess, rank
		}
	}
	return best
}
