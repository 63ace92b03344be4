package router

import (
	"bytes"
	"time"

	"vigil/internal/topology"
)

// Prepared is a statement text that is routed many times without changing
// (a prepared statement, routed at each COM_STMT_EXECUTE): what routing
// needs from the text, computed once by Prepare, so that RoutePrepared
// does not lex it again. Rules are still matched at each execute (against
// the configuration of the moment); the stored function check is cached
// together with the stored function set it was made against and made again
// when the set changes. A Prepared belongs to one Session: RoutePrepared
// updates that cache, so it is not safe for concurrent use.
type Prepared struct {
	// Statement is the classification of the text (Classify).
	Statement Statement

	sql    []byte
	norm   []byte   // digest text (normalizeInto)
	digest uint64   // digest hash
	names  []string // tables of CREATE TEMPORARY / DROP TABLE, or USE's schema

	// calls is the stored function check against funcs, valid when checked.
	funcs   *storedFuncs
	calls   bool
	checked bool
}

// Prepare computes, from one lexing of sql (as RouteQuery does), what
// RoutePrepared needs. sql is kept: the caller must not change it.
func Prepare(sql []byte) Prepared {
	lx := digestSink{sql: sql}
	st, _ := classifyWith(sql, &lx)
	p := Prepared{Statement: st, sql: sql}
	var norm []byte
	if lx.eof {
		norm, p.digest = lx.digest()
	} else {
		// The classifier stopped showing tokens (SET STATEMENT without
		// FOR): lex again for the digest.
		norm, p.digest = normalizeInto(nil, sql)
	}
	p.norm = bytes.Clone(norm)
	switch st.Kind {
	case KindCreateTemp, KindDropTable:
		p.names = tableNames(sql)
	case KindUse:
		p.names = useName(sql)
	}
	return p
}

// callsStored reports whether the text calls a function of set f (the
// router's current set), as Router.callsStored would.
func (p *Prepared) callsStored(f *storedFuncs) bool {
	if !p.checked || p.funcs != f {
		p.funcs, p.calls, p.checked = f, callsStoredIn(f, p.sql), true
	}
	return p.calls
}

// RoutePrepared is Route(st, p's text, snap) where st is p.Statement with
// flags added (for example FlagHintPrimary), with the same results,
// without lexing the text again. start is when the statement arrived (the
// caller's clock reading, which the router takes instead of its own). It
// must be followed by exactly one Observe.
func (s *Session) RoutePrepared(p *Prepared, flags Flags, snap *topology.Snapshot, start time.Time) Decision {
	st := p.Statement
	st.Flags |= flags
	return s.routeNorm(st, p.sql, p.norm, p.digest, p.names, snap, nil, p, start)
}
