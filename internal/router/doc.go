// Package router decides where each statement of a proxied MySQL/MariaDB
// session runs: on the primary or on a replica. It is pure policy: it never
// touches a socket. The proxy (internal/proxy) owns connections and packets
// and calls this package on its hot path.
//
// # Objects
//
//   - Classify(sql) Statement: a zero-allocation lexer (no SQL parse) that
//     reads the leading keyword(s) after comments, hints (/* vigil:primary */,
//     /* vigil:replica */), locking clauses, side-effecting functions, user
//     variables, temporary tables, session settings and multi-statements.
//     Strings, quoted identifiers and comments never fool it; /*! ... */ and
//     /*M! ... */ executable comments are read as code.
//   - Router: one per proxy. Built by New(Config, Registerer, Logger), the
//     Config from FromConfig; holds the policy (users' default routes,
//     query rules, causal-read mode), the replica balancer (outstanding
//     statements per replica), the digest Stats table and the proxy-wide
//     GTID high-water mark. Reload swaps the
//     policy atomically (the proxy calls it on SIGHUP). Safe for concurrent
//     use.
//   - Session: one per client connection, from Router.NewSession. It keeps
//     the transaction state (from server status flags), pins (named locks,
//     temporary tables, LOCK TABLES, HANDLER, text-protocol PREPARE), the
//     last backend used and the GTID of the session's last write. NOT safe
//     for concurrent use: call it only from the goroutine that serves the
//     client connection.
//
// # How the proxy calls it
//
// For every COM_QUERY (and every COM_STMT_EXECUTE, see below):
//
//	snap, _ := topologySource.Current()     // newest topology snapshot
//	st, d := sess.RouteQuery(sql, snap, start) // sql: the statement text, start: when it arrived
//	// (the same as st := router.Classify(sql); d := sess.Route(st, sql, snap),
//	// but the text is lexed once for the classification, the digest and
//	// the stored function check)
//	switch d.Target {
//	case router.TargetReject:
//	    send an ERR packet (code router.ErrRejected, state "HY000", d.Message);
//	    sess.Observe(router.Result{Target: router.TargetReject, Err: true})
//	case router.TargetPrimary:
//	    run on the session's primary connection (d.Backend is snap.Primary;
//	    empty means there is no primary now: hold as during a failover)
//	case router.TargetReplica:
//	    run on the session's connection to replica d.Backend (open it if
//	    needed, replaying the session commands first). If d.WaitGTID != "",
//	    first run d.WaitSQL(flavor) on that connection; its single value
//	    is 0 when the replica has applied the GTID. Any other value, NULL or
//	    an error: run the statement on the primary instead.
//	}
//	... relay the result ...
//	sess.Observe(router.Result{Target: where it really ran, Backend: node
//	    name, Status: status flags of the last OK/EOF, StatusKnown: true,
//	    LastGTID: last_gtid from the OK packet's session-state info,
//	    InsertID, Rows, Err, ErrCode, Duration})
//
// In CausalGlobal mode a client may open a new connection and read as soon
// as it has the OK packet of a write; the proxy should therefore call
// sess.NoteGTID(lastGTID) after decoding the final OK packet and before
// relaying it (Observe alone records the GTID only after the relay).
//
// Observe must be called exactly once after every Route or RouteQuery
// (also for rejects and failed statements): it updates transaction state,
// pins and the causal GTID, releases the replica's outstanding count, and
// records the digest statistics. Route and Observe strictly alternate.
//
// d.Replay is true for session commands (SET NAMES, SET [SESSION] var, USE,
// SET SESSION TRANSACTION ..., SET ROLE): the statement runs on the primary;
// if it succeeds the proxy appends its text to the session's history and
// replays the history, in order, on every other backend connection of the
// session before that connection's next statement (and on any new one).
// For COM_INIT_DB the proxy does the same and calls sess.SetSchema(name).
// For COM_CHANGE_USER / COM_RESET_CONNECTION it calls sess.Reset(user,
// schema) and clears its history.
//
// Prepared statements (binary protocol): at COM_STMT_PREPARE the proxy
// calls p := router.Prepare(text) once (classification, digest, digest
// text and table names from one lexing), keeps p with the statement id and
// prepares the statement on the primary. At COM_STMT_EXECUTE it calls
// sess.RoutePrepared(&p, flags, snap, start), which decides as
// sess.Route(p.Statement with flags, text, snap) would without
// lexing the text again: rules are matched against the current
// configuration, and the stored function check is cached in p with the
// stored function set it was made against (made again after
// SetStoredFunctions). When the target is a replica on which the
// statement is not prepared yet, the proxy prepares it there first
// (lazily, once per connection). A read-only prepared statement thus runs
// on replicas. COM_STMT_FETCH goes to the backend of its execute. If the
// proxy cannot honour that (for example long data was already sent to the
// primary, or the execute opens a cursor), it passes flags
// FlagHintPrimary.
// Other commands (COM_PING, COM_FIELD_LIST, COM_STATISTICS ...) go to the
// primary without Route.
//
// The proxy must make the primary report the GTID of each write: advertise
// CLIENT_SESSION_TRACK to the backend and run
// SET session_track_system_variables = CONCAT(@@session_track_system_variables, ',last_gtid')
// (MariaDB) or SET session_track_gtids = OWN_GTID (MySQL) on every primary
// connection. Until some write's OK packet has carried a GTID (tracking not
// working), a session reads from the primary for Config.UnknownGTIDWindow
// after each write.
//
// Session.Pins reports session state that lives on one backend connection
// (locks, temporary tables, user variables, LOCK TABLES, HANDLER, PREPARE):
// while it is non-zero the proxy must not swap the session's primary
// connection silently (after a failover such a session gets an error).
//
// # Routing rules (in order)
//
//  1. A reject rule that matches: TargetReject.
//  2. Inside a transaction (server status IN_TRANS, or autocommit off), or
//     the session has LOCK TABLES active, or a multi-statement that changed
//     session state: the primary.
//  3. Statements that must run where the previous one ran (FOUND_ROWS(),
//     ROW_COUNT(), SHOW WARNINGS/ERRORS, @@warning_count, @@error_count):
//     the previous backend.
//  4. /* vigil:primary */ hint, a rule routing to the primary, or user
//     default_route "primary": the primary.
//  5. Anything that is not a plain read (writes, DDL, unknown statements,
//     locking reads, lock and sequence functions, user variables,
//     LAST_INSERT_ID(), transaction control, LOCK/UNLOCK, HANDLER, XA, CALL,
//     PREPARE/EXECUTE, SET, USE, multi-statements), and a read that calls
//     a stored function of the set given to Router.SetStoredFunctions
//     (it may write): the primary.
//  6. A read while the session holds temporary tables: the primary (unless a
//     replica hint, rule or user route says otherwise).
//  7. Otherwise a replica: healthy (Up, role replica, not the primary), Lag
//     known and <= MaxReplicaLag; the session's current replica is kept
//     while it fits; otherwise the fitting replica with the fewest
//     outstanding statements per weight. With no fitting replica: the
//     primary (FallbackFail false) or reject (FallbackFail true).
//
// # Causal reads
//
// Unless a replica hint, rule or user route "replica" applies, a read after
// a write must see it. The "need" is the session's last write GTID (mode
// CausalLocal) or the highest GTID written through this Router by any
// session (CausalGlobal, which also covers a new connection after a
// write). A replica qualifies without waiting when its snapshot
// GTIDCurrent covers the need, or when an earlier causal wait on it (by
// any session) proved it. Otherwise, with CausalWait > 0 the decision
// carries WaitGTID (the proxy runs WaitSQL on the replica first); with
// CausalWait == 0, or when a wait for the same need already timed out in
// this session, the read goes to the primary. Topology snapshots are not
// republished for GTID changes alone, so in practice the first read after
// each write waits (one round trip, normally sub-millisecond) unless it
// was already proven.
//
// Concurrency: Router methods are safe for concurrent use; the balancer,
// statistics table and global GTID have their own locks. A Session belongs
// to one goroutine.
package router
