package router

import (
	"bytes"
	"testing"
)

func FuzzClassify(f *testing.F) {
	for _, c := range classifyCases {
		f.Add([]byte(c.sql))
	}
	f.Fuzz(func(t *testing.T, sql []byte) {
		st := Classify(sql)
		if st != Classify(sql) {
			t.Fatalf("Classify(%q) is not deterministic", sql)
		}
		if st.ReadOnly() {
			switch st.Kind {
			case KindSelect, KindShow, KindDescribe, KindHelp:
			default:
				t.Errorf("Classify(%q): read-only %v", sql, st.Kind)
			}
			if st.Flags&notReadOnly != 0 {
				t.Errorf("Classify(%q): read-only with flags %b", sql, st.Flags)
			}
		}
		// A write in front of anything is never a plain read.
		pre := append([]byte("DELETE FROM t WHERE a = 1;\n"), sql...)
		if Classify(pre).ReadOnly() {
			t.Errorf("Classify(%q) is read-only", pre)
		}
		// A locking clause after a complete read is always seen, unless the
		// text leaves a string, identifier or comment open.
		if st.ReadOnly() && st.Flags&FlagMulti == 0 && closed(sql) {
			lock := append(append([]byte(nil), sql...), []byte("\nFOR UPDATE")...)
			if Classify(lock).ReadOnly() {
				t.Errorf("Classify(%q) is read-only", lock)
			}
		}
	})
}

// closed reports whether sql ends outside any string, quoted identifier,
// comment or executable comment, with no ";" (checked by re-lexing).
func closed(sql []byte) bool {
	l := lexer{s: sql}
	for {
		t := l.next()
		switch t.kind {
		case tokEOF:
			return !l.inExec && !bytes.ContainsAny(sql, "'\"`#") && !bytes.Contains(sql, []byte("--")) && !bytes.Contains(sql, []byte("/*"))
		case tokSemi:
			return false
		}
	}
}

func FuzzNormalize(f *testing.F) {
	for _, c := range classifyCases {
		f.Add([]byte(c.sql))
	}
	f.Fuzz(func(t *testing.T, sql []byte) {
		buf := make([]byte, 0, 64)
		n, h := normalizeInto(buf, sql)
		if len(n) > MaxDigestLen {
			t.Fatalf("digest text of %q is %d bytes", sql, len(n))
		}
		n2, h2 := normalizeInto(nil, sql)
		if !bytes.Equal(n, n2) || h != h2 {
			t.Fatalf("normalizeInto(%q) not deterministic", sql)
		}
		if len(n) < MaxDigestLen-16 {
			if again := Normalize(n); again != string(n) {
				t.Errorf("Normalize not idempotent: %q -> %q -> %q", sql, n, again)
			}
		}
	})
}
