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
		{"\t\r\n Kill 4", killRequest{id: 4}, true},
		{"", killRequest{}, false},
		{"   ", killRequest{}, false},
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

func TestGrantAllowsKill(t *testing.T) {
	cases := []struct {
		grant string
		want  bool
	}{
		{"GRANT ALL PRIVILEGES ON *.* TO `app`@`%` IDENTIFIED BY PASSWORD '*X'", true},
		{"GRANT CONNECTION ADMIN ON *.* TO `a`@`localhost`", true},
		{"GRANT SELECT, SUPER, PROCESS ON *.* TO `b`@`%`", true},
		{"GRANT CONNECTION_ADMIN ON *.* TO `m`@`%`", true}, // MySQL 8 dynamic privilege
		{"GRANT SUPER ON *.* TO `killer`", true},           // an enabled role's grants
		{"GRANT USAGE ON *.* TO `plain`@`%`", false},
		{"GRANT PROCESS, RELOAD ON *.* TO `p`@`%`", false},
		{"GRANT ALL PRIVILEGES ON `db`.* TO `d`@`%`", false}, // not global
		{"GRANT SELECT ON `super`.`t` TO `s`@`%`", false},
		{"GRANT `killer` TO `c`@`localhost`", false}, // a role grant, not a privilege
		{"GRANT PROXY ON ''@'%' TO `x`@`%`", false},
		{"SET DEFAULT ROLE `outer_r` FOR `c`@`localhost`", false},
	}
	for _, tc := range cases {
		if got := grantAllowsKill(tc.grant); got != tc.want {
			t.Errorf("grantAllowsKill(%q) = %v, want %v", tc.grant, got, tc.want)
		}
	}
}
