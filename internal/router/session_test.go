package router

import (
	"regexp"
	"testing"
	"time"

	"vigil/internal/config"
	"vigil/internal/topology"
)

func testSnap() *topology.Snapshot {
	return &topology.Snapshot{Epoch: 1, Version: 1, Primary: "db1", Nodes: []topology.Node{
		{Name: "db1", Role: topology.RolePrimary, Up: true, GTIDCurrent: "0-1-100", Weight: 1},
		{Name: "db2", Role: topology.RoleReplica, Up: true, ReadOnly: true, Lag: 0, GTIDCurrent: "0-1-100", Weight: 1},
		{Name: "db3", Role: topology.RoleReplica, Up: true, ReadOnly: true, Lag: time.Second, GTIDCurrent: "0-1-100", Weight: 1},
	}}
}

func newTestRouter(t *testing.T, cfg Config) *Router {
	t.Helper()
	if cfg.MaxReplicaLag == 0 {
		cfg.MaxReplicaLag = 5 * time.Second
	}
	r, err := New(cfg, nil, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

// run routes sql and observes a successful result on the decided target
// with the given status flags and last GTID.
func run(s *Session, snap *topology.Snapshot, sql string, status uint16, gtid string) Decision {
	d := s.Route(Classify([]byte(sql)), []byte(sql), snap)
	res := Result{Target: d.Target, Backend: d.Backend, Status: status, StatusKnown: true}
	if gtid != "" {
		res.LastGTID = []byte(gtid)
	}
	if d.Target == TargetReject {
		res.Err = true
		res.StatusKnown = false
	}
	s.Observe(res)
	return d
}

const ac = StatusAutocommit

type step struct {
	sql    string
	status uint16 // status flags the server answers with
	gtid   string // last_gtid reported
	want   Target
	reason Reason
}

func runSteps(t *testing.T, s *Session, snap *topology.Snapshot, steps []step) {
	t.Helper()
	for i, st := range steps {
		status := st.status
		if status == 0 {
			status = ac
		}
		d := run(s, snap, st.sql, status, st.gtid)
		if d.Target != st.want || d.Reason != st.reason {
			t.Errorf("step %d %q: got %v/%v, want %v/%v", i, st.sql, d.Target, d.Reason, st.want, st.reason)
		}
	}
}

const (
	P = TargetPrimary
	R = TargetReplica
	X = TargetReject
)

func TestSessionDefaultRouting(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{
		{"read and write", []step{
			{sql: "SELECT 1", want: R, reason: ReasonRead},
			{sql: "UPDATE t SET a=1", want: P, reason: ReasonWrite},
			{sql: "SELECT * FROM t FOR UPDATE", want: P, reason: ReasonWrite},
		}},
		{"explicit transaction follows status flags", []step{
			{sql: "BEGIN", status: ac | StatusInTrans, want: P, reason: ReasonWrite},
			{sql: "SELECT 1", status: ac | StatusInTrans, want: P, reason: ReasonTransaction},
			{sql: "COMMIT", want: P, reason: ReasonTransaction},
			{sql: "SELECT 1", want: R, reason: ReasonRead},
		}},
		{"autocommit off", []step{
			{sql: "SET autocommit=0", status: StatusInTrans, want: P, reason: ReasonWrite},
			{sql: "SELECT 1", status: StatusInTrans, want: P, reason: ReasonTransaction},
			{sql: "SET autocommit=1", want: P, reason: ReasonTransaction},
			{sql: "SELECT 1", want: R, reason: ReasonRead},
		}},
		{"named locks go to the primary", []step{
			{sql: "SELECT GET_LOCK('a', 1)", want: P, reason: ReasonWrite},
			{sql: "SELECT 1", want: R, reason: ReasonRead},
			{sql: "SELECT IS_USED_LOCK('a')", want: P, reason: ReasonWrite},
			{sql: "SELECT RELEASE_LOCK('a')", want: P, reason: ReasonWrite},
		}},
		{"temporary tables keep reads on the primary", []step{
			{sql: "CREATE TEMPORARY TABLE tmp (id INT)", want: P, reason: ReasonWrite},
			{sql: "SELECT * FROM tmp", want: P, reason: ReasonPinned},
			{sql: "CREATE TEMPORARY TABLE tmp2 (id INT)", want: P, reason: ReasonWrite},
			{sql: "DROP TEMPORARY TABLE tmp", want: P, reason: ReasonWrite},
			{sql: "SELECT 1", want: P, reason: ReasonPinned},
			{sql: "DROP TABLE `tmp2`", want: P, reason: ReasonWrite},
			{sql: "SELECT 1", want: R, reason: ReasonRead},
		}},
		{"same as last follows the previous backend", []step{
			{sql: "SELECT SQL_CALC_FOUND_ROWS * FROM t LIMIT 1", want: R, reason: ReasonRead},
			{sql: "SELECT FOUND_ROWS()", want: R, reason: ReasonSameAsLast},
			{sql: "UPDATE t SET a = 1", want: P, reason: ReasonWrite},
			{sql: "SELECT ROW_COUNT()", want: P, reason: ReasonSameAsLast},
			{sql: "SHOW WARNINGS", want: P, reason: ReasonSameAsLast},
		}},
		{"last insert id on the primary", []step{
			{sql: "INSERT INTO t VALUES (NULL)", want: P, reason: ReasonWrite},
			{sql: "SELECT LAST_INSERT_ID()", want: P, reason: ReasonWrite},
		}},
		{"user variables on the primary", []step{
			{sql: "SET @x = 5", want: P, reason: ReasonWrite},
			{sql: "SELECT @x", want: P, reason: ReasonWrite},
			{sql: "SELECT 1", want: R, reason: ReasonRead},
		}},
		{"lock tables", []step{
			{sql: "LOCK TABLES t READ", want: P, reason: ReasonWrite},
			{sql: "SELECT * FROM t", want: P, reason: ReasonPinned},
			{sql: "UNLOCK TABLES", want: P, reason: ReasonPinned},
			{sql: "SELECT * FROM t", want: R, reason: ReasonRead},
		}},
		{"session-changing multi-statement pins", []step{
			{sql: "SET NAMES utf8; SET @a = 1", want: P, reason: ReasonWrite},
			{sql: "SELECT 1", want: P, reason: ReasonPinned},
		}},
		{"hints", []step{
			{sql: "/* vigil:primary */ SELECT 1", want: P, reason: ReasonHint},
			{sql: "CREATE TEMPORARY TABLE tmp (id INT)", want: P, reason: ReasonWrite},
			{sql: "SELECT /* vigil:replica */ 1", want: R, reason: ReasonHint},
			{sql: "/* vigil:replica */ UPDATE t SET a = 1", want: P, reason: ReasonWrite},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestRouter(t, Config{}).NewSession("moodle", "moodle")
			runSteps(t, s, testSnap(), tt.steps)
		})
	}
}

func TestSessionReplay(t *testing.T) {
	s := newTestRouter(t, Config{}).NewSession("u", "")
	for _, c := range []struct {
		sql    string
		replay bool
	}{
		{"SET NAMES utf8mb4", true},
		{"SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED", true},
		{"SET sql_mode = ''", true},
		{"USE moodle", true},
		{"SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", false},
		{"SET GLOBAL x = 1", false},
		{"SET @x = 1", false},
		{"SET NAMES utf8; SELECT 1", false},
		{"SELECT 1", false},
		{"UPDATE t SET a = 1", false},
	} {
		d := run(s, testSnap(), c.sql, ac, "")
		if d.Replay != c.replay {
			t.Errorf("%q: Replay = %v, want %v", c.sql, d.Replay, c.replay)
		}
	}
}

func TestSessionPins(t *testing.T) {
	s := newTestRouter(t, Config{}).NewSession("u", "")
	snap := testSnap()
	check := func(after string, want Pins) {
		t.Helper()
		if got := s.Pins(); got != want {
			t.Errorf("after %q: Pins = %b, want %b", after, got, want)
		}
	}
	for _, c := range []struct {
		sql  string
		want Pins
	}{
		{"SELECT GET_LOCK('a', 1)", PinLocks},
		{"SELECT GET_LOCK('b', 1)", PinLocks},
		{"SELECT RELEASE_LOCK('a')", PinLocks},
		{"SELECT RELEASE_LOCK('b')", 0},
		{"SELECT RELEASE_LOCK('b')", 0},
		{"DO GET_LOCK('c', 0)", PinLocks},
		{"SELECT RELEASE_ALL_LOCKS()", 0},
		{"CREATE TEMPORARY TABLE t1 (a INT)", PinTempTables},
		{"DROP TEMPORARY TABLE IF EXISTS t1", 0},
		{"LOCK TABLES t READ", PinLockTables},
		{"UNLOCK TABLES", 0},
		{"SET @v = 1", PinUserVars},
	} {
		run(s, snap, c.sql, ac, "")
		check(c.sql, c.want)
	}
	s.Reset("u", "")
	check("Reset", 0)
}

func TestSessionFailedStatementDoesNotPin(t *testing.T) {
	s := newTestRouter(t, Config{}).NewSession("u", "")
	sql := "CREATE TEMPORARY TABLE t1 (a INT)"
	d := s.Route(Classify([]byte(sql)), []byte(sql), testSnap())
	s.Observe(Result{Target: d.Target, Backend: d.Backend, Err: true, ErrCode: 1050})
	if p := s.Pins(); p != 0 {
		t.Errorf("Pins after failed CREATE TEMPORARY = %b, want 0", p)
	}
	if d := run(s, testSnap(), "SELECT 1", ac, ""); d.Target != R {
		t.Errorf("read after failed CREATE TEMPORARY went to %v, want replica", d.Target)
	}
}

func TestUserRoutes(t *testing.T) {
	r := newTestRouter(t, Config{Users: map[string]Route{"writer": RoutePrimary, "safereads": RouteReplica}})
	snap := testSnap()
	w := r.NewSession("writer", "")
	runSteps(t, w, snap, []step{{sql: "SELECT 1", want: P, reason: ReasonUser}})
	sr := r.NewSession("safereads", "")
	runSteps(t, sr, snap, []step{
		{sql: "SELECT 1", want: R, reason: ReasonUser},
		{sql: "UPDATE t SET a = 1", gtid: "0-1-500", want: P, reason: ReasonWrite},
		{sql: "SELECT 1", want: R, reason: ReasonUser}, // no read-your-writes gating
	})
	a := r.NewSession("other", "")
	runSteps(t, a, snap, []step{{sql: "SELECT 1", want: R, reason: ReasonRead}})

	// A reload changes the route of sessions already open, and a session
	// that changes user takes the new user's.
	if err := r.Reload(Config{Users: map[string]Route{"writer": RouteReplica}}); err != nil {
		t.Fatal(err)
	}
	runSteps(t, w, snap, []step{{sql: "SELECT 1", want: R, reason: ReasonUser}})
	// (safereads is no longer exempt from reading its own write)
	runSteps(t, sr, snap, []step{{sql: "SELECT 1", want: P, reason: ReasonCausal}})
	a.Reset("writer", "")
	runSteps(t, a, snap, []step{{sql: "SELECT 1", want: R, reason: ReasonUser}})
}

func TestQueryRules(t *testing.T) {
	cfg := Config{Rules: []Rule{
		{Name: "log-all", Action: ActionLog},
		{Name: "no-drop", Match: regexp.MustCompile(`(?i)^\s*DROP\s+DATABASE`), Action: ActionReject, Message: "not here"},
		{Name: "reports", User: "moodle", Schema: "moodle", Digest: regexp.MustCompile(`FROM mdl_logstore`), Action: ActionRoute, Route: RouteReplica},
		{Name: "config", Digest: regexp.MustCompile(`^SELECT \* FROM mdl_config WHERE id = \?$`), Action: ActionRoute, Route: RoutePrimary},
	}}
	r := newTestRouter(t, cfg)
	s := r.NewSession("moodle", "moodle")
	snap := testSnap()
	runSteps(t, s, snap, []step{
		{sql: "drop database moodle", want: X, reason: ReasonRule},
		{sql: "SELECT * FROM mdl_config WHERE id = 42", want: P, reason: ReasonRule},
		{sql: "SELECT * FROM mdl_config WHERE name = 'x'", want: R, reason: ReasonRead},
		{sql: "CREATE TEMPORARY TABLE tmp (a INT)", want: P, reason: ReasonWrite},
		{sql: "SELECT COUNT(*) FROM mdl_logstore_standard_log", want: R, reason: ReasonRule},
		{sql: "SELECT 1", want: P, reason: ReasonPinned},
	})
	d := run(s, snap, "DROP DATABASE x", ac, "")
	if d.Message != "not here" || d.Rule != "no-drop" {
		t.Errorf("reject: message %q rule %q, want %q %q", d.Message, d.Rule, "not here", "no-drop")
	}
	other := r.NewSession("moodle", "other")
	runSteps(t, other, snap, []step{
		{sql: "SELECT COUNT(*) FROM mdl_logstore_standard_log", want: R, reason: ReasonRead},
	})
	// Reload swaps the rules for existing sessions.
	if err := r.Reload(Config{MaxReplicaLag: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}
	runSteps(t, other, snap, []step{{sql: "DROP DATABASE x", want: P, reason: ReasonWrite}})
}

func TestReplicaEligibility(t *testing.T) {
	mk := func(mut func(n []topology.Node)) *topology.Snapshot {
		s := testSnap()
		mut(s.Nodes)
		return s
	}
	tests := []struct {
		name string
		snap *topology.Snapshot
		cfg  Config
		want Target
		be   string
	}{
		{"nil snapshot", nil, Config{}, P, ""},
		{"db3 lags", mk(func(n []topology.Node) { n[2].Lag = 10 * time.Second }), Config{}, R, "db2"},
		{"db2 unknown lag", mk(func(n []topology.Node) { n[1].Lag = -1 }), Config{}, R, "db3"},
		{"db2 down", mk(func(n []topology.Node) { n[1].Up = false }), Config{}, R, "db3"},
		{"db2 quarantined", mk(func(n []topology.Node) { n[1].Role = topology.RoleQuarantined }), Config{}, R, "db3"},
		{"all lag: primary", mk(func(n []topology.Node) { n[1].Lag = -1; n[2].Lag = time.Hour }), Config{}, P, "db1"},
		{"all lag: fail", mk(func(n []topology.Node) { n[1].Lag = -1; n[2].Lag = time.Hour }), Config{FallbackFail: true}, X, ""},
		{"tight lag limit", testSnap(), Config{MaxReplicaLag: time.Millisecond}, R, "db2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestRouter(t, tt.cfg).NewSession("u", "")
			d := run(s, tt.snap, "SELECT 1", ac, "")
			if d.Target != tt.want || (tt.be != "" && d.Backend != tt.be) {
				t.Errorf("got %v %q, want %v %q", d.Target, d.Backend, tt.want, tt.be)
			}
		})
	}
}

func TestCausalReads(t *testing.T) {
	snap := testSnap()
	snap.Nodes[1].GTIDCurrent = "0-1-100"
	snap.Nodes[2].GTIDCurrent = "0-1-105"
	r := newTestRouter(t, Config{})
	s := r.NewSession("u", "")
	runSteps(t, s, snap, []step{
		{sql: "INSERT INTO t VALUES (1)", gtid: "0-1-104", want: P, reason: ReasonWrite},
		{sql: "SELECT * FROM t", want: R, reason: ReasonRead},
		{sql: "INSERT INTO t VALUES (2)", gtid: "0-1-106", want: P, reason: ReasonWrite},
		{sql: "SELECT * FROM t", want: P, reason: ReasonCausal},
	})
	if d := run(s, snap, "SELECT 2", ac, ""); d.Target != P {
		t.Errorf("read after unreplicated write: %v, want primary", d.Target)
	}
	// A newer snapshot in which db2 caught up.
	snap2 := testSnap()
	snap2.Version = 2
	snap2.Nodes[1].GTIDCurrent = "0-1-106"
	snap2.Nodes[2].GTIDCurrent = "0-1-105"
	if d := run(s, snap2, "SELECT 3", ac, ""); d.Target != R || d.Backend != "db2" {
		t.Errorf("read after catch-up: %v %s, want replica db2", d.Target, d.Backend)
	}
	// Other domains do not matter; a missing domain does.
	run(s, snap2, "INSERT INTO t VALUES (3)", ac, "1-1-5")
	if d := run(s, snap2, "SELECT 4", ac, ""); d.Target != P {
		t.Errorf("read after write in an unseen domain: %v, want primary", d.Target)
	}
}

func TestCausalWait(t *testing.T) {
	snap := testSnap()
	r := newTestRouter(t, Config{CausalWait: 500 * time.Millisecond})
	s := r.NewSession("u", "")
	run(s, snap, "UPDATE t SET a = 1", ac, "0-1-200")
	d := s.Route(Classify([]byte("SELECT a FROM t")), []byte("SELECT a FROM t"), snap)
	if d.Target != R || d.WaitGTID != "0-1-200" || d.WaitTimeout != 500*time.Millisecond {
		t.Fatalf("got %v wait %q/%v, want replica wait 0-1-200/500ms", d.Target, d.WaitGTID, d.WaitTimeout)
	}
	if got, want := d.WaitSQL("mariadb"), "SELECT MASTER_GTID_WAIT('0-1-200', 0.500)"; got != want {
		t.Errorf("WaitSQL = %q, want %q", got, want)
	}
	s.Observe(Result{Target: R, Backend: d.Backend, StatusKnown: true, Status: ac})
	// The replica confirmed the position: no second wait on it.
	d2 := run(s, snap, "SELECT a FROM t", ac, "")
	if d2.Target != R || d2.Backend != d.Backend || d2.WaitGTID != "" {
		t.Errorf("second read: %v %s wait %q, want replica %s without wait", d2.Target, d2.Backend, d2.WaitGTID, d.Backend)
	}
	// A wait that timed out: the proxy ran the read on the primary; the
	// next reads go to the primary without waiting, until the next write.
	run(s, snap, "UPDATE t SET a = 2", ac, "0-1-201")
	d3 := s.Route(Classify([]byte("SELECT a FROM t")), []byte("SELECT a FROM t"), snap)
	s.Observe(Result{Target: P, Backend: "db1", StatusKnown: true, Status: ac})
	d4 := run(s, snap, "SELECT a FROM t", ac, "")
	if d3.WaitGTID != "0-1-201" || d4.Target != P || d4.Reason != ReasonCausal {
		t.Errorf("after a timed-out wait: first %q, then %v/%v; want a wait, then primary/causal", d3.WaitGTID, d4.Target, d4.Reason)
	}
	run(s, snap, "UPDATE t SET a = 3", ac, "0-1-202")
	if d5 := run(s, snap, "SELECT a FROM t", ac, ""); d5.Target != P {
		t.Errorf("after the next write, replica just behind: %v wait %q, want primary", d5.Target, d5.WaitGTID)
	}
	r.bal.failedWait[d.Backend] = time.Now().Add(-time.Hour) // long ago
	if d5 := run(s, snap, "SELECT a FROM t", ac, ""); d5.WaitGTID != "0-1-202" {
		t.Errorf("after the next write, replica no longer marked behind: wait %q, want 0-1-202", d5.WaitGTID)
	}
	// A wait confirmed by one session spares another session the same wait.
	other := r.NewSession("u", "")
	d6 := other.Route(Classify([]byte("SELECT 1")), []byte("SELECT 1"), snap)
	other.Observe(Result{Target: R, Backend: d6.Backend})
	g := newTestRouter(t, Config{CausalWait: time.Second, Causal: CausalGlobal})
	a, b := g.NewSession("u", ""), g.NewSession("u", "")
	run(a, snap, "UPDATE t SET a = 1", ac, "0-1-300")
	da := a.Route(Classify([]byte("SELECT 1")), []byte("SELECT 1"), snap)
	a.Observe(Result{Target: R, Backend: da.Backend})
	b.replica = da.Backend
	if db := run(b, snap, "SELECT 1", ac, ""); db.Target != R || db.WaitGTID != "" {
		t.Errorf("global mode, second session after a confirmed wait: %v wait %q, want replica without wait", db.Target, db.WaitGTID)
	}
}

func TestCausalGlobal(t *testing.T) {
	snap := testSnap()
	r := newTestRouter(t, Config{Causal: CausalGlobal})
	a, b := r.NewSession("u", ""), r.NewSession("u", "")
	run(a, snap, "INSERT INTO t VALUES (1)", ac, "0-1-300")
	if d := run(b, snap, "SELECT * FROM t", ac, ""); d.Target != P || d.Reason != ReasonCausal {
		t.Errorf("global mode: other session's read %v/%v, want primary/causal", d.Target, d.Reason)
	}
	local := newTestRouter(t, Config{})
	a, b = local.NewSession("u", ""), local.NewSession("u", "")
	run(a, snap, "INSERT INTO t VALUES (1)", ac, "0-1-300")
	if d := run(b, snap, "SELECT * FROM t", ac, ""); d.Target != R {
		t.Errorf("local mode: other session's read %v, want replica", d.Target)
	}
	off := newTestRouter(t, Config{Causal: CausalOff}).NewSession("u", "")
	run(off, snap, "INSERT INTO t VALUES (1)", ac, "0-1-300")
	if d := run(off, snap, "SELECT * FROM t", ac, ""); d.Target != R {
		t.Errorf("causal off: own read %v, want replica", d.Target)
	}
}

func TestUnknownGTIDWindow(t *testing.T) {
	snap := testSnap()
	exec := func(s *Session, sql string, status uint16, rows uint64, gtid string) {
		d := s.Route(Classify([]byte(sql)), []byte(sql), snap)
		res := Result{Target: d.Target, Backend: d.Backend, Status: status, StatusKnown: true, Rows: rows}
		if gtid != "" {
			res.LastGTID = []byte(gtid)
		}
		s.Observe(res)
	}
	read := func(s *Session) Decision { return run(s, snap, "SELECT 1", ac, "") }
	r := newTestRouter(t, Config{UnknownGTIDWindow: time.Hour})

	s := r.NewSession("u", "")
	exec(s, "UPDATE t SET a = 1", ac, 1, "")
	if d := read(s); d.Target != P || d.Reason != ReasonCausal {
		t.Errorf("read after write without GTID: %v/%v, want primary/causal", d.Target, d.Reason)
	}
	exec(s, "UPDATE t SET a = 1", ac, 1, "0-1-1")
	if d := read(s); d.Target != R {
		t.Errorf("read after write with GTID: %v, want replica", d.Target)
	}

	// Once the servers are known to report GTIDs, a write without one
	// (temporary table) replicated nothing.
	exec(s, "INSERT INTO tmp VALUES (1)", ac, 1, "")
	if d := read(s); d.Target != R {
		t.Errorf("read after a write without GTID, GTIDs tracked: %v, want replica", d.Target)
	}

	s = newTestRouter(t, Config{UnknownGTIDWindow: time.Hour}).NewSession("u", "")
	exec(s, "UPDATE t SET a = 1 WHERE 0", ac, 0, "")
	if d := read(s); d.Target != R {
		t.Errorf("read after a write that changed no rows: %v, want replica", d.Target)
	}
	exec(s, "BEGIN", ac|StatusInTrans, 0, "")
	exec(s, "SELECT 1", ac|StatusInTrans, 0, "")
	exec(s, "COMMIT", ac, 0, "")
	if d := read(s); d.Target != R {
		t.Errorf("read after a read-only transaction: %v, want replica", d.Target)
	}
	exec(s, "BEGIN", ac|StatusInTrans, 0, "")
	exec(s, "INSERT INTO t VALUES (1)", ac|StatusInTrans, 1, "")
	exec(s, "COMMIT", ac, 0, "")
	if d := read(s); d.Target != P || d.Reason != ReasonCausal {
		t.Errorf("read after a writing transaction without GTID: %v/%v, want primary/causal", d.Target, d.Reason)
	}
}

func TestBalancing(t *testing.T) {
	snap := testSnap()
	r := newTestRouter(t, Config{})
	// Outstanding statements: with db2 busy, new sessions choose db3.
	busy := make([]*Session, 3)
	for i := range busy {
		busy[i] = r.NewSession("u", "")
	}
	r.bal.counter("db2").Add(1)
	r.bal.counter("db2").Add(1)
	for i, s := range busy {
		d := s.Route(Classify([]byte("SELECT 1")), []byte("SELECT 1"), snap)
		if i == 0 && d.Backend != "db3" {
			t.Errorf("first session with db2 busy chose %s, want db3", d.Backend)
		}
	}
	for _, s := range busy {
		s.Observe(Result{Target: R, Backend: s.replica})
	}
	r.bal.counter("db2").Add(-1)
	r.bal.counter("db2").Add(-1)
	if r.Outstanding("db2") != 0 || r.Outstanding("db3") != 0 {
		t.Errorf("outstanding after release: db2=%d db3=%d, want 0", r.Outstanding("db2"), r.Outstanding("db3"))
	}
	// Weights: db3 weight 3 gets about three quarters of new sessions
	// while each session holds one statement in flight.
	snap = testSnap() // snapshots are immutable: a new one
	snap.Nodes[2].Weight = 3
	snap.Version = 2
	count := map[string]int{}
	var held []*Session
	for i := 0; i < 400; i++ {
		s := r.NewSession("u", "")
		d := s.Route(Classify([]byte("SELECT 1")), []byte("SELECT 1"), snap)
		count[d.Backend]++
		held = append(held, s)
	}
	if c3 := count["db3"]; c3 < 280 || c3 > 320 {
		t.Errorf("weighted spread: %v, want db3 about 300 of 400", count)
	}
	for _, s := range held {
		s.Observe(Result{Target: R, Backend: s.replica})
	}
}

func TestStickyReplica(t *testing.T) {
	snap := testSnap()
	s := newTestRouter(t, Config{}).NewSession("u", "")
	first := run(s, snap, "SELECT 1", ac, "").Backend
	for i := 0; i < 20; i++ {
		if d := run(s, snap, "SELECT 1", ac, ""); d.Backend != first {
			t.Fatalf("read %d moved from %s to %s", i, first, d.Backend)
		}
	}
}

func TestFromConfigCausalModes(t *testing.T) {
	for _, c := range []struct {
		mode string
		want CausalMode
		wait bool
	}{
		{"local", CausalLocal, true}, {"global", CausalGlobal, true}, {"fast", CausalLocal, false},
		{"fast_global", CausalGlobal, false}, {"off", CausalOff, true},
	} {
		cfg, err := config.Parse([]byte("cluster: {name: c, servers: [{name: db1, address: '127.0.0.1:1'}]}\n" +
			"users: [{name: a, password: x, default_route: replica}]\nrouting: {causal_reads: " + c.mode + "}\n"))
		if err != nil {
			t.Fatal(err)
		}
		rc, err := FromConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if rc.Causal != c.want || (rc.CausalWait > 0) != c.wait || rc.Users["a"] != RouteReplica {
			t.Errorf("%s: Causal %v wait %v users %v; want %v wait=%v replica", c.mode, rc.Causal, rc.CausalWait, rc.Users, c.want, c.wait)
		}
	}
}

func TestSessionTracksUse(t *testing.T) {
	r := newTestRouter(t, Config{Rules: []Rule{{Name: "reports", Schema: "Reports", Action: ActionRoute, Route: RoutePrimary}}})
	s := r.NewSession("u", "moodle")
	runSteps(t, s, testSnap(), []step{
		{sql: "SELECT 1", want: R, reason: ReasonRead},
		{sql: "USE `Reports`", want: P, reason: ReasonWrite},
		{sql: "SELECT 1", want: P, reason: ReasonRule},
		{sql: "use moodle", want: P, reason: ReasonRule},
		{sql: "SELECT 1", want: R, reason: ReasonRead},
	})
	if s.Schema() != "moodle" {
		t.Errorf("Schema = %q, want moodle", s.Schema())
	}
	d := s.Route(Classify([]byte("USE nothere")), []byte("USE nothere"), testSnap())
	s.Observe(Result{Target: d.Target, Backend: d.Backend, Err: true, ErrCode: 1049})
	if s.Schema() != "moodle" {
		t.Errorf("Schema after a failed USE = %q, want moodle", s.Schema())
	}
}

func TestRouteWithoutObserveDoesNotLeak(t *testing.T) {
	r := newTestRouter(t, Config{})
	s := r.NewSession("u", "")
	snap := testSnap()
	var d Decision
	for i := 0; i < 5; i++ {
		d = s.Route(Classify([]byte("SELECT 1")), []byte("SELECT 1"), snap)
	}
	s.Observe(Result{Target: d.Target, Backend: d.Backend})
	s.Observe(Result{Target: d.Target, Backend: d.Backend}) // a second Observe is ignored
	for _, n := range []string{"db2", "db3"} {
		if o := r.Outstanding(n); o != 0 {
			t.Errorf("%s: outstanding %d, want 0", n, o)
		}
	}
}

func TestNoteGTIDBeforeObserve(t *testing.T) {
	snap := testSnap()
	r := newTestRouter(t, Config{Causal: CausalGlobal})
	a, b := r.NewSession("u", ""), r.NewSession("u", "")
	d := a.Route(Classify([]byte("INSERT INTO t VALUES (1)")), []byte("INSERT INTO t VALUES (1)"), snap)
	a.NoteGTID([]byte("0-1-900"))
	// Another connection reads before a's Observe: it must see the write.
	if db := run(b, snap, "SELECT * FROM t", ac, ""); db.Target != P || db.Reason != ReasonCausal {
		t.Errorf("read on another connection after NoteGTID: %v/%v, want primary/causal", db.Target, db.Reason)
	}
	a.Observe(Result{Target: d.Target, Backend: d.Backend, LastGTID: []byte("0-1-900"), Status: ac, StatusKnown: true})
	if got, _ := r.global.get(); got.String() != "0-1-900" {
		t.Errorf("global position %q, want 0-1-900", got.String())
	}
}

func TestFailedWaitMarksReplicaBehind(t *testing.T) {
	snap := testSnap()
	r := newTestRouter(t, Config{CausalWait: time.Minute})
	a, b := r.NewSession("u", ""), r.NewSession("u", "")
	run(a, snap, "UPDATE t SET a = 1", ac, "0-1-500")
	d := a.Route(Classify([]byte("SELECT 1")), []byte("SELECT 1"), snap)
	if d.WaitGTID == "" {
		t.Fatalf("first read after the write: no wait")
	}
	a.Observe(Result{Target: P, Backend: "db1"}) // the wait timed out
	b.replica = d.Backend
	run(b, snap, "UPDATE t SET a = 2", ac, "0-1-501")
	if db := run(b, snap, "SELECT 1", ac, ""); db.Target != P || db.Reason != ReasonCausal {
		t.Errorf("other session, replica just failed a wait: %v/%v, want primary/causal", db.Target, db.Reason)
	}
}

func TestNewSessionsAlternateReplicas(t *testing.T) {
	r := newTestRouter(t, Config{})
	snap := testSnap()
	count := map[string]int{}
	for i := 0; i < 16; i++ {
		s := r.NewSession("u", "")
		for k := 0; k < 3; k++ { // later reads of a session do not move the rotation
			d := run(s, snap, "SELECT 1", ac, "")
			if k == 0 {
				count[d.Backend]++
			}
		}
	}
	if count["db2"] != 8 || count["db3"] != 8 {
		t.Errorf("16 idle new sessions went to %v, want 8 and 8", count)
	}
}
