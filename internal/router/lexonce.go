package router

// digestSink builds, from the tokens the classifier's lexer reads, what
// Route needs besides the classification: the digest text and hash
// (exactly as normalizeInto builds them) and whether a function of the
// stored function set is called (as storedFuncs.called finds it), so that
// the statement text is lexed once. The classifier looks ahead and backs
// up; the sink sees each token once, the first time it is lexed, which is
// in text order because the lexer is deterministic.
//
// normalizeInto looks ahead after "(" for a literal list; the sink instead
// holds back such a run of tokens and, if it turns out not to be a literal
// list, lexes the run again from a saved lexer state.
type digestSink struct {
	sql  []byte
	dst  []byte
	hw   int  // lexer offset after the last token fed
	eof  bool // the end of the text was fed: the results are complete
	esc  bool // the text has a backslash-escaped quote (lexer.escQuote at the end)
	done bool // dst reached MaxDigestLen: normalizeInto stops there
	// h is the FNV-1a hash of dst[:hashed], kept up as dst grows so that
	// its multiply chain overlaps the lexing.
	h      uint64
	hashed int
	prev   token
	st     sinkState
	n      int   // literals in the list being held back
	open   token // "(" that began the held-back run
	// comma is the "," after a literal list, held back with the run that follows it.
	comma token
	// replay is the lexer state just after open (the text is sql).
	replay lexPos

	funcs *storedFuncs // nil: no stored function check
	calls bool         // a function of funcs is called
	fprev token
}

type sinkState uint8

const (
	sinkNormal    sinkState = iota
	sinkList                // after "(": is it a literal list?
	sinkAfterList           // after a literal list's ")"
	sinkComma               // after a literal list's ")" and ","
	sinkMoreList            // after ") , (": another literal list?
)

// feed takes the token l just lexed.
func (d *digestSink) feed(l *lexer, t token) {
	if t.kind == tokEOF {
		if !d.eof {
			d.eof, d.esc = true, l.escQuote
			d.token(l, t)
		}
		return
	}
	if l.i <= d.hw {
		return // lexed again by a look-ahead
	}
	d.hw = l.i
	if d.funcs != nil && !d.calls && t.kind == tokLParen {
		d.calls = d.funcs.has(d.sql, d.fprev)
	}
	d.fprev = t
	if d.st == sinkNormal && t.kind != tokLParen && !d.done && len(d.dst) < MaxDigestLen {
		d.emit(t) // outer's common case, without the calls
		return
	}
	d.token(l, t)
}

// token advances the digest by one token (tokEOF: the end).
func (d *digestSink) token(l *lexer, t token) {
	switch d.st {
	case sinkNormal:
		d.outer(l, t)
	case sinkList, sinkMoreList:
		switch t.kind {
		case tokString, tokNumber, tokParam:
			d.n++
			return
		case tokWord:
			if eqFold(d.sql[t.start:t.end], "NULL") {
				d.n++
				return
			}
		case tokOp:
			if c := d.sql[t.start]; c == '-' || c == '+' {
				return
			}
		case tokComma:
			return
		case tokRParen:
			if d.n > 0 {
				if d.st == sinkList {
					d.dst = appendSep(d.dst, d.sql, d.prev, d.open)
					d.dst = append(d.dst, "(...)"...)
					d.prev = token{kind: tokRParen}
				}
				d.st = sinkAfterList
				return
			}
		}
		// Not a literal list: what normalizeInto does after its look-ahead failed.
		more := d.st == sinkMoreList
		d.st = sinkNormal
		if more {
			d.outer(nil, d.comma)
		}
		d.plain(d.open)
		r := lexer{s: d.sql, i: d.replay.i, inExec: d.replay.inExec, noBackslash: d.replay.noBackslash}
		for {
			bt := r.lex()
			if bt.kind == tokEOF || t.kind != tokEOF && r.i >= l.i {
				break
			}
			d.outer(nil, bt)
		}
		d.outer(l, t)
	case sinkAfterList:
		if t.kind == tokComma {
			d.st, d.comma = sinkComma, t
			return
		}
		d.st = sinkNormal
		d.outer(l, t)
	case sinkComma:
		if t.kind == tokLParen {
			d.st, d.open, d.n = sinkMoreList, t, 0
			d.replay = l.pos()
			return
		}
		d.st = sinkNormal
		d.outer(nil, d.comma)
		d.outer(l, t)
	}
}

// outer is one turn of normalizeInto's loop. l is the lexer just after t
// (nil: t is not "(").
func (d *digestSink) outer(l *lexer, t token) {
	if d.done || t.kind == tokEOF {
		return
	}
	if len(d.dst) >= MaxDigestLen {
		d.done = true
		return
	}
	if t.kind == tokLParen && l != nil {
		d.st, d.open, d.n = sinkList, t, 0
		d.replay = l.pos()
		return
	}
	d.emit(t)
}

// plain is outer for a "(" known not to begin a literal list.
func (d *digestSink) plain(t token) {
	if d.done {
		return
	}
	if len(d.dst) >= MaxDigestLen {
		d.done = true
		return
	}
	d.emit(t)
}

func (d *digestSink) emit(t token) {
	d.dst = appendSep(d.dst, d.sql, d.prev, t)
	switch t.kind {
	case tokString, tokNumber, tokParam:
		d.dst = append(d.dst, '?')
	case tokSysVar:
		d.dst = append(d.dst, "@@"...)
		d.dst = append(d.dst, d.sql[t.start:t.end]...)
	default:
		d.dst = append(d.dst, d.sql[t.start:t.end]...)
	}
	d.prev = t
	d.hash()
}

// hash adds the bytes appended to dst since the last call (up to
// MaxDigestLen) to h.
func (d *digestSink) hash() {
	if d.hashed == 0 {
		d.h = fnvOffset
	}
	n := min(len(d.dst), MaxDigestLen)
	h := d.h
	for _, c := range d.dst[d.hashed:n] {
		h ^= uint64(c)
		h *= fnvPrime
	}
	d.h, d.hashed = h, n
}

// lexPos is a lexer's position and mode: lexing the same text from it
// yields the tokens the lexer would. (It holds no pointers, so that the
// sink keeps nothing of the lexer and both stay on the stack.)
type lexPos struct {
	i                   int
	inExec, noBackslash bool
}

func (l *lexer) pos() lexPos { return lexPos{l.i, l.inExec, l.noBackslash} }

// digest returns the digest text and hash, as finishDigest does; valid
// when eof.
func (d *digestSink) digest() ([]byte, uint64) {
	d.hash()
	return d.dst[:d.hashed], d.h
}

// callsStored is Router.callsStored from the fused pass.
func (d *digestSink) callsStored() bool {
	if d.funcs == nil {
		return false
	}
	if d.calls {
		return true
	}
	if d.esc {
		// Under NO_BACKSLASH_ESCAPES the text after such a quote is code.
		l := lexer{s: d.sql, noBackslash: true}
		return d.funcs.called(&l)
	}
	return false
}
