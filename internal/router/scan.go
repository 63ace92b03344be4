package router

// scan reads the rest of the statement up to ";" or the end, collecting
// flags. It reports whether a ";" ended the statement.
func (s *stmtScan) scan() bool {
	s.prev = s.first
	for {
		t := s.l.next()
		switch t.kind {
		case tokEOF:
			return false
		case tokSemi:
			return true
		case tokLParen:
			s.depth++
			if s.prev.kind == tokWord {
				s.function(s.word(s.prev))
			}
		case tokRParen:
			s.depth--
		case tokUserVar:
			s.flags |= FlagUserVar
		case tokSysVar:
			s.sysVar(s.word(t))
		case tokWord:
			s.keyword(t)
		}
		s.prev2, s.prev = s.prev, t
	}
}

// function inspects a word followed by "(".
func (s *stmtScan) function(w []byte) {
	if len(w) < 6 || len(w) > 17 {
		return
	}
	switch {
	case eqFold(w, "GET_LOCK"):
		s.flags |= FlagGetLock
	case eqFold(w, "RELEASE_LOCK"):
		s.flags |= FlagReleaseLock
	case eqFold(w, "RELEASE_ALL_LOCKS"):
		s.flags |= FlagReleaseAllLocks
	case eqFold(w, "IS_USED_LOCK"), eqFold(w, "IS_FREE_LOCK"):
		s.flags |= FlagLockFunc
	case eqFold(w, "NEXTVAL"), eqFold(w, "LASTVAL"), eqFold(w, "SETVAL"):
		s.flags |= FlagSequence
	case eqFold(w, "LAST_INSERT_ID"):
		s.flags |= FlagLastInsertID
	case eqFold(w, "FOUND_ROWS"), eqFold(w, "ROW_COUNT"):
		s.flags |= FlagSameAsLast
	case eqFold(w, "CONNECTION_ID"):
		s.flags |= FlagSideEffect
	}
}

// sysVar inspects @@name or @@scope.name.
func (s *stmtScan) sysVar(name []byte) {
	for _, scope := range [...]string{"session.", "local.", "global."} {
		if hasFoldPrefix(name, scope) {
			name = name[len(scope):]
			break
		}
	}
	switch {
	case eqFold(name, "identity"), eqFold(name, "last_insert_id"), eqFold(name, "insert_id"):
		s.flags |= FlagLastInsertID
	case eqFold(name, "warning_count"), eqFold(name, "error_count"):
		s.flags |= FlagSameAsLast
	}
}

// keyword inspects a bare word in the body of the statement.
func (s *stmtScan) keyword(t token) {
	w := s.word(t)
	if len(w) < 2 || len(w) > 19 {
		return
	}
	pw := []byte(nil)
	if s.prev.kind == tokWord {
		pw = s.word(s.prev)
	}
	switch {
	case eqFold(w, "UPDATE"), eqFold(w, "SHARE"):
		if pw != nil && eqFold(pw, "FOR") {
			s.flags |= FlagLockingRead
			return
		}
		if eqFold(w, "UPDATE") {
			s.bodyWrite()
		}
	case eqFold(w, "IN"):
		if pw != nil && eqFold(pw, "LOCK") {
			s.flags |= FlagLockingRead
		}
	case eqFold(w, "VALUE"):
		if pw != nil && (eqFold(pw, "NEXT") || eqFold(pw, "PREVIOUS")) {
			s.flags |= FlagSequence
		}
	case eqFold(w, "INTO"):
		if s.kind == KindSelect {
			s.flags |= FlagSideEffect // SELECT ... INTO @var / OUTFILE / DUMPFILE
		}
	case eqFold(w, "SQL_CALC_FOUND_ROWS"):
		s.flags |= FlagCalcFoundRows
	case eqFold(w, "INSERT"), eqFold(w, "DELETE"), eqFold(w, "REPLACE"):
		if n := s.peek(); n.kind != tokLParen {
			s.bodyWrite()
		}
	case eqFold(w, "LOCK"):
		if s.kind == KindLockTables || s.first.kind != tokWord || !eqFold(s.word(s.first), "FLUSH") {
			return
		}
		if pw != nil && eqFold(pw, "READ") {
			s.kind = KindLockTables // FLUSH TABLES ... WITH READ LOCK
		}
	case eqFold(w, "ONLY"):
		if s.kind == KindBegin && pw != nil && eqFold(pw, "READ") {
			s.flags |= FlagReadOnlyTx
		}
	}
}

// bodyWrite handles a data-changing keyword inside a statement that began
// as a read (WITH ... DELETE, EXPLAIN is exempt: it does not execute).
func (s *stmtScan) bodyWrite() {
	if s.kind == KindSelect {
		s.kind = KindWrite
	}
}

// finish sets FlagReadOnly for reads without side effects.
func (s *stmtScan) finish() {
	switch s.kind {
	case KindSelect, KindShow, KindDescribe, KindHelp:
		if s.flags&notReadOnly == 0 {
			s.flags |= FlagReadOnly
		}
	}
}
