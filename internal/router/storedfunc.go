package router

import "strings"

// storedFuncs is the immutable set of stored function names (lower case,
// without schema) a read must not call to run on a replica.
type storedFuncs map[string]struct{}

// maxFuncName bounds the bytes of a function name looked up (64 characters
// of up to 4 bytes); a longer word cannot name a stored function.
const maxFuncName = 256

// SetStoredFunctions replaces the set of stored function names (with or
// without a "schema." prefix, any case). From then on a read that calls
// one (name followed by "(", schema-qualified or not) runs on the primary:
// the function may write, which a replica refuses. Empty or nil: no
// statement is checked. Safe for concurrent use; the proxy calls it with
// the names it reads from the primary.
func (r *Router) SetStoredFunctions(names []string) {
	if len(names) == 0 {
		r.funcs.Store(nil)
		return
	}
	set := make(storedFuncs, len(names))
	for _, n := range names {
		if i := strings.LastIndexByte(n, '.'); i >= 0 {
			n = n[i+1:]
		}
		if n == "" || len(n) > maxFuncName {
			continue
		}
		set[lowerASCII(n)] = struct{}{}
	}
	r.funcs.Store(&set)
}

// StoredFunctions returns how many names the stored function set holds.
func (r *Router) StoredFunctions() int {
	if p := r.funcs.Load(); p != nil {
		return len(*p)
	}
	return 0
}

// callsStored reports whether sql calls a function in the router's stored
// function set. Without a set it does nothing. It never allocates.
func (r *Router) callsStored(sql []byte) bool {
	return callsStoredIn(r.funcs.Load(), sql)
}

// callsStoredIn reports whether sql calls a function of set p (nil: no
// set, false).
func callsStoredIn(p *storedFuncs, sql []byte) bool {
	if p == nil {
		return false
	}
	l := lexer{s: sql}
	if p.called(&l) {
		return true
	}
	if l.escQuote {
		// Under NO_BACKSLASH_ESCAPES the text after such a quote is code.
		l = lexer{s: sql, noBackslash: true}
		return p.called(&l)
	}
	return false
}

// called scans l for a word or `quoted` identifier followed by "(" that
// names a function of the set. Strings and comments are skipped by the
// lexer; a schema-qualified call (db.f() has the bare name before "(".
func (f storedFuncs) called(l *lexer) bool {
	var prev token
	for {
		t := l.next()
		switch t.kind {
		case tokEOF:
			return false
		case tokLParen:
			if f.has(l.s, prev) {
				return true
			}
		}
		prev = t
	}
}

// has reports whether token t of s is a name in the set.
func (f storedFuncs) has(s []byte, t token) bool {
	var w []byte
	switch t.kind {
	case tokWord:
		w = s[t.start:t.end]
	case tokQuoted:
		if t.end-t.start < 2 || s[t.end-1] != '`' {
			return false
		}
		w = s[t.start+1 : t.end-1]
	default:
		return false
	}
	if len(w) == 0 || len(w) > maxFuncName {
		return false
	}
	var buf [maxFuncName]byte
	for i, c := range w {
		buf[i] = lower(c)
	}
	_, ok := f[string(buf[:len(w)])]
	return ok
}

// lowerASCII lower-cases the ASCII letters of s, as lower does per byte.
func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		b[i] = lower(c)
	}
	return string(b)
}
