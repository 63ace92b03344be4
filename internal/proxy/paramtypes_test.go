package proxy

import (
	"bytes"
	"testing"
)

// execHead is an EXECUTE's fixed part: command 0x17, statement id 7,
// flags, iteration count 1.
func execHead(flags byte) []byte {
	return []byte{0x17, 7, 0, 0, 0, flags, 1, 0, 0, 0}
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestAddParamTypes(t *testing.T) {
	long := []byte{0x08, 0x00}                      // MYSQL_TYPE_LONGLONG
	str := []byte{0xfd, 0x00}                       // MYSQL_TYPE_VAR_STRING
	ulong := []byte{0x03, 0x80}                     // MYSQL_TYPE_LONG, unsigned
	v42 := []byte{42, 0, 0, 0, 0, 0, 0, 0}          // 8-byte 42
	abc := []byte{3, 'a', 'b', 'c'}                 // lenenc "abc"
	nine := bytes.Repeat([]byte{0x03, 0x00}, 9)     // nine LONGs
	nineVals := bytes.Repeat([]byte{1, 0, 0, 0}, 8) // eight of them (one is NULL)
	cases := []struct {
		name   string
		params int
		types  []byte
		p      []byte
		want   []byte // nil: not rewritten
	}{
		{"one param", 1, long,
			cat(execHead(0), []byte{0x00, 0x00}, v42),
			cat(execHead(0), []byte{0x00, 0x01}, long, v42)},
		{"two params, cursor flag kept", 2, cat(long, str),
			cat(execHead(1), []byte{0x00, 0x00}, v42, abc),
			cat(execHead(1), []byte{0x00, 0x01}, long, str, v42, abc)},
		{"NULL parameter has no value", 2, cat(ulong, str),
			cat(execHead(0), []byte{0x01, 0x00}, abc),
			cat(execHead(0), []byte{0x01, 0x01}, ulong, str, abc)},
		{"nine params: two-byte NULL bitmap", 9, nine,
			cat(execHead(0), []byte{0x00, 0x01, 0x00}, nineVals),
			cat(execHead(0), []byte{0x00, 0x01, 0x01}, nine, nineVals)},
		{"all NULL: nothing after the flag", 1, long,
			cat(execHead(0), []byte{0x01, 0x00}),
			cat(execHead(0), []byte{0x01, 0x01}, long)},
		{"types already sent", 1, long,
			cat(execHead(0), []byte{0x00, 0x01}, long, v42), nil},
		{"no flag byte", 1, long, cat(execHead(0), []byte{0x00}), nil},
		{"header only", 1, long, execHead(0), nil},
		{"types of the wrong length", 2, long,
			cat(execHead(0), []byte{0x00, 0x00}, v42, v42), nil},
		{"no parameters", 0, nil, execHead(0), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			orig := bytes.Clone(tc.p)
			dst := []byte("scratch")
			got, ok := addParamTypes(dst[:0], tc.p, tc.params, tc.types)
			if !bytes.Equal(tc.p, orig) {
				t.Fatalf("input modified: %x, was %x", tc.p, orig)
			}
			if tc.want == nil {
				if ok || len(got) != 0 {
					t.Fatalf("rewrote to %x, want no rewrite", got)
				}
				return
			}
			if !ok || !bytes.Equal(got, tc.want) {
				t.Fatalf("got %x (ok=%v)\nwant %x", got, ok, tc.want)
			}
			if back, ok := paramTypes(got, tc.params); !ok || !bytes.Equal(back, tc.types) {
				t.Errorf("paramTypes of the result = %x (%v), want %x", back, ok, tc.types)
			}
		})
	}
}

func TestParamTypes(t *testing.T) {
	long := []byte{0x08, 0x00}
	cases := []struct {
		name   string
		params int
		p      []byte
		want   []byte // nil: none
	}{
		{"sent", 1, cat(execHead(0), []byte{0x00, 0x01}, long, make([]byte, 8)), long},
		{"not sent", 1, cat(execHead(0), []byte{0x00, 0x00}, make([]byte, 8)), nil},
		{"truncated types", 2, cat(execHead(0), []byte{0x00, 0x01}, long), nil},
		{"no flag", 1, cat(execHead(0), []byte{0x00}), nil},
		{"no parameters", 0, execHead(0), nil},
	}
	for _, tc := range cases {
		got, ok := paramTypes(tc.p, tc.params)
		if ok != (tc.want != nil) || !bytes.Equal(got, tc.want) {
			t.Errorf("%s: got %x (%v), want %x", tc.name, got, ok, tc.want)
		}
	}
}

// The rewrite reuses the scratch buffer: no allocation once it is big
// enough.
func TestAddParamTypesNoAlloc(t *testing.T) {
	types := []byte{0x08, 0x00, 0xfd, 0x00}
	p := cat(execHead(0), []byte{0x00, 0x00}, make([]byte, 8), []byte{3, 'a', 'b', 'c'})
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() {
		buf, _ = addParamTypes(buf[:0], p, 2, types)
	}); n != 0 {
		t.Errorf("%v allocations per rewrite, want 0", n)
	}
}

// FuzzAddParamTypes feeds client packets to the rewrite: it never panics,
// never touches its input, and a rewrite is the input with the flag set and
// exactly the types inserted after it.
func FuzzAddParamTypes(f *testing.F) {
	f.Add(cat(execHead(0), []byte{0x00, 0x00}, make([]byte, 8)), uint16(1), []byte{0x08, 0x00})
	f.Add(cat(execHead(0), []byte{0x00, 0x01, 0x00}), uint16(9), bytes.Repeat([]byte{3, 0}, 9))
	f.Add(execHead(0), uint16(0), []byte{})
	f.Fuzz(func(t *testing.T, p []byte, n uint16, types []byte) {
		params := int(n)
		orig := bytes.Clone(p)
		got, ok := addParamTypes(nil, p, params, types)
		if !bytes.Equal(p, orig) {
			t.Fatal("input modified")
		}
		if !ok {
			if got != nil {
				t.Fatalf("no rewrite but output %x", got)
			}
			return
		}
		off := boundFlagOffset(params)
		if len(got) != len(p)+2*params || !bytes.Equal(got[:off], p[:off]) || got[off] != 1 ||
			!bytes.Equal(got[off+1+2*params:], p[off+1:]) {
			t.Fatalf("bad rewrite of %x (params %d, types %x): %x", p, params, types, got)
		}
		if back, ok := paramTypes(got, params); !ok || !bytes.Equal(back, types) {
			t.Fatalf("types of the rewrite = %x (%v), want %x", back, ok, types)
		}
	})
}
