package proxy

import (
	"bytes"
	"encoding/binary"
	"time"

	"vigil/internal/mysqlwire"
	"vigil/internal/router"
)

// stmt is a prepared statement of the session. The client sees an id the
// proxy assigned; the statement is prepared on each backend it runs on
// (the primary at COM_STMT_PREPARE, replicas and a new primary after a
// failover lazily), and ids maps each of those backends to its own id.
type stmt struct {
	sql    []byte
	rp     router.Prepared // what routing needs from sql, computed once
	params uint16
	ids    map[*backend]uint32 // backend-specific ids
	typed  map[*backend]bool   // the backend has seen types (the current ones, when types is set)
	types  []byte              // parameter types of the last EXECUTE that sent them (2 per parameter)
	last   *backend            // backend of the last EXECUTE (for FETCH)
	long   *backend            // where SEND_LONG_DATA went since the last EXECUTE
}

// Execute flags and offsets.
const (
	cursorFlags   = 0x07 // CURSOR_TYPE_READ_ONLY, FOR_UPDATE, SCROLLABLE
	execHeaderLen = 10   // command, id, flags, iteration count
)

func stmtID(p []byte) (uint32, bool) {
	if len(p) < 5 {
		return 0, false
	}
	return binary.LittleEndian.Uint32(p[1:]), true
}

func unknownStmt(id uint32, cmd string) *mysqlwire.SQLError {
	return mysqlwire.Errorf(1243, "HY000", "Unknown prepared statement handler (%d) given to %s", id, cmd)
}

// comPrepare prepares a statement on the primary, gives it a proxy id and
// remembers its text, classification and digest.
func (s *session) comPrepare(p []byte) bool {
	b, err := s.primary()
	if err != nil {
		return s.answer(err)
	}
	s.nextStmt++
	id := s.nextStmt
	s.relay.StmtID = id
	sum, err := s.exec(b, p, mysqlwire.RespPrepare)
	s.relay.StmtID = 0
	if err != nil {
		return s.answer(err)
	}
	if sum.Err == nil {
		if s.stmts == nil {
			s.stmts = map[uint32]*stmt{}
		}
		sql := append([]byte(nil), p[1:]...)
		s.stmts[id] = &stmt{
			sql: sql, rp: router.Prepare(sql), params: sum.Params,
			ids: map[*backend]uint32{b: sum.StmtID}, typed: map[*backend]bool{},
		}
	}
	return true
}

// noTypes is the error for an EXECUTE without parameter types that must
// run on node, which has not seen them, while the proxy has none to add
// (no EXECUTE of the statement has sent any).
func noTypes(id uint32, node string) *mysqlwire.SQLError {
	return mysqlwire.Errorf(1243, "HY000", "Unknown prepared statement handler (%d) given to mysqld_stmt_execute "+
		"(vigil: this EXECUTE sends no parameter types, %s has not seen them, and no earlier EXECUTE of the statement sent any)", id, node)
}

// prepareOn makes sure st is prepared on b (p, the EXECUTE about to run,
// or nil). It fails when p does not carry parameter types that b needs
// and the proxy has none to add (see runStmt).
func (s *session) prepareOn(st *stmt, b *backend, p []byte) error {
	if p != nil && !st.sendsTypes(p) && !st.typed[b] && st.types == nil {
		id, _ := stmtID(p)
		return noTypes(id, b.node)
	}
	if _, ok := st.ids[b]; ok {
		return nil
	}
	rid, err := b.conn.Prepare(st.sql)
	if err != nil {
		if !isSQLError(err) {
			s.forget(b, true)
		}
		return err
	}
	st.ids[b] = rid
	return nil
}

// sendsTypes reports whether an EXECUTE packet carries parameter types
// (any non-zero new_params_bound_flag, as the server reads it).
func (st *stmt) sendsTypes(p []byte) bool {
	if st.params == 0 {
		return true
	}
	off := boundFlagOffset(int(st.params))
	return len(p) > off && p[off] != 0
}

// noteTypes remembers the parameter types EXECUTE p sends, if any. New
// types make every backend's outdated: a later EXECUTE without types gets
// them added wherever it runs until it has run there with them.
func (st *stmt) noteTypes(p []byte) {
	t, ok := paramTypes(p, int(st.params))
	if !ok || bytes.Equal(t, st.types) {
		return
	}
	st.types = append(st.types[:0], t...)
	clear(st.typed)
}

// comExecute routes an EXECUTE like a COM_QUERY of the statement's text
// (without lexing it again: see router.Prepared): reads may run on a
// replica (prepared there on first use).
func (s *session) comExecute(p []byte) bool {
	id, _ := stmtID(p)
	st := s.stmts[id]
	if st == nil || len(p) < execHeaderLen {
		return s.answer(unknownStmt(id, "mysqld_stmt_execute"))
	}
	st.noteTypes(p)
	start := time.Now()
	if s.rs == nil {
		return s.executeOn(st, p, start)
	}
	var flags router.Flags
	if st.long != nil || p[5]&cursorFlags != 0 {
		flags = router.FlagHintPrimary
	}
	snap, _ := s.srv.src.Current()
	d := s.rs.RoutePrepared(&st.rp, flags, snap, start)
	return s.runExecute(st, p, d, start)
}

// runExecute runs EXECUTE p of st where d says and observes it.
func (s *session) runExecute(st *stmt, p []byte, d router.Decision, start time.Time) bool {
	s.routed = true
	if s.replays(d) {
		snap, _ := s.srv.src.Current()
		s.replayPiped(d, snap)
	}
	var res router.Result
	var err error
	if d.Target == router.TargetReplica {
		if b := s.stmtReplica(st, d, p); b != nil {
			res, _, err = s.runStmt(st, b, p, router.TargetReplica)
		} else {
			d.Target = router.TargetPrimary
		}
	}
	if d.Target == router.TargetPrimary {
		res, err = s.execOnPrimaryStmt(st, p)
	}
	if d.Target == router.TargetReject {
		err = mysqlwire.Errorf(router.ErrRejected, "HY000", "%s", d.Message)
		res = router.Result{Target: router.TargetReject, Err: true, ErrCode: router.ErrRejected}
	}
	return s.observe(start, time.Now(), res, err)
}

// executeOn runs an EXECUTE on the primary (no router).
func (s *session) executeOn(st *stmt, p []byte, start time.Time) bool {
	_, err := s.execOnPrimaryStmt(st, p)
	s.srv.m.observe(s.lane, router.TargetPrimary, start)
	return err == nil || s.answer(err)
}

// execOnPrimaryStmt runs EXECUTE p of st on the primary, again (prepared
// anew where needed) when a read-only primary refused it, as runOnPrimary.
func (s *session) execOnPrimaryStmt(st *stmt, p []byte) (router.Result, error) {
	for {
		b, err := s.stmtPrimary(st, p)
		if err != nil {
			return errResult(router.TargetPrimary, "", err), err
		}
		res, refused, err := s.runStmt(st, b, p, router.TargetPrimary)
		if !refused {
			return res, err
		}
	}
}

// stmtPrimary returns the primary connection with st prepared on it
// (again, after a failover).
func (s *session) stmtPrimary(st *stmt, p []byte) (*backend, error) {
	b, err := s.primary()
	if err != nil {
		return nil, err
	}
	if st.long != nil && st.long != b {
		return nil, mysqlwire.Errorf(mysqlwire.CrServerLost, "HY000", "Lost connection to server during query (long data of the statement was lost)")
	}
	if err := s.prepareOn(st, b, p); err != nil {
		return nil, err
	}
	return b, nil
}

// stmtReplica returns the replica connection d names with st prepared on
// it, or nil when the statement must run on the primary instead.
func (s *session) stmtReplica(st *stmt, d router.Decision, p []byte) *backend {
	snap, _ := s.srv.src.Current()
	b, err := s.replica(d.Backend, snap)
	if err != nil {
		return nil
	}
	if s.prepareOn(st, b, p) != nil || s.repl != b {
		return nil
	}
	if d.WaitGTID != "" && !s.causalWait(b, d) {
		return nil
	}
	return b
}

// runStmt sends an EXECUTE to b with b's statement id and relays it. An
// EXECUTE without parameter types that b has not seen goes with the
// remembered ones added (in the session's scratch buffer; p is left as
// the client sent it but for the id). On the primary, refused reports a
// read-only refusal to run again (execOnPrimary).
func (s *session) runStmt(st *stmt, b *backend, p []byte, t router.Target) (router.Result, bool, error) {
	typed := st.sendsTypes(p)
	if !typed && !st.typed[b] {
		if q, ok := addParamTypes(s.execBuf[:0], p, int(st.params), st.types); ok {
			s.execBuf, p, typed = q, q, true
		}
	}
	binary.LittleEndian.PutUint32(p[1:], st.ids[b])
	var sum mysqlwire.Summary
	var refused bool
	var err error
	if t == router.TargetPrimary {
		sum, refused, err = s.execOnPrimary(b, p)
	} else {
		sum, err = s.exec(b, p, mysqlwire.RespResult)
	}
	if cap(s.execBuf) > 64<<10 {
		s.execBuf = nil // as Conn.ShrinkBuffer: a session does not keep a large packet's buffer
	}
	if refused {
		return router.Result{}, true, nil
	}
	if err == nil {
		st.ran(b, typed)
	}
	return s.result(t, b.node, sum, err), false, err
}

// ran records an EXECUTE of st that ran on b (with parameter types if
// typed).
func (st *stmt) ran(b *backend, typed bool) {
	st.last, st.long = b, nil
	if typed {
		st.typed[b] = true
	}
}

// comStmtFetch reads more rows of a cursor on the backend of the last
// EXECUTE.
func (s *session) comStmtFetch(p []byte) bool {
	id, _ := stmtID(p)
	st := s.stmts[id]
	if st == nil || st.last == nil || (st.last != s.prim && st.last != s.repl) {
		return s.answer(unknownStmt(id, "mysqld_stmt_fetch"))
	}
	binary.LittleEndian.PutUint32(p[1:], st.ids[st.last])
	_, err := s.exec(st.last, p, mysqlwire.RespRows)
	return err == nil || s.answer(err)
}

// comStmtReset resets the statement on the primary (long data, cursor).
func (s *session) comStmtReset(p []byte) bool {
	id, _ := stmtID(p)
	st := s.stmts[id]
	if st == nil {
		return s.answer(unknownStmt(id, "mysqld_stmt_reset"))
	}
	st.long = nil
	b, err := s.stmtPrimary(st, nil)
	if err != nil {
		return s.answer(err)
	}
	binary.LittleEndian.PutUint32(p[1:], st.ids[b])
	_, err = s.exec(b, p, mysqlwire.RespOne)
	return err == nil || s.answer(err)
}

// comStmtSendLongData forwards parameter data to the primary; the next
// EXECUTE then runs there. No answer.
func (s *session) comStmtSendLongData(p []byte) bool {
	id, _ := stmtID(p)
	st := s.stmts[id]
	if st == nil {
		return true
	}
	b, err := s.stmtPrimary(st, nil)
	if err != nil {
		return true // the EXECUTE that follows reports the problem
	}
	st.long = b
	binary.LittleEndian.PutUint32(p[1:], st.ids[b])
	if err := b.conn.WriteCommand(p); err != nil {
		s.forget(b, true)
	}
	return true
}

// comStmtClose closes the statement on every backend that has it. No
// answer.
func (s *session) comStmtClose(p []byte) bool {
	id, _ := stmtID(p)
	st := s.stmts[id]
	if st == nil {
		return true
	}
	delete(s.stmts, id)
	for b, bid := range st.ids {
		if b != s.prim && b != s.repl {
			continue
		}
		cmd := binary.LittleEndian.AppendUint32([]byte{mysqlwire.ComStmtClose}, bid)
		if err := b.conn.WriteCommand(cmd); err != nil {
			s.forget(b, true)
		}
	}
	return true
}

// forgetStmts drops what the statements knew about b (closed or returned
// to the pool).
func (s *session) forgetStmts(b *backend) {
	for _, st := range s.stmts {
		delete(st.ids, b)
		delete(st.typed, b)
		if st.last == b {
			st.last = nil
		}
		if st.long == b {
			st.long = nil
		}
	}
}
