package proxy

import (
	"time"

	"vigil/internal/mysqlwire"
	"vigil/internal/router"
	"vigil/internal/topology"
)

// maxHistory bounds the session commands kept for replay.
const maxHistory = 256

// comQuery routes and runs one COM_QUERY.
func (s *session) comQuery(p []byte) bool {
	sql := p[1:]
	if k, ok := parseKill(sql); ok {
		return s.kill(k)
	}
	start := time.Now()
	if s.rs == nil {
		b, err := s.primary()
		if err != nil {
			return s.answer(err)
		}
		_, err = s.exec(b, p, mysqlwire.RespResult)
		s.srv.m.observe(s.lane, router.TargetPrimary, start)
		return err == nil || s.answer(err)
	}
	snap, _ := s.srv.src.Current()
	_, d := s.rs.RouteQuery(sql, snap, start) // Classify + Route, lexing sql once
	return s.runQuery(p, d, snap, start)
}

// runQuery runs a routed COM_QUERY p and observes it.
func (s *session) runQuery(p []byte, d router.Decision, snap *topology.Snapshot, start time.Time) bool {
	s.routed = true
	if s.replays(d) {
		s.replayPiped(d, snap)
	}
	res, err := s.runRouted(d, p, snap)
	return s.observeQuery(p, d, start, time.Now(), res, err)
}

// observeQuery tells the router and the metrics how a routed COM_QUERY p
// that ran from start to end went, answers err, and reports whether the
// session goes on.
func (s *session) observeQuery(p []byte, d router.Decision, start, end time.Time, res router.Result, err error) bool {
	keep := s.observe(start, end, res, err)
	if err == nil && d.Replay && !res.Err {
		s.remember(string(p[1:]))
	}
	return keep
}

// observe tells the router and the metrics how a routed statement that
// ran from start to end went, answers err, and reports whether the session
// goes on.
func (s *session) observe(start, end time.Time, res router.Result, err error) bool {
	s.routed = false
	res.Duration = end.Sub(start)
	s.rs.Observe(res)
	s.srv.m.statements.observe(s.lane, res.Target, res.Duration)
	return err == nil || s.answer(err)
}

// runRouted runs p where d says and returns what the router must observe.
func (s *session) runRouted(d router.Decision, p []byte, snap *topology.Snapshot) (router.Result, error) {
	switch d.Target {
	case router.TargetReject:
		e := mysqlwire.Errorf(router.ErrRejected, "HY000", "%s", d.Message)
		return router.Result{Target: router.TargetReject, Err: true, ErrCode: e.Number}, e
	case router.TargetReplica:
		if res, done, err := s.onReplica(d, p, snap); done {
			return res, err
		}
	}
	return s.runOnPrimary(p)
}

// runOnPrimary runs COM_QUERY p on the primary. A primary that refuses it
// as read-only ran nothing of it (a switchover fenced the server before
// this proxy learned of it, or someone set read_only): unless the session
// is pinned there, p waits for a writable primary, as a held statement
// does, and runs again, up to readOnlyRetries times per command.
func (s *session) runOnPrimary(p []byte) (router.Result, error) {
	for {
		b, err := s.primary()
		if err != nil {
			return errResult(router.TargetPrimary, "", err), err
		}
		sum, refused, err := s.execOnPrimary(b, p)
		if !refused {
			return s.result(router.TargetPrimary, b.node, sum, err), err
		}
	}
}

// execOnPrimary is exec on primary connection b, except when b refuses p
// as read-only and the session may run it again (see mayRunAgain): then
// refused is true and nothing reached the client.
func (s *session) execOnPrimary(b *backend, p []byte) (sum mysqlwire.Summary, refused bool, err error) {
	if err := s.beginExec(b, p); err != nil {
		sum, err = s.endExec(b, mysqlwire.Summary{}, err)
		return sum, false, err
	}
	if s.mayRunAgain(b) {
		s.refused(b)
		return mysqlwire.Summary{}, true, nil
	}
	sum, err = s.relay.Relay(mysqlwire.RespResult)
	sum, err = s.endExec(b, sum, err)
	return sum, false, err
}

// readOnlyRetries bounds how often one command runs again after a
// read-only refusal.
const readOnlyRetries = 3

// mayRunAgain reports whether the answer b is about to relay is a
// read-only refusal the session may run again (not pinned to b, retries
// left for this command), and if so consumes it; refused must follow.
func (s *session) mayRunAgain(b *backend) bool {
	return s.roRefusals < readOnlyRetries && b.conn.NextIsErr() && !s.pinned() && b.conn.TakeReadOnlyRefusal()
}

// refused ends a statement that primary connection b refused as read-only
// (its answer consumed, see mayRunAgain): b is checked again before the
// next write, and the refusal counts against the command's retries.
func (s *session) refused(b *backend) {
	_, _ = s.endExec(b, mysqlwire.Summary{}, nil)
	b.writable = false
	s.roRefusals++
	s.srv.m.readOnlyRetries.Inc()
	s.log.Debug("primary refused a write as read-only; waiting for a writable primary", "primary", b.node)
}

// onReplica tries to run p on the replica d names. done is false when the
// statement should run on the primary instead (replica unreachable, causal
// wait failed, or it failed before anything reached the client).
func (s *session) onReplica(d router.Decision, p []byte, snap *topology.Snapshot) (router.Result, bool, error) {
	b, err := s.replica(d.Backend, snap)
	if err != nil {
		s.log.Debug("replica unusable; reading from the primary", "replica", d.Backend, "err", err)
		return router.Result{}, false, nil
	}
	if d.WaitGTID != "" && !s.causalWait(b, d) {
		return router.Result{}, false, nil
	}
	sum, err := s.exec(b, p, mysqlwire.RespResult)
	return s.replicaOutcome(b, sum, err)
}

// replicaOutcome is what a read relayed from replica b returned; done is
// false when it failed before anything reached the client, and should run
// on the primary instead (exec wrote no error packet yet when the failure
// came from the backend; the 2013 it prepared is dropped).
func (s *session) replicaOutcome(b *backend, sum mysqlwire.Summary, err error) (router.Result, bool, error) {
	if err != nil && !sum.Sent && !isClientGone(err) {
		return router.Result{}, false, nil
	}
	return s.result(router.TargetReplica, b.node, sum, err), true, err
}

// causalWait runs the router's GTID wait on b and reports whether the
// replica has the session's last write.
func (s *session) causalWait(b *backend, d router.Decision) bool {
	rows, err := b.conn.Query(d.WaitSQL(s.srv.config().Flavor))
	if err != nil {
		if !isSQLError(err) {
			s.forget(b, true)
		}
		return false
	}
	return len(rows) == 1 && len(rows[0]) == 1 && rows[0][0].Valid && rows[0][0].String == "0"
}

// result builds the router's observation of a relayed statement.
func (s *session) result(t router.Target, node string, sum mysqlwire.Summary, err error) router.Result {
	res := router.Result{
		Target: t, Backend: node, Status: sum.Status, StatusKnown: sum.HaveStatus,
		InsertID: sum.InsertID, Rows: sum.AffectedRows,
	}
	if len(s.gtid) > 0 {
		res.LastGTID = s.gtid
	}
	if sum.Err != nil {
		res.Err, res.ErrCode = true, sum.Err.Number
	}
	if err != nil {
		res.Err = true
		if res.ErrCode == 0 {
			res.ErrCode = mysqlwire.CrServerLost
		}
	}
	return res
}

func errResult(t router.Target, node string, err error) router.Result {
	res := router.Result{Target: t, Backend: node, Err: true, ErrCode: mysqlwire.ErUnknownError}
	if se, ok := err.(*mysqlwire.SQLError); ok {
		res.ErrCode = se.Number
	}
	return res
}

// remember appends a session command to the history (dropping an earlier
// identical one) and marks it applied on the primary, where it just ran.
func (s *session) remember(cmd string) {
	for i, h := range s.history {
		if h == cmd {
			s.history = append(s.history[:i], s.history[i+1:]...)
			s.resetApplied()
			break
		}
	}
	if len(s.history) >= maxHistory {
		s.history = s.history[1:]
		s.resetApplied()
	}
	s.history = append(s.history, cmd)
	s.histGen++
	if s.prim != nil && s.prim.applied == len(s.history)-1 {
		s.prim.applied = len(s.history)
	}
}

// resetApplied is called when the history was edited: replicas replay it
// from the start (harmless: session commands are idempotent in order).
func (s *session) resetApplied() {
	if s.repl != nil {
		s.repl.applied = 0
	}
	if s.prim != nil {
		s.prim.applied = len(s.history)
	}
}

func isClientGone(err error) bool { return err == errClientGone }
