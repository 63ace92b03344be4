package proxy

import (
	"errors"
	"fmt"
	"time"

	"vigil/internal/mysqlwire"
	"vigil/internal/topology"
)

// handshakeTimeout bounds the whole login of a client.
const handshakeTimeout = 10 * time.Second

// login runs the handshake, authenticates the client against the
// configured users and answers OK or an error.
func (s *session) login() error {
	_ = s.nc.SetDeadline(time.Now().Add(handshakeTimeout))
	ctx, cancel := s.connectContext()
	g := s.srv.greeting(ctx)
	cancel()
	salt, err := mysqlwire.NewSalt()
	if err != nil {
		return err
	}
	s.salt = salt[:]
	cfg := s.srv.config()
	greet := &mysqlwire.Greeting{
		ServerVersion: g.ServerVersion, ConnID: s.id, Salt: s.salt,
		Caps:    mysqlwire.ProxyCaps & (g.Caps | mysqlwire.CapPluginAuth | mysqlwire.CapPluginAuthLenenc),
		Charset: g.Charset, Status: mysqlwire.StatusAutocommit, Plugin: cfg.AuthPlugin,
		ExtCaps: mysqlwire.ProxyExtCaps & g.ExtCaps,
	}
	lg, err := s.c.ServerHandshake(greet, mysqlwire.ServerAuth{
		TLS: cfg.TLS, RSA: s.srv.rsaKey,
		Lookup: func(name string) (mysqlwire.Credentials, bool) {
			u, ok := cfg.Users[name]
			return u.Cred, ok
		},
	})
	if errors.Is(err, mysqlwire.ErrAuthFailed) {
		s.srv.m.errors.WithLabelValues("access_denied").Inc()
		_ = s.c.WriteError(s.accessDenied(lg.Response.User, len(lg.Response.AuthData) > 0))
		return err
	}
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	resp := lg.Response
	if !s.srv.admitUser(resp.User, cfg.Users[resp.User].MaxConnections) {
		s.srv.m.errors.WithLabelValues("too_many_connections").Inc()
		_ = s.c.WriteError(mysqlwire.Errorf(mysqlwire.ErConCount, "08004", "Too many connections"))
		return errors.New("user connection limit reached")
	}
	s.setUser(resp.User)
	s.stage1, s.caps, s.extCaps = lg.Stage1, lg.Caps, lg.ExtCaps
	s.charset, s.schema, s.attrs = resp.Charset, resp.DB, resp.Attrs
	s.option = multiOption(s.caps)
	s.startRouting()
	if s.schema != "" {
		if err := s.checkSchema(); err != nil {
			s.answer(err)
			return fmt.Errorf("login to schema %q: %w", s.schema, err)
		}
	}
	if !s.writeOK() {
		return errors.New("client gone after login")
	}
	_ = s.nc.SetDeadline(time.Time{})
	s.log = s.log.With("user", s.user)
	return nil
}

// accessDenied is the server's error 1045 for user from this client.
func (s *session) accessDenied(user string, withPassword bool) *mysqlwire.SQLError {
	using := "NO"
	if withPassword {
		using = "YES"
	}
	return mysqlwire.Errorf(mysqlwire.ErAccessDenied, "28000",
		"Access denied for user '%s'@'%s' (using password: %s)", user, s.host, using)
}

// startRouting gives the session its routing state (if a router is set).
func (s *session) startRouting() {
	if s.srv.router != nil {
		s.rs = s.srv.router.NewSession(s.user, s.schema)
		s.rs.SetLane(s.lane)
	}
}

// setUser records the session's user; KILL reads it from other sessions.
func (s *session) setUser(u string) {
	s.mu.Lock()
	s.user = u
	s.mu.Unlock()
}

// userName returns the session's user; safe from any goroutine.
func (s *session) userName() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.user
}

// multiOption is the COM_SET_OPTION value equivalent to caps: 0 when
// CLIENT_MULTI_STATEMENTS is set, 1 when not.
func multiOption(caps uint32) uint16 {
	if caps&mysqlwire.CapMultiStatements != 0 {
		return 0
	}
	return 1
}

// checkSchema opens a backend connection with the session's schema, as a
// server checks the schema (and the user's grants) at login: on the
// primary, or on a replica while no primary is usable (so that reads keep
// working during a failover), or else holding for a primary.
func (s *session) checkSchema() error {
	snap, _ := s.srv.src.Current()
	if b, _, err := s.tryPrimary(snap); b != nil || err != nil {
		return err
	}
	for _, n := range snap.Nodes {
		if n.Name == snap.Primary || !n.Up || n.Role != topology.RoleReplica {
			continue
		}
		b, err := s.open(n)
		if err == nil {
			s.setRepl(b)
			return nil
		}
		if isSQLError(err) {
			return err
		}
	}
	_, err := s.primary()
	return err
}
