package proxy

import (
	"encoding/binary"

	"vigil/internal/mysqlwire"
)

// comInitDB changes the schema on the primary and remembers it for the
// session's other backends.
func (s *session) comInitDB(p []byte) bool {
	b, err := s.primary()
	if err != nil {
		return s.answer(err)
	}
	sum, err := s.exec(b, p, mysqlwire.RespOne)
	if err != nil {
		return s.answer(err)
	}
	if sum.Err == nil {
		s.schema = string(p[1:])
		b.schema = s.schema
		if s.rs != nil {
			s.rs.SetSchema(s.schema)
		}
	}
	return true
}

// comSetOption toggles multi-statements on the primary and remembers the
// option for the session's other backends.
func (s *session) comSetOption(p []byte) bool {
	if len(p) < 3 {
		return s.writeErr(mysqlwire.Errorf(mysqlwire.ErUnknownComError, "08S01", "Malformed COM_SET_OPTION"))
	}
	b, err := s.primary()
	if err != nil {
		return s.answer(err)
	}
	sum, err := s.exec(b, p, mysqlwire.RespOne)
	if err != nil {
		return s.answer(err)
	}
	if sum.Err == nil {
		s.option = binary.LittleEndian.Uint16(p[1:])
		b.option, b.dirty = s.option, true
	}
	return true
}

// comResetConnection resets the session: the primary connection is reset
// by the server, the replica connection goes back to the pool, the
// session commands are forgotten.
func (s *session) comResetConnection(p []byte) bool {
	if s.repl != nil {
		b := s.repl
		s.setRepl(nil)
		s.release(b)
	}
	s.history, s.stmts = nil, nil
	s.histGen++
	s.status = mysqlwire.StatusAutocommit
	if s.rs != nil {
		s.rs.Reset(s.user, s.schema)
	}
	if s.prim == nil {
		return s.writeOK()
	}
	s.prim.applied = 0
	if _, err := s.exec(s.prim, p, mysqlwire.RespOne); err != nil {
		return s.answer(err)
	}
	return true
}

// comChangeUser re-authenticates the client at the proxy and starts a
// fresh session state as the new user.
func (s *session) comChangeUser(p []byte) bool {
	cu, err := mysqlwire.ParseChangeUser(p, s.caps)
	if err != nil {
		return s.writeErr(mysqlwire.Errorf(mysqlwire.ErUnknownComError, "08S01", "Malformed COM_CHANGE_USER"))
	}
	cfg := s.srv.config()
	u, found := cfg.Users[cu.User]
	stage1, ok := mysqlwire.VerifyNative(u.Cred.Stage2, s.salt, cu.AuthData)
	if !ok && s.caps&mysqlwire.CapPluginAuth != 0 {
		stage1, err = s.c.ReauthNative(u.Cred)
		ok = err == nil
	}
	if !found || !ok {
		s.srv.m.errors.WithLabelValues("access_denied").Inc()
		_ = s.c.WriteError(s.accessDenied(cu.User, len(cu.AuthData) > 0))
		return false
	}
	if cu.User != s.user && !s.srv.admitUser(cu.User, u.MaxConnections) {
		_ = s.c.WriteError(mysqlwire.Errorf(mysqlwire.ErConCount, "08004", "Too many connections"))
		return false
	}
	s.resetBackends()
	if cu.User != s.user {
		s.srv.releaseUser(s.user)
	}
	s.setUser(cu.User)
	s.stage1, s.schema, s.attrs = stage1, cu.DB, cu.Attrs
	if cu.Charset != 0 {
		s.charset = byte(cu.Charset)
	}
	s.history, s.stmts = nil, nil
	s.histGen++
	s.status = mysqlwire.StatusAutocommit
	s.startRouting()
	if s.schema != "" {
		if _, err := s.primary(); err != nil {
			return s.answer(err)
		}
	}
	return s.writeOK()
}

// resetBackends returns both backends to the pool (they are reset when
// reused).
func (s *session) resetBackends() {
	s.mu.Lock()
	prim, repl := s.prim, s.repl
	s.prim, s.repl = nil, nil
	s.mu.Unlock()
	for _, b := range []*backend{prim, repl} {
		if b != nil {
			s.release(b)
		}
	}
}
