package router

// Kind is the statement type, from its leading keyword(s).
type Kind uint8

// Statement kinds.
const (
	KindOther        Kind = iota // unknown or unclassified: runs on the primary
	KindEmpty                    // only whitespace and comments
	KindSelect                   // SELECT, WITH ... SELECT, VALUES, TABLE, (SELECT ...)
	KindShow                     // SHOW ...
	KindDescribe                 // DESCRIBE, DESC, EXPLAIN (without ANALYZE)
	KindHelp                     // HELP
	KindWrite                    // INSERT, UPDATE, DELETE, REPLACE, LOAD, DDL, admin statements
	KindCall                     // CALL
	KindDo                       // DO
	KindSet                      // SET (see the Set* flags)
	KindUse                      // USE db
	KindBegin                    // BEGIN, START TRANSACTION
	KindCommit                   // COMMIT
	KindRollback                 // ROLLBACK (also ROLLBACK TO SAVEPOINT)
	KindSavepoint                // SAVEPOINT, RELEASE SAVEPOINT
	KindXA                       // XA ...
	KindLockTables               // LOCK TABLE(S), FLUSH TABLES ... WITH READ LOCK
	KindUnlockTables             // UNLOCK TABLES
	KindHandler                  // HANDLER
	KindPrepare                  // PREPARE name FROM ...
	KindExecute                  // EXECUTE name
	KindDeallocate               // DEALLOCATE / DROP PREPARE
	KindCreateTemp               // CREATE TEMPORARY TABLE
	KindDropTable                // DROP [TEMPORARY] TABLE (may drop a temporary table)
)

var kindNames = [...]string{
	KindOther: "other", KindEmpty: "empty", KindSelect: "select", KindShow: "show",
	KindDescribe: "describe", KindHelp: "help", KindWrite: "write", KindCall: "call",
	KindDo: "do", KindSet: "set", KindUse: "use", KindBegin: "begin", KindCommit: "commit",
	KindRollback: "rollback", KindSavepoint: "savepoint", KindXA: "xa",
	KindLockTables: "lock_tables", KindUnlockTables: "unlock_tables", KindHandler: "handler",
	KindPrepare: "prepare", KindExecute: "execute", KindDeallocate: "deallocate",
	KindCreateTemp: "create_temporary", KindDropTable: "drop_table",
}

// String returns the kind's lower-case name.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Flags are facts the classifier found anywhere in the statement text.
type Flags uint32

// Statement flags.
const (
	// FlagReadOnly: the statement only reads and may run on a replica.
	FlagReadOnly Flags = 1 << iota
	// FlagLockingRead: SELECT ... FOR UPDATE / FOR SHARE / LOCK IN SHARE MODE.
	FlagLockingRead
	// FlagGetLock: GET_LOCK( appears.
	FlagGetLock
	// FlagReleaseLock: RELEASE_LOCK( appears.
	FlagReleaseLock
	// FlagReleaseAllLocks: RELEASE_ALL_LOCKS( appears.
	FlagReleaseAllLocks
	// FlagLockFunc: IS_USED_LOCK( or IS_FREE_LOCK( appears.
	FlagLockFunc
	// FlagSequence: NEXTVAL(, LASTVAL(, SETVAL(, NEXT VALUE FOR, PREVIOUS VALUE FOR.
	FlagSequence
	// FlagSideEffect: another function that must run on the primary
	// (CONNECTION_ID(), MASTER_POS_WAIT is not one), or SELECT ... INTO.
	FlagSideEffect
	// FlagUserVar: a user variable (@x) is read or written.
	FlagUserVar
	// FlagLastInsertID: LAST_INSERT_ID(), @@identity or @@last_insert_id.
	FlagLastInsertID
	// FlagSameAsLast: FOUND_ROWS(), ROW_COUNT(), SHOW WARNINGS/ERRORS,
	// @@warning_count, @@error_count: must run where the previous statement ran.
	FlagSameAsLast
	// FlagCalcFoundRows: SQL_CALC_FOUND_ROWS.
	FlagCalcFoundRows
	// FlagMulti: more than one statement in the text.
	FlagMulti
	// FlagHintPrimary: /* vigil:primary */ comment.
	FlagHintPrimary
	// FlagHintReplica: /* vigil:replica */ comment.
	FlagHintReplica
	// FlagSessionCmd: changes session state that must be replayed on every
	// backend (SET NAMES, SET [SESSION] var, USE, SET SESSION TRANSACTION, SET ROLE).
	FlagSessionCmd
	// FlagGlobalSet: SET GLOBAL / @@global. (runs on the primary, not replayed).
	FlagGlobalSet
	// FlagTemporary: TEMPORARY appears in a CREATE or DROP.
	FlagTemporary
	// FlagReadOnlyTx: START TRANSACTION READ ONLY.
	FlagReadOnlyTx
)

// Statement is the classifier's verdict on one statement text. It is a small
// value; the proxy may keep it (for a prepared statement) and reuse it.
type Statement struct {
	// Kind is the type of the first statement in the text.
	Kind Kind
	// Flags are facts found in the whole text (all statements if FlagMulti).
	Flags Flags
}

// Has reports whether all of f are set.
func (s Statement) Has(f Flags) bool { return s.Flags&f == f }

// ReadOnly reports whether the statement may run on a replica.
func (s Statement) ReadOnly() bool { return s.Flags&FlagReadOnly != 0 }

// Independent reports whether the statement is one plain read whose answer
// depends on nothing of the session but its schema and settings: a SELECT
// without locking, lock, sequence or session functions, user variables,
// functions about the previous statement, or SQL_CALC_FOUND_ROWS. Any
// connection in the same state answers it alike (the proxy's pipelines).
func (s Statement) Independent() bool {
	const dependent = FlagLockingRead | FlagGetLock | FlagReleaseLock | FlagReleaseAllLocks |
		FlagLockFunc | FlagSequence | FlagSideEffect | FlagUserVar | FlagLastInsertID |
		FlagSameAsLast | FlagCalcFoundRows | FlagMulti | FlagSessionCmd | FlagGlobalSet | FlagTemporary
	return s.Kind == KindSelect && s.ReadOnly() && s.Flags&dependent == 0
}
