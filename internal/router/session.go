package router

import (
	"sync/atomic"
	"time"

	"vigil/internal/topology"
)

// Pins are kinds of session state that live on the session's primary
// connection. While any is set the proxy must not replace that connection
// silently.
type Pins uint8

// Pin kinds.
const (
	PinLocks      Pins = 1 << iota // named locks (GET_LOCK) may be held
	PinTempTables                  // temporary tables exist
	PinUserVars                    // user variables were set
	PinLockTables                  // LOCK TABLES is active
	PinHandler                     // HANDLER was used
	PinPrepared                    // text-protocol PREPARE was used
	PinMulti                       // a multi-statement changed session state
)

// Session is the routing state of one client connection. It is not safe
// for concurrent use: Route and Observe are called, alternately, by the
// goroutine that serves the client.
type Session struct {
	r      *Router
	user   string
	schema string
	lane   uint32 // see SetLane
	// route1 is cfg.Users[user] for cfg routeCfg (userRoute).
	routeCfg *Config
	route1   Route

	inTx       bool
	autocommit bool
	lockTables bool
	multiPin   bool
	handler    bool
	prepared   bool
	userVars   bool
	locks      int
	temps      map[string]struct{}

	last        Target
	lastBackend string
	replica     string // current replica, kept while it fits

	need          Position // GTID of the session's last write
	needText      string   // need.String(), built once per write
	needRaw       string   // need as the server reported it
	confirmed     string   // replica known to have applied confirmedText
	confirmedText string
	txWrote       bool      // the open transaction ran a write
	waitFailed    string    // a causal wait for this position timed out
	unknownWrite  time.Time // last write whose GTID was not reported

	cur     pending
	normBuf []byte

	// cnt caches the balancer's outstanding-statement counter of replica
	// cntName, so that routing a read to the same replica again takes no lock.
	cnt     *atomic.Int64
	cntName string
}

// pending is what Route leaves for Observe.
type pending struct {
	st      Statement
	d       Decision
	digest  uint64
	norm    []byte   // digest text (normBuf, or a Prepared's)
	names   []string // tables of CREATE TEMPORARY / DROP TABLE
	routed  bool
	started time.Time
	cnt     *atomic.Int64 // the replica's counter, for TargetReplica
}

// SetSchema records the session's current schema after COM_INIT_DB
// succeeded (a successful USE statement is tracked by Observe); query rules
// match on it.
func (s *Session) SetSchema(schema string) { s.schema = schema }

// Schema returns the session's current schema as last set.
func (s *Session) Schema() string { return s.schema }

// User returns the session's user.
func (s *Session) User() string { return s.user }

// SetLane says which thread the session's statements are observed on (the
// proxy's event loop; any number for others): sessions on different lanes
// keep their statement counters and digest statistics apart, sharing no
// lock or cache line per statement. Reset keeps it.
func (s *Session) SetLane(lane uint32) { s.lane = lane }

// Reset forgets all session state (COM_CHANGE_USER, COM_RESET_CONNECTION).
func (s *Session) Reset(user, schema string) {
	*s = Session{r: s.r, user: user, schema: schema, autocommit: true, normBuf: s.normBuf[:0], lane: s.lane,
		cnt: s.cnt, cntName: s.cntName}
}

// Digest is the digest of the statement last routed (until Observe).
func (s *Session) Digest() uint64 { return s.cur.digest }

// Pins reports the session state held on the primary connection.
func (s *Session) Pins() Pins {
	var p Pins
	if s.locks > 0 {
		p |= PinLocks
	}
	if len(s.temps) > 0 {
		p |= PinTempTables
	}
	if s.userVars {
		p |= PinUserVars
	}
	if s.lockTables {
		p |= PinLockTables
	}
	if s.handler {
		p |= PinHandler
	}
	if s.prepared {
		p |= PinPrepared
	}
	if s.multiPin {
		p |= PinMulti
	}
	return p
}

// InTransaction reports whether the last status flags showed an open
// transaction or autocommit off.
func (s *Session) InTransaction() bool { return s.inTx || !s.autocommit }

// Route decides where st (the classification of sql) runs, given the
// newest topology snapshot (nil: no topology yet, everything goes to the
// primary). It must be followed by exactly one Observe.
func (s *Session) Route(st Statement, sql []byte, snap *topology.Snapshot) Decision {
	return s.route(st, sql, snap, nil, time.Now())
}

// RouteQuery classifies sql and routes it: Classify(sql) followed by
// Route, with the same results, for a statement text that is routed once
// (COM_QUERY). It lexes the text once for the classification, the digest
// and the stored function check. start is when the statement arrived: the
// caller's clock reading, which the router takes instead of its own (a
// clock read costs 100-150 ns on a VM). It must be followed by exactly one
// Observe.
func (s *Session) RouteQuery(sql []byte, snap *topology.Snapshot, start time.Time) (Statement, Decision) {
	lx := digestSink{sql: sql, dst: s.normBuf[:0], funcs: s.r.funcs.Load()}
	st, _ := classifyWith(sql, &lx)
	if !lx.eof {
		// The classifier stopped showing tokens (SET STATEMENT without
		// FOR): lex again for the rest.
		return st, s.route(st, sql, snap, nil, start)
	}
	return st, s.route(st, sql, snap, &lx, start)
}

// route is Route; lx, if not nil, is a complete fused pass over sql;
// start is when the statement arrived.
func (s *Session) route(st Statement, sql []byte, snap *topology.Snapshot, lx *digestSink, start time.Time) Decision {
	var norm []byte
	var digest uint64
	if lx != nil {
		norm, digest = lx.digest()
	} else {
		norm, digest = normalizeInto(s.normBuf[:0], sql)
	}
	s.normBuf = norm
	var names []string
	switch st.Kind {
	case KindCreateTemp, KindDropTable:
		names = tableNames(sql)
	case KindUse:
		names = useName(sql)
	}
	return s.routeNorm(st, sql, norm, digest, names, snap, lx, nil, start)
}

// routeNorm is route once the digest text norm, its hash and the names of
// the statement are known. The stored function check comes from lx if not
// nil, else from p if not nil, else from lexing sql.
func (s *Session) routeNorm(st Statement, sql, norm []byte, digest uint64, names []string,
	snap *topology.Snapshot, lx *digestSink, p *Prepared, start time.Time) Decision {
	cfg := s.r.cfg.Load()
	if s.cur.routed && s.cur.d.Target == TargetReplica {
		s.cur.cnt.Add(-1) // the previous statement was never observed
	}
	s.cur = pending{st: st, digest: digest, norm: norm, names: names, routed: true, started: start}
	d := s.decide(cfg, st, sql, norm, snap, lx, p)
	if d.Target == TargetPrimary && snap != nil {
		d.Backend = snap.Primary
	}
	if d.Target == TargetPrimary {
		d.Replay = st.Flags&FlagSessionCmd != 0 && st.Flags&FlagMulti == 0
	}
	if d.Target == TargetReplica {
		s.cur.cnt = s.counter(d.Backend)
		s.cur.cnt.Add(1)
	}
	s.cur.d = d
	return d
}

// counter returns the balancer's counter of replica name (counters live as
// long as the router, so the session keeps the last one it used).
func (s *Session) counter(name string) *atomic.Int64 {
	if s.cnt == nil || s.cntName != name {
		s.cnt, s.cntName = s.r.bal.counter(name), name
	}
	return s.cnt
}

// userRoute returns the session user's route in cfg, looked up once per
// configuration (a string-keyed map lookup per statement showed in the
// loop's profile).
func (s *Session) userRoute(cfg *Config) Route {
	if s.routeCfg != cfg {
		s.routeCfg, s.route1 = cfg, cfg.Users[s.user]
	}
	return s.route1
}

// decide applies the routing rules in order (see the package doc).
func (s *Session) decide(cfg *Config, st Statement, sql, norm []byte, snap *topology.Snapshot, lx *digestSink, p *Prepared) Decision {
	rule, ruleName, rej := s.matchRules(cfg, sql, norm)
	if rej != nil {
		return *rej
	}
	primary := func(r Reason) Decision { return Decision{Target: TargetPrimary, Reason: r, Rule: ruleName} }
	switch {
	case s.inTx || !s.autocommit:
		return primary(ReasonTransaction)
	case s.lockTables || s.multiPin:
		return primary(ReasonPinned)
	case st.Flags&FlagSameAsLast != 0:
		if s.last == TargetReplica && s.lastBackend != "" {
			return Decision{Target: TargetReplica, Backend: s.lastBackend, Reason: ReasonSameAsLast}
		}
		return primary(ReasonSameAsLast)
	case st.Flags&FlagHintPrimary != 0:
		return primary(ReasonHint)
	case rule == RoutePrimary:
		return primary(ReasonRule)
	case s.userRoute(cfg) == RoutePrimary:
		return primary(ReasonUser)
	case !st.ReadOnly():
		return primary(ReasonWrite)
	case s.callsStored(sql, lx, p):
		return primary(ReasonWrite) // a stored function may write
	}
	relaxed := ReasonRead
	switch {
	case st.Flags&FlagHintReplica != 0:
		relaxed = ReasonHint
	case rule == RouteReplica:
		relaxed = ReasonRule
	case s.userRoute(cfg) == RouteReplica:
		relaxed = ReasonUser
	}
	if relaxed == ReasonRead && len(s.temps) > 0 {
		return primary(ReasonPinned)
	}
	d := s.readTarget(cfg, snap, relaxed != ReasonRead)
	if d.Reason == ReasonRead {
		d.Reason = relaxed
	}
	d.Rule = ruleName
	return d
}

// callsStored reports whether sql calls a stored function, from the
// fused pass lx if not nil, else from p's cache if not nil.
func (s *Session) callsStored(sql []byte, lx *digestSink, p *Prepared) bool {
	switch {
	case lx != nil:
		return lx.callsStored()
	case p != nil:
		return p.callsStored(s.r.funcs.Load())
	}
	return s.r.callsStored(sql)
}

// readTarget picks a replica for a read, honouring causal reads unless
// relaxed.
func (s *Session) readTarget(cfg *Config, snap *topology.Snapshot, relaxed bool) Decision {
	need, needText := s.causalNeed(cfg, relaxed)
	if !relaxed && cfg.UnknownGTIDWindow > 0 && !s.unknownWrite.IsZero() &&
		time.Since(s.unknownWrite) < cfg.UnknownGTIDWindow {
		return Decision{Target: TargetPrimary, Reason: ReasonCausal}
	}
	name, covered, ok := s.r.bal.pick(snap, cfg, s.replica, need)
	if !ok {
		if cfg.FallbackFail {
			return Decision{Target: TargetReject, Reason: ReasonNoReplica,
				Message: "vigil: no replica within the lag limit can serve this read"}
		}
		return Decision{Target: TargetPrimary, Reason: ReasonNoReplica}
	}
	d := Decision{Target: TargetReplica, Backend: name, Reason: ReasonRead}
	if !covered && !(s.confirmed == name && needText == s.confirmedText) {
		if cfg.CausalWait <= 0 || needText == s.waitFailed || s.r.bal.behind(name) {
			// No waiting configured, or a wait for this very position
			// (or any wait on this replica, just now) timed out: do not
			// make every read wait again.
			return Decision{Target: TargetPrimary, Reason: ReasonCausal}
		}
		d.WaitGTID, d.WaitTimeout = needText, cfg.CausalWait
	}
	s.replica = name
	return d
}

// causalNeed returns the position a replica must have for this session's
// next read.
func (s *Session) causalNeed(cfg *Config, relaxed bool) (Position, string) {
	if relaxed || cfg.Causal == CausalOff {
		return Position{}, ""
	}
	if cfg.Causal == CausalGlobal {
		return s.r.global.get()
	}
	return s.need, s.needText
}

// Observe records the outcome of the statement last routed.
func (s *Session) Observe(res Result) {
	if !s.cur.routed {
		return
	}
	cur := s.cur
	s.cur.routed = false
	s.cur.names = nil
	if cur.d.Target == TargetReplica {
		cur.cnt.Add(-1)
	}
	// The statement ended Duration after Route (read the clock only when
	// the caller did not measure it).
	var end time.Time
	if res.Duration == 0 {
		end = time.Now()
		res.Duration = end.Sub(cur.started)
	} else {
		end = cur.started.Add(res.Duration)
	}
	s.r.stats.recordAt(cur.digest, s.lane, cur.norm, res, end)
	s.r.metrics.observe(s.lane, res.Target, cur.d.Reason)
	if res.Target == TargetReject {
		return
	}
	if res.StatusKnown {
		s.inTx = res.Status&StatusInTrans != 0
		s.autocommit = res.Status&StatusAutocommit != 0
	}
	s.last, s.lastBackend = res.Target, res.Backend
	if res.Target == TargetReplica {
		s.replica = res.Backend
	}
	s.observeGTID(cur, res)
	if !res.Err {
		s.observePins(cur)
	}
}

// NoteGTID records the GTID of a write as soon as the proxy has decoded it
// from the final OK packet, before relaying that packet to the client, so
// that in CausalGlobal mode a read on another connection that the client
// sends right after receiving the OK already sees it. Optional: Observe
// records the same GTID otherwise (a little later). Call it on the
// session's goroutine, between Route and Observe.
func (s *Session) NoteGTID(gtid []byte) {
	if len(gtid) == 0 || string(gtid) == s.needRaw {
		return
	}
	s.setNeed(gtid)
}

// setNeed makes gtid the session's causal need and adds it to the global one.
func (s *Session) setNeed(gtid []byte) bool {
	pos, err := ParsePosition(flavorOf(s.r.cfg.Load()), string(gtid))
	if err != nil || pos.IsZero() {
		return false
	}
	s.need = pos
	s.needRaw = string(gtid)
	s.needText = pos.String()
	s.confirmed = ""
	s.r.global.add(pos)
	s.r.gtidSeen.Store(true)
	s.unknownWrite = time.Time{}
	return true
}

// observeGTID tracks the session's last write and causal confirmations.
func (s *Session) observeGTID(cur pending, res Result) {
	cfg := s.r.cfg.Load()
	if cur.d.WaitGTID != "" {
		switch {
		case res.Target == TargetReplica && !res.Err:
			s.confirmed, s.confirmedText = res.Backend, cur.d.WaitGTID
			s.r.bal.confirm(res.Backend, flavorOf(cfg), cur.d.WaitGTID)
		case res.Target == TargetPrimary:
			s.waitFailed = cur.d.WaitGTID
			s.r.bal.markBehind(cur.d.Backend)
		}
	}
	if len(res.LastGTID) > 0 {
		if string(res.LastGTID) == s.needRaw {
			s.unknownWrite = time.Time{}
			return // the same GTID reported again: nothing new was written
		}
		if s.setNeed(res.LastGTID) {
			return
		}
	}
	if res.Target == TargetPrimary && !res.Err && s.wroteWithoutGTID(cur.st.Kind, res) && !s.r.gtidSeen.Load() {
		s.unknownWrite = time.Now()
	}
	if !s.inTx {
		s.txWrote = false
	}
}

// wroteWithoutGTID reports whether a statement that got no GTID in its OK
// packet may nevertheless have committed a write (the server does not
// track last_gtid): writes that changed rows outside a transaction, the
// COMMIT of a transaction that wrote, and statements of unknown effect.
func (s *Session) wroteWithoutGTID(k Kind, res Result) bool {
	switch k {
	case KindWrite:
		if s.inTx {
			s.txWrote = true
			return false
		}
		return res.Rows > 0
	case KindCommit, KindXA:
		return s.txWrote
	case KindCall, KindOther, KindExecute, KindDo:
		s.txWrote = s.txWrote || s.inTx
		return !s.inTx
	}
	return false
}

// observePins updates the pins after a successful statement.
func (s *Session) observePins(cur pending) {
	st := cur.st
	switch {
	case st.Flags&FlagReleaseAllLocks != 0:
		s.locks = 0
	case st.Flags&FlagReleaseLock != 0 && s.locks > 0:
		s.locks--
	}
	if st.Flags&FlagGetLock != 0 {
		s.locks++
	}
	if st.Flags&FlagUserVar != 0 {
		s.userVars = true
	}
	if st.Flags&FlagMulti != 0 && st.Flags&FlagSessionCmd != 0 {
		s.multiPin = true
	}
	switch st.Kind {
	case KindCreateTemp:
		if s.temps == nil {
			s.temps = map[string]struct{}{}
		}
		for _, n := range cur.names {
			s.temps[n] = struct{}{}
		}
	case KindDropTable:
		for _, n := range cur.names {
			delete(s.temps, n)
		}
	case KindUse:
		if len(cur.names) == 1 && st.Flags&FlagMulti == 0 {
			s.schema = cur.names[0]
		}
	case KindLockTables:
		s.lockTables = true
	case KindUnlockTables, KindBegin:
		s.lockTables = false
	case KindHandler:
		s.handler = true
	case KindPrepare, KindExecute:
		s.prepared = true
	}
}

func flavorOf(cfg *Config) string {
	if cfg.Flavor == "" {
		return "mariadb"
	}
	return cfg.Flavor
}
