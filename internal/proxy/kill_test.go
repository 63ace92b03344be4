package proxy

import "testing"

func TestParseKill(t *testing.T) {
	cases := []struct {
		sql  string
		want killRequest
		ok   bool
	}{
		{"KILL 12", killRequest{id: 12}, true},
		{"  kill connection 7;", killRequest{id: 7}, true},
		{"KILL QUERY 9", killRequest{id: 9, query: true}, true},
		{"kill hard query 3 ;", killRequest{id: 3, query: true}, true},
		{"KILL USER bob", killRequest{}, false},
		{"KILL QUERY ID 5", killRequest{}, false},
		{"KILL 99999999999", killRequest{}, false},
		{"SELECT 1", killRequest{}, false},
		{"killx 1", killRequest{}, false},
		{"KILL", killRequest{}, false},
	}
	for _, tc := range cases {
		got, ok := parseKill([]byte(tc.sql))
		if ok != tc.ok || got != tc.want {
			t.Errorf("parseKill(%q) = %+v, %v; want %+v, %v", tc.sql, got, ok, tc.want, tc.ok)
		}
	}
	sel := []byte("SELECT c FROM sbtest1 WHERE id=1")
	if n := testing.AllocsPerRun(100, func() { parseKill(sel) }); n != 0 {
		t.Errorf("parseKill of a non-KILL statement allocates %v times", n)
	}
}

func FuzzParseKill(f *testing.F) {
	f.Add([]byte("KILL QUERY 12"))
	f.Fuzz(func(t *testing.T, sql []byte) { parseKill(sql) })
}
