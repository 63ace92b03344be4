package router

// tokKind is a lexical token type.
type tokKind uint8

const (
	tokEOF     tokKind = iota
	tokWord            // unquoted identifier or keyword
	tokQuoted          // `identifier`
	tokString          // '...' or "..."
	tokNumber          // 12, 1.5e3, 0x1F
	tokUserVar         // @name, @'name', @`name`
	tokSysVar          // @@name, @@session.name (start/end cover the name only)
	tokParam           // ?
	tokSemi            // ;
	tokLParen          // (
	tokRParen          // )
	tokComma           // ,
	tokDot             // .
	tokOp              // any other punctuation
)

// token is a half-open byte range of the input.
type token struct {
	kind       tokKind
	start, end int
}

// lexer splits SQL text into tokens without allocating. Comments are
// skipped; /*! and /*M! executable comments are read as code; hint comments
// set the hint flags.
type lexer struct {
	s      []byte
	i      int
	inExec bool  // inside an executable comment: its "*/" is skipped
	hints  Flags // FlagHintPrimary / FlagHintReplica seen in comments
	// noBackslash lexes strings as under sql_mode NO_BACKSLASH_ESCAPES.
	noBackslash bool
	// escQuote: a string contained a backslash before its quote character,
	// which ends the string under NO_BACKSLASH_ESCAPES.
	escQuote bool
	// sink, if set, is shown each token once, in text order, however often
	// save/restore look-ahead lexes it (see digestSink).
	sink *digestSink
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func isIdentByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '$' || c >= 0x80
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// skip moves past whitespace and comments.
func (l *lexer) skip() {
	for l.i < len(l.s) {
		c := l.s[l.i]
		switch {
		case isSpace(c):
			l.i++
		case c == '#':
			l.skipLine()
		case c == '-' && l.i+1 < len(l.s) && l.s[l.i+1] == '-' &&
			(l.i+2 == len(l.s) || isSpace(l.s[l.i+2]) || l.s[l.i+2] < ' '):
			l.skipLine()
		case c == '/' && l.i+1 < len(l.s) && l.s[l.i+1] == '*':
			l.blockComment()
		case c == '*' && l.inExec && l.i+1 < len(l.s) && l.s[l.i+1] == '/':
			l.inExec = false
			l.i += 2
		default:
			return
		}
	}
}

func (l *lexer) skipLine() {
	for l.i < len(l.s) && l.s[l.i] != '\n' {
		l.i++
	}
}

// blockComment handles "/*" at l.i: an executable comment opens code mode,
// any other comment is skipped (after looking for a routing hint).
func (l *lexer) blockComment() {
	j := l.i + 2
	if !l.inExec && j < len(l.s) && (l.s[j] == '!' || (l.s[j] == 'M' && j+1 < len(l.s) && l.s[j+1] == '!')) {
		if l.s[j] == 'M' {
			j++
		}
		j++
		for j < len(l.s) && isDigit(l.s[j]) {
			j++
		}
		l.inExec = true
		l.i = j
		return
	}
	end := len(l.s)
	for k := j; k+1 < len(l.s); k++ {
		if l.s[k] == '*' && l.s[k+1] == '/' {
			end = k
			break
		}
	}
	l.hints |= hintIn(l.s[j:end])
	l.i = end + 2
	if l.i > len(l.s) {
		l.i = len(l.s)
	}
}

// hintIn looks for "vigil:primary" or "vigil:replica" in a comment body.
func hintIn(b []byte) Flags {
	for k := 0; k+len("vigil:primary") <= len(b); k++ {
		if b[k] != 'v' && b[k] != 'V' {
			continue
		}
		if !hasFoldPrefix(b[k:], "vigil:") {
			continue
		}
		rest := b[k+len("vigil:"):]
		switch {
		case hasFoldPrefix(rest, "primary"):
			return FlagHintPrimary
		case hasFoldPrefix(rest, "replica"):
			return FlagHintReplica
		}
	}
	return 0
}

// mark is the part of a lexer's state that look-ahead changes.
type mark struct {
	i        int
	inExec   bool
	hints    Flags
	escQuote bool
}

// mark returns l's state for reset. (Saving and restoring the whole
// lexer through a pointer would make escape analysis move the sink to
// the heap.)
func (l *lexer) mark() mark { return mark{l.i, l.inExec, l.hints, l.escQuote} }

// reset returns l to the state of m.
func (l *lexer) reset(m mark) {
	l.i, l.inExec, l.hints, l.escQuote = m.i, m.inExec, m.hints, m.escQuote
}

// next returns the next token.
func (l *lexer) next() token {
	t := l.lex()
	if l.sink != nil {
		l.sink.feed(l, t)
	}
	return t
}

// lex reads the next token.
func (l *lexer) lex() token {
	l.skip()
	if l.i >= len(l.s) {
		return token{kind: tokEOF, start: l.i, end: l.i}
	}
	start := l.i
	c := l.s[l.i]
	switch {
	case c == '\'' || c == '"':
		l.quoted(c, !l.noBackslash)
		return token{tokString, start, l.i}
	case c == '`':
		l.quoted(c, false)
		return token{tokQuoted, start, l.i}
	case isDigit(c) || (c == '.' && l.i+1 < len(l.s) && isDigit(l.s[l.i+1])):
		l.number()
		return token{tokNumber, start, l.i}
	case isIdentByte(c):
		if (c == 'x' || c == 'X' || c == 'b' || c == 'B' || c == 'n' || c == 'N') && l.i+1 < len(l.s) && l.s[l.i+1] == '\'' {
			l.i++
			l.quoted('\'', true)
			return token{tokString, start, l.i}
		}
		for l.i < len(l.s) && isIdentByte(l.s[l.i]) {
			l.i++
		}
		return token{tokWord, start, l.i}
	case c == '@':
		return l.variable()
	}
	l.i++
	switch c {
	case '?':
		return token{tokParam, start, l.i}
	case ';':
		return token{tokSemi, start, l.i}
	case '(':
		return token{tokLParen, start, l.i}
	case ')':
		return token{tokRParen, start, l.i}
	case ',':
		return token{tokComma, start, l.i}
	case '.':
		return token{tokDot, start, l.i}
	}
	return token{tokOp, start, l.i}
}

// quoted consumes a quoted string or identifier starting at l.i. Doubled
// quotes stay inside; backslash escapes only in strings.
func (l *lexer) quoted(q byte, backslash bool) {
	l.i++
	for l.i < len(l.s) {
		c := l.s[l.i]
		switch {
		case backslash && c == '\\':
			if l.i+1 < len(l.s) && l.s[l.i+1] == q {
				l.escQuote = true
			}
			l.i += 2
		case c == q:
			if l.i+1 < len(l.s) && l.s[l.i+1] == q {
				l.i += 2
				continue
			}
			l.i++
			return
		default:
			l.i++
		}
	}
	l.i = len(l.s)
}

func (l *lexer) number() {
	if l.s[l.i] == '0' && l.i+1 < len(l.s) && (l.s[l.i+1] == 'x' || l.s[l.i+1] == 'X' || l.s[l.i+1] == 'b' || l.s[l.i+1] == 'B') {
		l.i += 2
	}
	for l.i < len(l.s) {
		c := l.s[l.i]
		switch {
		case isIdentByte(c) || c == '.':
			l.i++
		case (c == '+' || c == '-') && (l.s[l.i-1] == 'e' || l.s[l.i-1] == 'E'):
			l.i++
		default:
			return
		}
	}
}

// variable lexes @name, @'name', @`name`, @@name and @@scope.name.
func (l *lexer) variable() token {
	start := l.i
	l.i++
	if l.i < len(l.s) && l.s[l.i] == '@' {
		l.i++
		nameStart := l.i
		l.varName()
		return token{tokSysVar, nameStart, l.i}
	}
	if l.i < len(l.s) {
		switch c := l.s[l.i]; c {
		case '\'', '"':
			l.quoted(c, true)
		case '`':
			l.quoted(c, false)
		default:
			l.varName()
		}
	}
	return token{tokUserVar, start, l.i}
}

// varName consumes a variable name: identifier bytes, with dots only
// between them (@@session.sql_mode).
func (l *lexer) varName() {
	start := l.i
	for l.i < len(l.s) {
		c := l.s[l.i]
		if isIdentByte(c) || c == '.' && l.i > start && isIdentByte(l.s[l.i-1]) && l.i+1 < len(l.s) && isIdentByte(l.s[l.i+1]) {
			l.i++
			continue
		}
		return
	}
}

// hasFoldPrefix reports whether b starts with the ASCII string p, ignoring case.
func hasFoldPrefix(b []byte, p string) bool {
	if len(b) < len(p) {
		return false
	}
	for k := 0; k < len(p); k++ {
		if lower(b[k]) != lower(p[k]) {
			return false
		}
	}
	return true
}

// eqFold reports whether b equals the ASCII string p, ignoring case.
func eqFold(b []byte, p string) bool {
	return len(b) == len(p) && hasFoldPrefix(b, p)
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
