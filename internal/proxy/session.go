package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"vigil/internal/mysqlwire"
	"vigil/internal/router"
)

// Session states for the drain handshake between the session goroutine and
// Shutdown.
const (
	stateIdle int32 = iota
	stateBusy
	stateClosed
)

// session serves one client connection. All fields are owned by the
// session goroutine, except those under mu (read by KILL from other
// sessions) and state.
type session struct {
	srv  *Server
	id   uint32
	lane uint32   // where its statements are counted (metrics, digests): its loop's index
	nc   net.Conn // the TCP connection (under TLS, if upgraded); deadlines and Close apply to both
	c    *mysqlwire.Conn
	host string
	log  *slog.Logger

	// Identity, set at login and by COM_CHANGE_USER.
	user    string
	stage1  []byte
	salt    []byte
	caps    uint32
	extCaps uint32 // MariaDB extended capabilities (mysqlwire.ProxyExtCaps at most)
	charset byte
	schema  string
	attrs   []byte

	rs       *router.Session
	history  []string         // replayable session commands, in order
	histGen  uint64           // counts changes to history (pipeline.go)
	option   uint16           // multi-statements option: 0 on, 1 off (COM_SET_OPTION values)
	status   uint16           // last known server status flags
	gtid     []byte           // last_gtid of the running statement
	stmts    map[uint32]*stmt // prepared statements by client-visible id
	nextStmt uint32           // the last statement id given to the client
	execBuf  []byte           // scratch for EXECUTEs given back their parameter types (runStmt)
	relay    mysqlwire.Relay
	cur      *backend // backend of the running statement
	deadline bool     // cur's read deadline is the query timeout
	routed   bool     // between router Route and Observe
	// roRefusals counts the running command's read-only refusals (refused).
	roRefusals int
	// lastPiped is the session's last statement if it was a read answered
	// on a pipeline (empty otherwise): see replayPiped.
	lastPiped []byte
	draining  bool

	mu   sync.Mutex // guards prim and repl for readers on other goroutines
	prim *backend
	repl *backend

	ls loopState // the event loop's part (loop.go)

	state atomic.Int32
	// holdsState mirrors pinned() after each command, for Shutdown.
	holdsState atomic.Bool
}

func newSession(srv *Server, id uint32, nc net.Conn) *session {
	host, _, _ := net.SplitHostPort(nc.RemoteAddr().String())
	s := &session{
		srv: srv, id: id, nc: nc, c: mysqlwire.NewServerConn(nc), host: host,
		status: mysqlwire.StatusAutocommit,
	}
	s.log = srv.log.With("session", id, "client", nc.RemoteAddr().String())
	s.relay.Client = s.c
	s.relay.Track = s.track
	s.ls.loop = srv.loopFor(id)
	s.lane = id
	if n := len(srv.loops); n > 0 {
		s.lane = id % uint32(n) // the loop's index: loops never share a lane
	}
	return s
}

// run serves the connection until the client quits, fails, or the server
// closes the session.
func (s *session) run() {
	defer s.cleanup()
	if err := s.login(); err != nil {
		s.log.Debug("login failed", "err", err)
		return
	}
	for s.next() {
	}
}

// next serves the next command, on the session's event loop if it can;
// false ends the session.
func (s *session) next() bool {
	if s.loopable() {
		return s.resume(s.ls.loop.serve(s))
	}
	return s.serveOne()
}

// serveOne reads and answers one command; false ends the session.
func (s *session) serveOne() bool {
	s.c.ResetSeq()
	if t := s.srv.config().ClientIdleTimeout; t > 0 {
		_ = s.nc.SetReadDeadline(time.Now().Add(t))
	}
	p, err := s.c.ReadPacket()
	if err != nil {
		if errors.Is(err, mysqlwire.ErrPacketTooLarge) {
			_ = s.c.WriteError(mysqlwire.Errorf(mysqlwire.ErNetPacketTooLarge, "08S01", "Got a packet bigger than 'max_allowed_packet' bytes"))
		}
		return false
	}
	return s.serve(p)
}

// serve answers command p, read by the caller; false ends the session.
func (s *session) serve(p []byte) bool {
	if !s.state.CompareAndSwap(stateIdle, stateBusy) {
		return false // closed by Shutdown while the command arrived
	}
	return s.endCommand(len(p) > 0 && s.dispatch(p))
}

// endCommand ends a command that the session began (stateBusy); keep is
// the command's verdict, and the result whether the session goes on.
func (s *session) endCommand(keep bool) bool {
	s.roRefusals = 0
	s.c.ShrinkBuffer()
	s.holdsState.Store(s.pinned())
	if !s.state.CompareAndSwap(stateBusy, stateIdle) {
		return false
	}
	if s.srv.isDraining() && !s.pinned() {
		return false
	}
	return keep
}

// closeIfIdle closes the client connection if no command is running and no
// transaction is open (Shutdown calls it from its own goroutine).
func (s *session) closeIfIdle() {
	if s.holdsState.Load() {
		return
	}
	if s.state.CompareAndSwap(stateIdle, stateClosed) && !s.srv.endOnLoop(s) {
		_ = s.nc.Close()
	}
}

// close closes the client connection whatever it is doing.
func (s *session) close() {
	s.state.Store(stateClosed)
	if !s.srv.endOnLoop(s) {
		_ = s.nc.Close()
	}
}

func (s *session) statusPinned() bool {
	return s.status&mysqlwire.StatusInTrans != 0 || s.status&mysqlwire.StatusAutocommit == 0
}

// pinned reports whether state lives on the primary connection that would
// be lost silently if the session moved to another one.
func (s *session) pinned() bool {
	if s.prim == nil {
		return false
	}
	if s.statusPinned() {
		return true
	}
	return s.rs != nil && s.rs.Pins() != 0
}

// cleanup returns clean backends to the pool and closes the client. A
// primary connection that holds an open transaction, locks or temporary
// tables is closed instead, so that the server rolls back and releases
// them now rather than when the connection is reused.
func (s *session) cleanup() {
	_ = s.nc.Close()
	pinned := s.pinned()
	s.mu.Lock()
	prim, repl := s.prim, s.repl
	s.prim, s.repl = nil, nil
	s.mu.Unlock()
	if prim != nil {
		if pinned {
			s.discard(prim)
		} else {
			s.release(prim)
		}
	}
	if repl != nil {
		s.release(repl)
	}
}

// dispatch answers one command; false ends the session. Each case is one
// call.
func (s *session) dispatch(p []byte) bool {
	switch p[0] {
	case mysqlwire.ComQuery:
		return s.comQuery(p)
	case mysqlwire.ComQuit:
		return false
	case mysqlwire.ComPing:
		return s.writeOK()
	case mysqlwire.ComInitDB:
		return s.comInitDB(p)
	case mysqlwire.ComSetOption:
		return s.comSetOption(p)
	case mysqlwire.ComFieldList:
		return s.onPrimary(p, mysqlwire.RespRows)
	case mysqlwire.ComStatistics:
		return s.onPrimary(p, mysqlwire.RespOne)
	case mysqlwire.ComResetConnection:
		return s.comResetConnection(p)
	case mysqlwire.ComChangeUser:
		return s.comChangeUser(p)
	case mysqlwire.ComStmtPrepare:
		return s.comPrepare(p)
	case mysqlwire.ComStmtExecute:
		return s.comExecute(p)
	case mysqlwire.ComStmtFetch:
		return s.comStmtFetch(p)
	case mysqlwire.ComStmtReset:
		return s.comStmtReset(p)
	case mysqlwire.ComStmtSendLongData:
		return s.comStmtSendLongData(p)
	case mysqlwire.ComStmtClose:
		return s.comStmtClose(p)
	case mysqlwire.ComProcessKill:
		return s.comProcessKill(p)
	default:
		return s.writeErr(mysqlwire.Errorf(mysqlwire.ErUnknownComError, "08S01", "Unknown command"))
	}
}

// writeErr answers with an ERR packet; false if the client is gone.
func (s *session) writeErr(e *mysqlwire.SQLError) bool {
	s.srv.m.errors.WithLabelValues("proxy").Inc()
	return s.c.WriteError(e) == nil
}

// writeOK answers with an OK packet carrying the last known status.
func (s *session) writeOK() bool {
	return s.c.WriteOK(s.caps, mysqlwire.OK{Status: s.status &^ mysqlwire.StatusMoreResults}) == nil
}

// answer writes err to the client if it is an *SQLError (or a wrapped one)
// and reports whether the session goes on. Other errors end the session
// after a generic error packet.
func (s *session) answer(err error) bool {
	if errors.Is(err, errClientGone) {
		return false
	}
	var se *mysqlwire.SQLError
	if errors.As(err, &se) {
		ok := s.writeErr(se)
		return ok && !errors.Is(err, errSessionLost)
	}
	s.log.Warn("session ends", "err", err)
	_ = s.writeErr(mysqlwire.Errorf(mysqlwire.CrServerLost, "HY000", "Lost connection to server during query"))
	return false
}

// errSessionLost marks errors after which the client connection is closed
// (state it relied on is gone).
var errSessionLost = errors.New("session state lost")

// lostError builds an error that tells the client what happened and ends
// the session.
func lostError(number uint16, format string, args ...any) error {
	return fmt.Errorf("%w%w", mysqlwire.Errorf(number, "HY000", format, args...), errSessionLost)
}

// track receives session state changes from OK packets during a relay.
func (s *session) track(sc mysqlwire.StateChange) {
	switch sc.Type {
	case mysqlwire.TrackSchema:
		if string(sc.Value) != s.schema {
			s.schema = string(sc.Value)
		}
		if s.cur != nil {
			s.cur.schema = s.schema
		}
		if s.rs != nil {
			s.rs.SetSchema(s.schema)
		}
	case mysqlwire.TrackSystemVariables:
		if bytes.Equal(sc.Name, lastGTIDName) {
			s.gtid = append(s.gtid[:0], sc.Value...)
			if s.routed {
				s.rs.NoteGTID(s.gtid) // before the OK reaches the client
			}
		}
	}
}

var lastGTIDName = []byte("last_gtid")

// context returns a context bounded by the connect timeout.
func (s *session) connectContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.srv.config().ConnectTimeout)
}
