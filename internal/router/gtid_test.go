package router

import "testing"

func TestPositionCovers(t *testing.T) {
	const u1 = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
	const u2 = "4e11fa47-71ca-11e1-9e33-c80aa9429562"
	tests := []struct {
		flavor, have, need string
		want               bool
	}{
		{"mariadb", "0-1-100", "0-1-100", true},
		{"mariadb", "0-1-100", "0-1-99", true},
		{"mariadb", "0-1-100", "0-1-101", false},
		{"mariadb", "0-2-100", "0-1-50", true}, // seq is per domain, across servers
		{"mariadb", "0-1-100,1-2-5", "1-2-5", true},
		{"mariadb", "0-1-100,1-2-5", "1-2-6", false},
		{"mariadb", "0-1-100", "1-1-1", false},
		{"mariadb", "", "0-1-1", false},
		{"mariadb", "0-1-1", "", true},
		{"mariadb", "0-1-5, 1-1-7", "0-1-5,1-1-7", true},
		{"mysql", u1 + ":1-100", u1 + ":100", true},
		{"mysql", u1 + ":1-100", u1 + ":101", false},
		{"mysql", u1 + ":1-50:60-100", u1 + ":55", false},
		{"mysql", u1 + ":1-50:60-100", u1 + ":60", true},
		{"mysql", u1 + ":1-100,\n" + u2 + ":1-5", u2 + ":5", true},
		{"mysql", u1 + ":1-100", u2 + ":1", false},
	}
	for _, tt := range tests {
		have, err := ParsePosition(tt.flavor, tt.have)
		if err != nil {
			t.Fatalf("ParsePosition(%q): %v", tt.have, err)
		}
		need, err := ParsePosition(tt.flavor, tt.need)
		if err != nil {
			t.Fatalf("ParsePosition(%q): %v", tt.need, err)
		}
		if got := have.Covers(need); got != tt.want {
			t.Errorf("%s %q covers %q = %v, want %v", tt.flavor, tt.have, tt.need, got, tt.want)
		}
	}
}

func TestParsePositionErrors(t *testing.T) {
	for _, c := range []struct{ flavor, s string }{
		{"mariadb", "0-1"}, {"mariadb", "a-b-c"}, {"mariadb", "0-1-2-3"}, {"mariadb", "99999999999-1-1"},
		{"mariadb", "0-1-1,"}, {"mysql", "abc:1"}, {"mysql", "3e11fa47-71ca-11e1-9e33-c80aa9429562"},
		{"mysql", "3e11fa47-71ca-11e1-9e33-c80aa9429562:5-3"},
	} {
		if _, err := ParsePosition(c.flavor, c.s); err == nil {
			t.Errorf("ParsePosition(%s, %q): no error", c.flavor, c.s)
		}
	}
}

func TestPositionMergeAndString(t *testing.T) {
	a, _ := ParsePosition("mariadb", "0-1-10,1-1-3")
	b, _ := ParsePosition("mariadb", "0-2-12,2-1-1")
	m := a.Merge(b)
	if got, want := m.String(), "0-2-12,1-1-3,2-1-1"; got != want {
		t.Errorf("Merge = %q, want %q", got, want)
	}
	if a.String() != "0-1-10,1-1-3" {
		t.Errorf("Merge modified its receiver: %q", a.String())
	}
	const u = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
	p, _ := ParsePosition("mysql", u+":1-7")
	if got, want := p.String(), u+":7"; got != want {
		t.Errorf("mysql String = %q, want %q", got, want)
	}
}

func FuzzParsePosition(f *testing.F) {
	for _, s := range []string{"0-1-100", "0-1-100,1-2-5", "", "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, flavor := range []string{"mariadb", "mysql"} {
			p, err := ParsePosition(flavor, s)
			if err != nil {
				continue
			}
			if !p.Covers(p) {
				t.Errorf("%s %q does not cover itself", flavor, s)
			}
			if flavor == "mariadb" {
				q, err := ParsePosition(flavor, p.String())
				if err != nil || q.String() != p.String() {
					t.Errorf("round trip %q -> %q -> %q (%v)", s, p.String(), q.String(), err)
				}
			}
		}
	})
}
