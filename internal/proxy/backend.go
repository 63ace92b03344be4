package proxy

import (
	"encoding/binary"
	"errors"
	"strings"
	"time"

	"vigil/internal/mysqlwire"
	"vigil/internal/pool"
	"vigil/internal/topology"
)

// backend is one of a session's backend connections. Owned by the session
// goroutine.
type backend struct {
	conn *pool.Conn
	node string
	// epoch is the topology epoch for which read_only=OFF was verified
	// (primary connections only); writable says it was.
	epoch    uint64
	writable bool
	// applied is how many of the session's history entries ran here.
	applied int
	schema  string
	option  uint16
	// dirty: the connection's protocol options changed; never pool it.
	dirty bool
	// fd is the socket's descriptor once out of Go's poller for the event
	// loop (0: not yet; -1: cannot be, TLS).
	fd int
}

// backendCaps are the capabilities a session's backend connections use:
// the client's protocol-shaping flags, plus session tracking so that the
// proxy always sees last_gtid and schema changes.
func (s *session) backendCaps() uint32 {
	const fromClient = mysqlwire.CapFoundRows | mysqlwire.CapLongFlag | mysqlwire.CapLocalFiles |
		mysqlwire.CapIgnoreSpace | mysqlwire.CapInteractive | mysqlwire.CapMultiStatements |
		mysqlwire.CapMultiResults | mysqlwire.CapPSMultiResults | mysqlwire.CapDeprecateEOF |
		mysqlwire.CapTransactions | mysqlwire.CapConnectAttrs
	return s.caps&fromClient | mysqlwire.CapLongPassword | mysqlwire.CapProtocol41 |
		mysqlwire.CapSecureConnection | mysqlwire.CapPluginAuth | mysqlwire.CapPluginAuthLenenc |
		mysqlwire.CapSessionTrack
}

// open borrows a connection to node logged in as the session's user, with
// the session's schema and character set, and replays the session commands.
func (s *session) open(node topology.Node) (*backend, error) {
	ctx, cancel := s.connectContext()
	defer cancel()
	pc, err := s.srv.pool.Get(ctx, s.dialConfig(node.Address))
	if err != nil {
		s.srv.m.backendErrors.WithLabelValues(node.Name, "connect").Inc()
		return nil, s.tlsError(node, err)
	}
	b := &backend{conn: pc, node: node.Name, schema: s.schema, option: multiOption(pc.Caps)}
	if pc.ExtCaps != s.extCaps {
		// The relay passes column-count packets through as they are, so
		// both sides must agree on their format.
		s.discard(b)
		return nil, mysqlwire.Errorf(mysqlwire.ErUnknownError, "HY000",
			"vigil: server %s lacks MariaDB capabilities %#x that this session negotiated (servers of mixed versions?)", node.Name, s.extCaps&^pc.ExtCaps)
	}
	if err := s.sync(b); err != nil {
		s.discard(b)
		return nil, err
	}
	return b, nil
}

// dialConfig is how s's connections to the server at addr log in: as its
// user, with its schema, character set and protocol options.
func (s *session) dialConfig(addr string) mysqlwire.DialConfig {
	return mysqlwire.DialConfig{
		Addr: addr, User: s.user, Stage1: s.stage1, DB: s.schema,
		Caps: s.backendCaps(), ExtCaps: s.extCaps, Charset: s.charset, Attrs: s.attrs,
	}
}

// sync brings b up to the session's state: schema, session commands not
// yet run there, and the multi-statement option.
func (s *session) sync(b *backend) error {
	return syncTo(b, s.schema, s.history, s.option)
}

// syncTo brings b up to a session state: schema, the session commands of
// history not yet run there, and the multi-statement option.
func syncTo(b *backend, schema string, history []string, option uint16) error {
	if schema != "" && b.schema != schema {
		if _, err := b.conn.Command(append([]byte{mysqlwire.ComInitDB}, schema...)); err != nil {
			return err
		}
		b.schema = schema
	}
	for b.applied < len(history) {
		if _, err := b.conn.Exec(history[b.applied]); err != nil {
			return err
		}
		b.applied++
	}
	if b.option != option {
		cmd := binary.LittleEndian.AppendUint16([]byte{mysqlwire.ComSetOption}, option)
		if err := b.conn.WriteCommand(cmd); err != nil {
			return err
		}
		if _, err := b.conn.ReadPacket(); err != nil {
			return err
		}
		b.option, b.dirty = option, true
	}
	return nil
}

// release returns b to the pool, or closes it if its state is unknown.
func (s *session) release(b *backend) {
	s.unwatch(b)
	if b.dirty {
		s.srv.pool.Discard(b.conn)
		return
	}
	s.srv.pool.Put(b.conn)
}

// discard closes b.
func (s *session) discard(b *backend) {
	s.unwatch(b)
	s.srv.pool.Discard(b.conn)
}

// unwatch takes b out of the event loop's watch before it leaves the
// session.
func (s *session) unwatch(b *backend) {
	if s.ls.loop != nil {
		s.ls.loop.unwatch(s, b)
	}
}

// setPrim and setRepl change the session's backends under mu.
func (s *session) setPrim(b *backend) {
	s.mu.Lock()
	s.prim = b
	s.mu.Unlock()
}

func (s *session) setRepl(b *backend) {
	if s.repl != nil && s.repl != b {
		s.forgetStmts(s.repl)
	}
	s.mu.Lock()
	s.repl = b
	s.mu.Unlock()
}

// dropPrim forgets the primary connection (closing it) and the prepared
// statements that lived there.
func (s *session) dropPrim(broken bool) {
	b := s.prim
	if b == nil {
		return
	}
	s.setPrim(nil)
	s.forgetStmts(b)
	if broken {
		s.discard(b)
	} else {
		s.release(b)
	}
}

// primary returns the session's connection to the current primary, holding
// (up to HoldTimeout) while there is none, it is unreachable, or it still
// reports read_only=ON.
func (s *session) primary() (*backend, error) {
	cfg := s.srv.config()
	var deadline, start time.Time
	for {
		snap, changed := s.srv.src.Current()
		b, retry, err := s.tryPrimary(snap)
		if err != nil || b != nil {
			if !start.IsZero() {
				s.srv.m.holdSeconds.Observe(time.Since(start).Seconds())
			}
			return b, err
		}
		now := time.Now()
		if deadline.IsZero() {
			start, deadline = now, now.Add(cfg.HoldTimeout)
			s.srv.m.holds.Inc()
			s.log.Debug("holding statement: no usable primary", "primary", snap.Primary, "epoch", snap.Epoch)
		}
		if !now.Before(deadline) {
			s.srv.m.errors.WithLabelValues("no_primary").Inc()
			return nil, mysqlwire.Errorf(mysqlwire.ErUnknownError, "HY000",
				"vigil: no writable primary within hold_timeout (%v)", cfg.HoldTimeout)
		}
		wait := deadline.Sub(now)
		if retry {
			wait = min(wait, 100*time.Millisecond)
		}
		t := time.NewTimer(wait)
		select {
		case <-changed:
		case <-t.C:
		}
		t.Stop()
	}
}

// tryPrimary returns the session's primary connection if snap names a
// primary that is usable now. Otherwise it returns nil, and retry says
// whether trying again soon (without a new snapshot) may help.
func (s *session) tryPrimary(snap *topology.Snapshot) (*backend, bool, error) {
	node, ok := snap.PrimaryNode()
	if !ok {
		return nil, false, nil
	}
	if s.prim != nil && s.prim.node != node.Name {
		if s.pinned() {
			s.dropPrim(true)
			return nil, false, lostError(mysqlwire.ErConnectionKilled,
				"vigil: the primary changed to %s; the transaction, locks or temporary tables of this session were lost", node.Name)
		}
		s.dropPrim(false)
	}
	if s.prim == nil {
		b, err := s.open(node)
		if err != nil {
			if isLoginRefusal(err) {
				return nil, false, err
			}
			s.log.Debug("primary not usable yet", "primary", node.Name, "err", err)
			return nil, true, nil
		}
		s.setPrim(b)
	}
	if !s.prim.writable || s.prim.epoch != snap.Epoch {
		ro, err := s.checkWritable(s.prim)
		if err != nil {
			pinned := s.pinned()
			s.dropPrim(true)
			if pinned {
				return nil, false, lostError(mysqlwire.CrServerLost, "Lost connection to server %s", node.Name)
			}
			return nil, true, nil
		}
		if ro {
			return nil, true, nil
		}
		s.prim.writable, s.prim.epoch = true, snap.Epoch
	}
	if err := s.sync(s.prim); err != nil {
		if isSQLError(err) {
			return nil, false, err
		}
		pinned := s.pinned()
		s.dropPrim(true)
		if pinned {
			return nil, false, lostError(mysqlwire.CrServerLost, "Lost connection to server %s", node.Name)
		}
		return nil, true, nil
	}
	return s.prim, false, nil
}

// isLoginRefusal reports whether err is the server refusing this user or
// schema (which waiting will not fix), as opposed to a server that is
// down, starting, shutting down or full.
func isLoginRefusal(err error) bool {
	var se *mysqlwire.SQLError
	if !errors.As(err, &se) {
		return false
	}
	switch se.Number {
	case mysqlwire.ErAccessDenied, 1044, 1049, 1698, 1227,
		mysqlwire.CrSSLConnectionError: // TLS to the server failed: not worth holding for
		return true
	}
	return false
}

// checkWritable asks b whether its server is read-only, and makes sure the
// connection reports last_gtid in its OK packets.
func (s *session) checkWritable(b *backend) (readOnly bool, err error) {
	flavor := s.srv.config().Flavor
	q := "SELECT @@global.read_only, @@session.session_track_system_variables"
	if flavor == "mysql" {
		q = "SELECT @@global.read_only OR @@global.super_read_only, @@session.session_track_gtids"
	}
	rows, err := b.conn.Query(q)
	if err != nil {
		return false, err
	}
	if len(rows) != 1 || len(rows[0]) != 2 {
		return false, errors.New("read_only check: unexpected result shape")
	}
	if rows[0][0].String != "0" {
		return true, nil
	}
	track := rows[0][1].String
	switch {
	case flavor == "mysql" && track != "OWN_GTID" && track != "ALL_GTIDS":
		_, err = b.conn.Exec("SET session_track_gtids = OWN_GTID")
	case flavor != "mysql" && !strings.Contains(track, "last_gtid") && track != "*":
		_, err = b.conn.Exec("SET session_track_system_variables = CONCAT(@@session_track_system_variables, ',last_gtid')")
	}
	return false, err
}

// replica returns the session's connection to the named replica, opening
// it (and releasing a connection to another replica) as needed.
func (s *session) replica(name string, snap *topology.Snapshot) (*backend, error) {
	if s.repl != nil && s.repl.node != name {
		old := s.repl
		s.setRepl(nil)
		s.release(old)
	}
	if s.repl == nil {
		node, ok := snap.Node(name)
		if !ok {
			return nil, errors.New("replica not in topology")
		}
		b, err := s.open(node)
		if err != nil {
			return nil, err
		}
		s.setRepl(b)
	}
	if err := s.sync(s.repl); err != nil {
		old := s.repl
		s.setRepl(nil)
		s.discard(old)
		return nil, err
	}
	return s.repl, nil
}

func isSQLError(err error) bool {
	var se *mysqlwire.SQLError
	return errors.As(err, &se)
}
