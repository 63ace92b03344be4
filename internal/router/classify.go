package router

// notReadOnly are the flags that keep a read off the replicas.
const notReadOnly = FlagLockingRead | FlagGetLock | FlagReleaseLock | FlagReleaseAllLocks |
	FlagLockFunc | FlagSequence | FlagSideEffect | FlagUserVar | FlagLastInsertID

// Classify returns the verdict for the SQL text of one COM_QUERY or
// COM_STMT_PREPARE. It never allocates, never panics, and reads each byte a
// bounded number of times. It does not validate SQL: text the server would
// reject is classified as best it can, and anything not recognised as a
// read is not marked FlagReadOnly (so it runs on the primary).
func Classify(sql []byte) Statement {
	st, _ := classifyWith(sql, nil)
	return st
}

// classifyWith is Classify, showing the tokens of its first pass (the
// default backslash mode) to sink if not nil. esc reports whether the
// text had a backslash-escaped quote.
func classifyWith(sql []byte, sink *digestSink) (st Statement, esc bool) {
	st, esc = classify(sql, false, sink)
	if esc && st.ReadOnly() {
		// A backslash before a quote: under sql_mode NO_BACKSLASH_ESCAPES
		// the string ends there and what follows is code. Send the
		// statement to a replica only if it is a plain read both ways.
		if alt, _ := classify(sql, true, nil); !alt.ReadOnly() || alt.Flags&FlagSameAsLast != st.Flags&FlagSameAsLast {
			st.Flags &^= FlagReadOnly
		}
	}
	return st, esc
}

// classify is Classify with a given backslash mode; esc reports whether
// the text had a backslash-escaped quote.
func classify(sql []byte, noBackslash bool, sink *digestSink) (st Statement, esc bool) {
	l := lexer{s: sql, noBackslash: noBackslash, sink: sink}
	n := 0
	allRead := true
	for {
		kind, flags, more := classifyOne(&l)
		if kind != KindEmpty {
			if n == 0 {
				st.Kind = kind
			}
			n++
			st.Flags |= flags
			if flags&FlagReadOnly == 0 {
				allRead = false
			}
		}
		if !more {
			break
		}
	}
	if n == 0 {
		st.Kind = KindEmpty
		allRead = false
	}
	if n > 1 {
		st.Flags |= FlagMulti
	}
	if allRead {
		st.Flags |= FlagReadOnly
	} else {
		st.Flags &^= FlagReadOnly
	}
	st.Flags |= l.hints
	return st, l.escQuote
}

// stmtScan is the state of one statement being classified.
type stmtScan struct {
	l     *lexer
	kind  Kind
	flags Flags
	first token // leading keyword
	prev  token // previous token
	prev2 token // the one before
	depth int
}

// classifyOne classifies the statement starting at l.i and consumes it up to
// and including its ";". more reports whether text follows the ";".
func classifyOne(l *lexer) (kind Kind, flags Flags, more bool) {
	s := stmtScan{l: l}
	t := l.next()
	for t.kind == tokLParen {
		s.depth++
		t = l.next()
	}
	switch t.kind {
	case tokEOF:
		return KindEmpty, 0, false
	case tokSemi:
		return KindEmpty, 0, true
	case tokWord:
		s.first = t
		s.leading(t)
	default:
		s.kind = KindOther
	}
	if s.kind == KindSet && s.flags&FlagSessionCmd == 0 && s.setStatement() {
		// SET STATEMENT ... FOR <stmt>: the inner statement decides.
		k, f, m := classifyOne(l)
		return k, f &^ FlagSessionCmd, m
	}
	more = s.scan()
	s.finish()
	return s.kind, s.flags, more
}

// word returns the bytes of t.
func (s *stmtScan) word(t token) []byte { return s.l.s[t.start:t.end] }

// peekWord returns the next token without consuming it.
func (s *stmtScan) peek() token {
	save := s.l.mark()
	t := s.l.next()
	s.l.reset(save)
	return t
}

// leading sets the kind from the first keyword and, where needed, the
// second (consumed here).
func (s *stmtScan) leading(t token) {
	w := s.word(t)
	switch {
	case eqFold(w, "SELECT"), eqFold(w, "WITH"), eqFold(w, "VALUES"), eqFold(w, "TABLE"):
		s.kind = KindSelect
	case eqFold(w, "SHOW"):
		s.kind = KindShow
		s.show()
	case eqFold(w, "DESCRIBE"), eqFold(w, "DESC"), eqFold(w, "EXPLAIN"):
		s.kind = KindDescribe
		if n := s.peek(); n.kind == tokWord && eqFold(s.word(n), "ANALYZE") {
			s.kind = KindOther
		}
	case eqFold(w, "ANALYZE"):
		s.kind = KindWrite
		if n := s.peek(); n.kind == tokWord && eqFold(s.word(n), "SELECT") {
			s.kind = KindDescribe
		}
	case eqFold(w, "HELP"):
		s.kind = KindHelp
	case eqFold(w, "SET"):
		s.kind = KindSet
		s.set()
	case eqFold(w, "USE"):
		s.kind = KindUse
		s.flags |= FlagSessionCmd
	default:
		s.leadingControl(w)
	}
}

// leadingControl handles transaction control, locks and writes.
func (s *stmtScan) leadingControl(w []byte) {
	switch {
	case eqFold(w, "BEGIN"):
		s.kind = KindBegin
		if n := s.peek(); n.kind == tokWord && eqFold(s.word(n), "NOT") {
			s.kind = KindOther // BEGIN NOT ATOMIC compound statement
		}
	case eqFold(w, "START"):
		s.kind = KindWrite
		if n := s.peek(); n.kind == tokWord && eqFold(s.word(n), "TRANSACTION") {
			s.kind = KindBegin
		}
	case eqFold(w, "COMMIT"):
		s.kind = KindCommit
	case eqFold(w, "ROLLBACK"):
		s.kind = KindRollback
	case eqFold(w, "SAVEPOINT"), eqFold(w, "RELEASE"):
		s.kind = KindSavepoint
	case eqFold(w, "XA"):
		s.kind = KindXA
	case eqFold(w, "LOCK"):
		s.kind = KindLockTables
	case eqFold(w, "UNLOCK"):
		s.kind = KindUnlockTables
	case eqFold(w, "HANDLER"):
		s.kind = KindHandler
	case eqFold(w, "PREPARE"):
		s.kind = KindPrepare
	case eqFold(w, "EXECUTE"):
		s.kind = KindExecute
	case eqFold(w, "DEALLOCATE"):
		s.kind = KindDeallocate
	case eqFold(w, "CALL"):
		s.kind = KindCall
	case eqFold(w, "DO"):
		s.kind = KindDo
	case eqFold(w, "CREATE"):
		s.kind = KindWrite
		s.create()
	case eqFold(w, "DROP"):
		s.kind = KindWrite
		s.drop()
	case isWriteKeyword(w):
		s.kind = KindWrite
	default:
		s.kind = KindOther
	}
}

// isWriteKeyword reports leading keywords of data-changing, DDL and admin
// statements. They all run on the primary, like unknown ones; the
// distinction only shows in statistics.
func isWriteKeyword(w []byte) bool {
	for _, k := range [...]string{"INSERT", "UPDATE", "DELETE", "REPLACE", "LOAD", "ALTER",
		"RENAME", "TRUNCATE", "GRANT", "REVOKE", "OPTIMIZE", "REPAIR", "CHECK", "CHECKSUM",
		"FLUSH", "RESET", "KILL", "PURGE", "CHANGE", "INSTALL", "UNINSTALL", "STOP", "BINLOG",
		"CACHE", "SHUTDOWN", "IMPORT", "BACKUP"} {
		if eqFold(w, k) {
			return true
		}
	}
	return false
}

// show inspects the word after SHOW.
func (s *stmtScan) show() {
	n := s.peek()
	if n.kind != tokWord {
		return
	}
	w := s.word(n)
	switch {
	case eqFold(w, "WARNINGS"), eqFold(w, "ERRORS"), eqFold(w, "COUNT"):
		s.flags |= FlagSameAsLast
	case eqFold(w, "MASTER"), eqFold(w, "BINLOG"), eqFold(w, "BINARY"), eqFold(w, "PROCESSLIST"),
		eqFold(w, "STATUS"), eqFold(w, "SESSION"), eqFold(w, "LOCAL"), eqFold(w, "SLAVE"),
		eqFold(w, "REPLICA"), eqFold(w, "ALL"), eqFold(w, "PROFILE"), eqFold(w, "PROFILES"),
		eqFold(w, "ENGINE"), eqFold(w, "OPEN"), eqFold(w, "EXPLAIN"), eqFold(w, "ANALYZE"),
		eqFold(w, "RELAYLOG"), eqFold(w, "FULL"):
		// Server- or connection-specific output: ask the primary.
		s.flags |= FlagSideEffect
	}
}

// set inspects the words after SET.
func (s *stmtScan) set() {
	n := s.peek()
	switch n.kind {
	case tokUserVar:
		return // user variable assignment: FlagUserVar comes from the scan
	case tokSysVar:
		if hasFoldPrefix(s.word(n), "global.") {
			s.flags |= FlagGlobalSet
		} else {
			s.flags |= FlagSessionCmd
		}
		return
	case tokWord:
	default:
		return
	}
	w := s.word(n)
	switch {
	case eqFold(w, "GLOBAL"):
		s.flags |= FlagGlobalSet
	case eqFold(w, "TRANSACTION"), eqFold(w, "PASSWORD"), eqFold(w, "DEFAULT"), eqFold(w, "STATEMENT"):
		// next transaction only, account changes, or SET STATEMENT: not replayed
	default:
		// NAMES, CHARACTER SET, CHARSET, SESSION, LOCAL, ROLE, or a variable name
		s.flags |= FlagSessionCmd
	}
}

// setStatement consumes "STATEMENT ... FOR" of MariaDB's SET STATEMENT and
// reports whether it did; the lexer then stands at the inner statement.
func (s *stmtScan) setStatement() bool {
	n := s.peek()
	if n.kind != tokWord || !eqFold(s.word(n), "STATEMENT") {
		return false
	}
	s.l.next()
	depth := 0
	for {
		t := s.l.next()
		switch t.kind {
		case tokEOF, tokSemi:
			// A fresh lexer at t (the sink stops: it has seen t already).
			s.l.i, s.l.inExec, s.l.noBackslash, s.l.escQuote, s.l.sink = t.start, false, false, false, nil
			return false
		case tokLParen:
			depth++
		case tokRParen:
			depth--
		case tokWord:
			if depth == 0 && eqFold(s.word(t), "FOR") {
				return true
			}
		}
	}
}

// create looks for TEMPORARY among the words after CREATE.
func (s *stmtScan) create() {
	save := s.l.mark()
	for k := 0; k < 4; k++ {
		t := s.l.next()
		if t.kind != tokWord {
			break
		}
		if eqFold(s.word(t), "TEMPORARY") {
			s.kind = KindCreateTemp
			s.flags |= FlagTemporary
			break
		}
	}
	s.l.reset(save)
}

// drop recognises DROP [TEMPORARY] TABLE and DROP PREPARE.
func (s *stmtScan) drop() {
	save := s.l.mark()
	t := s.l.next()
	if t.kind == tokWord && eqFold(s.word(t), "TEMPORARY") {
		s.flags |= FlagTemporary
		t = s.l.next()
	}
	if t.kind == tokWord {
		switch w := s.word(t); {
		case eqFold(w, "TABLE"), eqFold(w, "TABLES"):
			s.kind = KindDropTable
		case eqFold(w, "PREPARE"):
			s.kind = KindDeallocate
		}
	}
	s.l.reset(save)
}
