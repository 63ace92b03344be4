package router

import "strings"

// MaxDigestLen caps the normalised text kept per digest.
const MaxDigestLen = 2048

// Normalize returns the digest text of sql: comments dropped, literals
// replaced by ?, lists of literals collapsed to (...), whitespace folded.
func Normalize(sql []byte) string {
	b, _ := normalizeInto(nil, sql)
	return string(b)
}

// Digest returns the 64-bit FNV-1a hash of sql's digest text: the key of
// the statistics table.
func Digest(sql []byte) uint64 {
	_, h := normalizeInto(make([]byte, 0, 256), sql)
	return h
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// normalizeInto appends the digest text of sql to dst (reusing its
// storage, so a session's buffer makes this allocation-free) and returns it
// with its hash.
func normalizeInto(dst, sql []byte) ([]byte, uint64) {
	l := lexer{s: sql}
	var prev token
	for {
		t := l.next()
		if t.kind == tokEOF || len(dst) >= MaxDigestLen {
			break
		}
		if t.kind == tokLParen && literalList(&l) {
			dst = appendSep(dst, sql, prev, t)
			dst = append(dst, "(...)"...)
			skipLiteralLists(&l)
			prev = token{kind: tokRParen}
			continue
		}
		dst = appendSep(dst, sql, prev, t)
		switch t.kind {
		case tokString, tokNumber, tokParam:
			dst = append(dst, '?')
		case tokSysVar:
			dst = append(dst, "@@"...)
			dst = append(dst, sql[t.start:t.end]...)
		default:
			dst = append(dst, sql[t.start:t.end]...)
		}
		prev = t
	}
	return finishDigest(dst)
}

// finishDigest cuts digest text to MaxDigestLen and hashes it.
func finishDigest(dst []byte) ([]byte, uint64) {
	if len(dst) > MaxDigestLen {
		dst = dst[:MaxDigestLen]
	}
	h := uint64(fnvOffset)
	for _, c := range dst {
		h ^= uint64(c)
		h *= fnvPrime
	}
	return dst, h
}

// appendSep adds one space between tokens where SQL needs or shows one.
// prev's bytes are in sql.
func appendSep(dst, sql []byte, prev, t token) []byte {
	if len(dst) == 0 {
		return dst
	}
	switch prev.kind {
	case tokLParen, tokDot:
		return dst
	}
	switch t.kind {
	case tokRParen, tokComma, tokDot, tokSemi:
		return dst
	case tokLParen:
		if prev.kind == tokWord && !spacedBeforeParen(sql[prev.start:prev.end]) {
			return dst // a function call: f(
		}
	}
	return append(dst, ' ')
}

// spacedBeforeParen reports keywords that a "(" follows as an operand, not
// as a call: IN (...), VALUES (...), AS (SELECT ...).
func spacedBeforeParen(w []byte) bool {
	for _, k := range [...]string{"IN", "VALUES", "VALUE", "AS", "ON", "USING", "EXISTS", "AND", "OR",
		"NOT", "FROM", "JOIN", "WHERE", "SELECT", "INTO", "UNION", "ALL", "ANY", "SOME", "SET"} {
		if eqFold(w, k) {
			return true
		}
	}
	return false
}

// literalList reports whether the tokens after "(" (not consumed) are
// literals separated by commas up to ")".
func literalList(l *lexer) bool {
	save := *l
	defer func() { *l = save }()
	n := 0
	for {
		t := l.next()
		switch t.kind {
		case tokString, tokNumber, tokParam:
			n++
		case tokWord:
			if !eqFold(l.s[t.start:t.end], "NULL") {
				return false
			}
			n++
		case tokOp:
			if l.s[t.start] != '-' && l.s[t.start] != '+' {
				return false
			}
		case tokComma:
		case tokRParen:
			return n > 0
		default:
			return false
		}
	}
}

// skipLiteralLists consumes a literal list up to its ")" and any following
// ", (literals)" groups (multi-row VALUES).
func skipLiteralLists(l *lexer) {
	for {
		for t := l.next(); t.kind != tokRParen && t.kind != tokEOF; t = l.next() {
		}
		save := *l
		if t := l.next(); t.kind == tokComma {
			if t2 := l.next(); t2.kind == tokLParen && literalList(l) {
				continue
			}
		}
		*l = save
		return
	}
}

// tableNames returns the lower-cased table names (last name component) of
// a CREATE TEMPORARY TABLE or DROP [TEMPORARY] TABLE(S) statement.
func tableNames(sql []byte) []string {
	l := lexer{s: sql}
	t := l.next()
	for ; t.kind != tokEOF; t = l.next() {
		if w := sql[t.start:t.end]; t.kind == tokWord && (eqFold(w, "TABLE") || eqFold(w, "TABLES")) {
			break
		}
	}
	var names []string
	for {
		t = l.next()
		for t.kind == tokWord && isIfExists(sql[t.start:t.end]) {
			t = l.next()
		}
		if t.kind != tokWord && t.kind != tokQuoted {
			return names
		}
		name := identName(sql[t.start:t.end])
		t = l.next()
		for t.kind == tokDot {
			if t = l.next(); t.kind != tokWord && t.kind != tokQuoted {
				break
			}
			name = identName(sql[t.start:t.end])
			t = l.next()
		}
		names = append(names, name)
		if t.kind != tokComma {
			return names
		}
	}
}

// useName returns the schema of a USE statement (case kept: schema names
// may be case sensitive).
func useName(sql []byte) []string {
	l := lexer{s: sql}
	if t := l.next(); t.kind != tokWord || !eqFold(sql[t.start:t.end], "USE") {
		return nil
	}
	t := l.next()
	if t.kind != tokWord && t.kind != tokQuoted {
		return nil
	}
	name := string(sql[t.start:t.end])
	if t.kind == tokQuoted {
		name = strings.ReplaceAll(name[1:len(name)-1], "``", "`")
	}
	return []string{name}
}

func isIfExists(w []byte) bool {
	return eqFold(w, "IF") || eqFold(w, "NOT") || eqFold(w, "EXISTS")
}

func identName(w []byte) string {
	s := string(w)
	if len(s) >= 2 && s[0] == '`' {
		s = strings.ReplaceAll(s[1:len(s)-1], "``", "`")
	}
	return strings.ToLower(s)
}
