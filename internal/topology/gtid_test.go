package topology

import (
	"testing"
)

func TestParseGTIDPos(t *testing.T) {
	cases := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{in: "", want: ""},
		{in: "0-1-100", want: "0-1-100"},
		{in: "1-2-7, 0-1-100", want: "0-1-100,1-2-7"},
		{in: "0-1", wantErr: true},
		{in: "0-1-x", wantErr: true},
		{in: "0-1-2,0-1-3", wantErr: true},
		{in: "-1-2-3", wantErr: true},
	}
	for _, c := range cases {
		got, err := ParseGTIDPos(c.in)
		if (err != nil) != c.wantErr {
			t.Errorf("ParseGTIDPos(%q): got err %v, want error %v", c.in, err, c.wantErr)
			continue
		}
		if err == nil && got.String() != c.want {
			t.Errorf("ParseGTIDPos(%q) = %q, want %q", c.in, got.String(), c.want)
		}
	}
}

func TestGTIDPosCompare(t *testing.T) {
	cases := []struct {
		a, b     string
		contains bool
		cmp      int
	}{
		{"0-1-10", "0-1-10", true, 0},
		{"0-1-11", "0-1-10", true, 1},
		{"0-1-9", "0-1-10", false, -1},
		{"0-1-10,1-1-5", "0-1-10", true, 1},
		{"0-1-10", "0-1-10,1-1-5", false, -1},
		{"0-1-12,1-1-1", "0-1-10,1-1-5", false, 0},
		{"", "", true, 0},
		{"0-2-10", "", true, 1},
	}
	for _, c := range cases {
		a, b := mustPos(t, c.a), mustPos(t, c.b)
		if got := a.Contains(b); got != c.contains {
			t.Errorf("%q.Contains(%q) = %v, want %v", c.a, c.b, got, c.contains)
		}
		if got := a.Compare(b); got != c.cmp {
			t.Errorf("%q.Compare(%q) = %d, want %d", c.a, c.b, got, c.cmp)
		}
	}
}

func TestGTIDPosExtra(t *testing.T) {
	got := mustPos(t, "0-1-12,1-3-4,2-1-1").Extra(mustPos(t, "0-2-11,1-3-4"))
	want := []GTID{{0, 1, 12}, {2, 1, 1}}
	if len(got) != len(want) {
		t.Fatalf("Extra = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Extra[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}

func mustPos(t *testing.T, s string) GTIDPos {
	t.Helper()
	p, err := ParseGTIDPos(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func FuzzParseGTIDPos(f *testing.F) {
	for _, s := range []string{"", "0-1-100", "0-1-1,1-2-3", "0-1", "a-b-c", "4294967295-4294967295-18446744073709551615"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseGTIDPos(s)
		if err != nil {
			return
		}
		again, err := ParseGTIDPos(p.String())
		if err != nil {
			t.Fatalf("re-parse of %q (from %q): %v", p.String(), s, err)
		}
		if !again.Equal(p) || !p.Contains(p) || p.Compare(p) != 0 {
			t.Fatalf("round trip of %q changed it: %q", s, again.String())
		}
	})
}
