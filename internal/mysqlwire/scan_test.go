package mysqlwire

import (
	"bytes"
	"errors"
	"testing"
)

// scanCase is a server response to a COM_QUERY / COM_STMT_EXECUTE.
type scanCase struct {
	name  string
	caps  uint32
	cache bool // CacheMetadata
	resp  []byte
}

// scanValidCases are whole responses that Relay relays unchanged.
func scanValidCases() []scanCase {
	errPayload := func(code uint16) []byte { return Errorf(code, "42000", "an error").AppendERR(nil) }
	okD := func(hdr byte, st uint16) []byte { return okPayload(hdr, st, capsDeprecate) }
	st, more := StatusAutocommit, StatusAutocommit|StatusMoreResults
	bigOK := OK{AffectedRows: 1 << 40, InsertID: 70000, Status: st, Info: bytes.Repeat([]byte("i"), 300)}
	return []scanCase{
		{"OK", capsDeprecate, false, stream(1, okD(iOK, st))},
		{"OK with wide lenencs and info", capsEOF, false, stream(1, bigOK.AppendOK(nil, iOK, capsEOF))},
		{"ERR", capsDeprecate, false, stream(1, errPayload(1146))},
		{"OK with more results, then a result set", capsDeprecate, false, stream(1,
			okD(iOK, more), []byte{1}, colDef("a"), textRow("1"), okD(iEOF, st))},
		{"result set, deprecate EOF", capsDeprecate, false, stream(1,
			[]byte{2}, colDef("a"), colDef("b"), textRow("1", "x"), textRow("2", "y"), okD(iEOF, st|StatusInTrans))},
		{"result set, classic EOF", capsEOF, false, stream(1,
			[]byte{1}, colDef("a"), eofPayload(st), textRow("1"), []byte{0xfb}, eofPayload(st))},
		{"result set, no rows", capsEOF, false, stream(1, []byte{1}, colDef("a"), eofPayload(st), eofPayload(st))},
		{"empty row", capsDeprecate, false, stream(1,
			[]byte{1}, colDef("a"), textRow("1"), textRow(), textRow("2"), okD(iEOF, st))},
		{"empty row, classic EOF", capsEOF, false, stream(1,
			[]byte{1}, colDef("a"), eofPayload(st), textRow(), eofPayload(st))},
		{"metadata follows, deprecate EOF", capsDeprecate, true, stream(1,
			[]byte{2, 1}, colDef("id"), colDef("c"), textRow("1", "a"), okD(iEOF, st))},
		{"metadata cached, deprecate EOF", capsDeprecate, true, stream(1, []byte{2, 0}, textRow("1", "a"), okD(iEOF, st))},
		{"metadata follows, classic EOF", capsEOF, true, stream(1,
			[]byte{2, 1}, colDef("id"), colDef("c"), eofPayload(st), textRow("1", "a"), eofPayload(st))},
		{"metadata cached, classic EOF", capsEOF, true, stream(1, []byte{2, 0}, eofPayload(st), textRow("1", "a"), eofPayload(st))},
		{"cursor opened", capsEOF, false, stream(1, []byte{1}, colDef("a"), eofPayload(st|StatusCursorExists))},
		{"cursor opened, more results", capsEOF, false, stream(1,
			[]byte{1}, colDef("a"), eofPayload(more|StatusCursorExists), okPayload(iOK, st, capsEOF))},
		{"ERR mid-rows", capsDeprecate, false, stream(1, []byte{1}, colDef("a"), textRow("1"), errPayload(1317))},
		{"ERR mid-rows, classic EOF", capsEOF, false, stream(1,
			[]byte{1}, colDef("a"), eofPayload(st), textRow("1"), errPayload(1317))},
		{"two result sets then OK, deprecate EOF", capsDeprecate, false, stream(1,
			[]byte{1}, colDef("a"), textRow("1"), okD(iEOF, more),
			[]byte{2}, colDef("a"), colDef("b"), textRow("1", "2"), okD(iEOF, more),
			okD(iOK, st))},
		{"two result sets, classic EOF", capsEOF, false, stream(1,
			[]byte{1}, colDef("a"), eofPayload(st), textRow("1"), eofPayload(more),
			[]byte{1}, colDef("b"), eofPayload(st), textRow("2"), eofPayload(st))},
		{"multi results ending in an error", capsDeprecate, false, stream(1,
			okD(iOK, more), []byte{1}, colDef("a"), textRow("1"), okD(iEOF, more), errPayload(1064))},
		{"300 columns", capsDeprecate, false, stream(1, append([][]byte{appendLenenc(nil, 300)}, manyColDefs(300)...)...)},
	}
}

// manyColDefs returns n column definitions, a row and a terminator as
// payloads (to follow a column count of n).
func manyColDefs(n int) [][]byte {
	var ps [][]byte
	vals := make([]string, n)
	for i := range n {
		ps = append(ps, colDef("c"))
		vals[i] = "v"
	}
	return append(ps, textRow(vals...), okPayload(iEOF, StatusAutocommit, capsDeprecate))
}

// TestScanResultWholeResponses: every strict prefix of a valid response is
// ScanIncomplete, the whole response is ScanComplete with its length, also
// with bytes after it, and Relay consumes exactly that many bytes.
func TestScanResultWholeResponses(t *testing.T) {
	garbage := stream(9, []byte{1}, okPayload(iOK, StatusAutocommit, capsDeprecate), []byte{0xfb, 'x'})
	for _, c := range scanValidCases() {
		t.Run(c.name, func(t *testing.T) {
			for k := range len(c.resp) {
				if r, n := ScanResult(c.resp[:k], c.caps, c.cache); r != ScanIncomplete || n != 0 {
					t.Fatalf("prefix of %d/%d bytes: (%d, %d), want ScanIncomplete", k, len(c.resp), r, n)
				}
			}
			if r, n := ScanResult(c.resp, c.caps, c.cache); r != ScanComplete || n != len(c.resp) {
				t.Fatalf("whole response: (%d, %d), want (ScanComplete, %d)", r, n, len(c.resp))
			}
			withTail := append(append([]byte(nil), c.resp...), garbage...)
			for k := len(c.resp); k <= len(withTail); k++ {
				if r, n := ScanResult(withTail[:k], c.caps, c.cache); r != ScanComplete || n != len(c.resp) {
					t.Fatalf("response + %d more bytes: (%d, %d), want (ScanComplete, %d)", k-len(c.resp), r, n, len(c.resp))
				}
			}
			got, _, err := runRelayWith(t, withTail, RespResult, Relay{ServerCaps: c.caps, ClientCaps: c.caps, CacheMetadata: c.cache})
			if err != nil {
				t.Fatalf("relay: %v", err)
			}
			if !bytes.Equal(got, c.resp) {
				t.Errorf("Relay sent the client %d bytes, ScanResult said %d", len(got), len(c.resp))
			}
		})
	}
}

// TestScanResultStream: responses Relay must handle while reading. Prefixes
// are ScanIncomplete until the packet that decides, ScanStream from then on.
func TestScanResultStream(t *testing.T) {
	maxHdr := []byte{0xff, 0xff, 0xff, 2}
	infile := append([]byte{iLocalInfile}, "/tmp/x.csv"...)
	more := StatusAutocommit | StatusMoreResults
	cases := []struct {
		scanCase
		decideAt  int  // the shortest prefix that is ScanStream
		malformed bool // Relay fails with ErrMalformed
	}{
		{scanCase{"LOCAL INFILE request", capsDeprecate, false, stream(1, infile)}, 4 + len(infile), false},
		{scanCase{"LOCAL INFILE after an OK", capsDeprecate, false,
			stream(1, okPayload(iOK, more, capsDeprecate), infile)}, 11 + 4 + len(infile), false},
		{scanCase{"MaxPayload first packet", capsDeprecate, false, append(maxHdr, 0, 1, 2)}, 4, false},
		{scanCase{"MaxPayload column definition", capsDeprecate, false,
			append(stream(1, []byte{1}), maxHdr...)}, 9, false},
		{scanCase{"MaxPayload row", capsDeprecate, false,
			append(stream(1, []byte{1}, colDef("a")), append(maxHdr, 0xfe, 'x')...)}, 5 + 4 + len(colDef("a")) + 4, false},
		{scanCase{"empty first packet", capsDeprecate, false, stream(1, nil)}, 4, true},
		{scanCase{"short OK", capsDeprecate, false, stream(1, []byte{iOK, 0, 0, 2})}, 8, true},
		{scanCase{"column count 0xfc truncated", capsDeprecate, false, stream(1, []byte{0xfc, 1})}, 6, true},
		{scanCase{"column count over 65536", capsDeprecate, false, stream(1, []byte{0xfd, 1, 0, 1})}, 8, true},
		{scanCase{"no metadata flag", capsDeprecate, true, stream(1, []byte{1}, colDef("a"))}, 5, true},
		{scanCase{"ERR instead of EOF after columns", capsEOF, false,
			stream(1, []byte{1}, colDef("a"), Errorf(1, "HY000", "x").AppendERR(nil))}, -1, true},
		{scanCase{"short EOF terminator", capsEOF, false,
			stream(1, []byte{1}, colDef("a"), eofPayload(0), []byte{iEOF, 0})}, -1, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			decideAt := c.decideAt
			if decideAt < 0 {
				decideAt = len(c.resp)
			}
			for k := 0; k <= len(c.resp); k++ {
				want := ScanIncomplete
				if k >= decideAt {
					want = ScanStream
				}
				if r, n := ScanResult(c.resp[:k], c.caps, c.cache); r != want || n != 0 {
					t.Fatalf("prefix of %d/%d bytes: (%d, %d), want (%d, 0)", k, len(c.resp), r, n, want)
				}
			}
			if c.malformed {
				_, _, err := runRelayWith(t, c.resp, RespResult, Relay{ServerCaps: c.caps, ClientCaps: c.caps, CacheMetadata: c.cache})
				if !errors.Is(err, ErrMalformed) {
					t.Errorf("relay: %v, want ErrMalformed", err)
				}
			}
		})
	}
}

func pointSelectResponse() []byte {
	return stream(1, []byte{1}, colDef("c"), textRow("hello"),
		okPayload(iEOF, StatusAutocommit, capsDeprecate))
}

func TestScanResultDoesNotAllocate(t *testing.T) {
	cases := scanValidCases()
	allocs := testing.AllocsPerRun(100, func() {
		for _, c := range cases {
			if r, _ := ScanResult(c.resp, c.caps, c.cache); r != ScanComplete {
				t.Fatalf("%s: %d", c.name, r)
			}
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per run, want 0", allocs)
	}
}

func BenchmarkScanResultPointSelect(b *testing.B) {
	resp := pointSelectResponse()
	b.ReportAllocs()
	for b.Loop() {
		if r, n := ScanResult(resp, capsDeprecate, false); r != ScanComplete || n != len(resp) {
			b.Fatalf("(%d, %d)", r, n)
		}
	}
}
