package sandbox

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMyCnfHasTheProductionSettings(t *testing.T) {
	n := newNode("/tmp/sb", 2, 3308)
	for _, semi := range []bool{false, true} {
		cnf := n.myCnf(semi)
		want := []string{
			"server-id = 2", "port = 3308", "bind-address = 127.0.0.1", "log-bin = db2-bin",
			"log-slave-updates = ON", "binlog-format = ROW", "gtid-strict-mode = ON", "read-only = ON",
			"skip-name-resolve = ON", "slave-net-timeout = 4", "max-allowed-packet = 256M",
			"character-set-server = utf8mb4", "collation-server = utf8mb4_unicode_ci",
		}
		if semi {
			want = append(want, "rpl-semi-sync-slave-enabled = ON", "rpl-semi-sync-master-wait-point = AFTER_SYNC",
				"rpl-semi-sync-master-enabled = OFF")
		}
		for _, w := range want {
			if !strings.Contains(cnf, w+"\n") {
				t.Errorf("semisync=%v: my.cnf lacks %q:\n%s", semi, w, cnf)
			}
		}
		if !strings.Contains(cnf, "last_gtid") {
			t.Errorf("semisync=%v: session_track_system_variables lacks last_gtid", semi)
		}
		if strings.Index(cnf, "log-basename") > strings.Index(cnf, "log-error") {
			t.Error("log-basename must come before log-error (it resets log paths)")
		}
	}
}

func TestSocketPathStaysShort(t *testing.T) {
	cases := []struct{ dir, wantPrefix string }{
		{"/tmp/sb", "/tmp/sb/db1/"},
		{"/tmp/" + strings.Repeat("x", 120), "/tmp/vigil-"},
	}
	for _, c := range cases {
		got := socketPath(c.dir, "db1")
		if !strings.HasPrefix(got, c.wantPrefix) || len(got) > 107 {
			t.Errorf("socketPath(%q) = %q (%d bytes), want prefix %q and <= 107 bytes", c.dir, got, len(got), c.wantPrefix)
		}
		if again := socketPath(c.dir, "db1"); again != got {
			t.Errorf("socketPath is not deterministic: %q then %q", got, again)
		}
	}
}

func TestRedactHidesPasswords(t *testing.T) {
	cases := []struct{ in, want string }{
		{"CREATE USER 'a'@'%' IDENTIFIED BY 'secret'", "CREATE USER 'a'@'%' IDENTIFIED ..."},
		{"CHANGE MASTER TO MASTER_USER='r', MASTER_PASSWORD='secret', MASTER_USE_GTID=slave_pos", "CHANGE MASTER TO MASTER_USER='r', MASTER_PASSWORD ..."},
		{"START SLAVE", "START SLAVE"},
	}
	for _, c := range cases {
		if got := redact(c.in); got != c.want {
			t.Errorf("redact(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestTail(t *testing.T) {
	cases := []struct {
		in   string
		n    int
		want string
	}{
		{"a\nb\n\nc\n", 2, "b | c"},
		{"", 3, ""},
		{"  one  \n", 5, "one"},
	}
	for _, c := range cases {
		if got := tail(c.in, c.n); got != c.want {
			t.Errorf("tail(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	cases := map[string]Options{
		"no dir":          {},
		"too many":        {Dir: "x", Replicas: 10},
		"negative port":   {Dir: "x", BasePort: -1},
		"port overflow":   {Dir: "x", BasePort: 65535, Replicas: 2},
		"quote in user":   {Dir: "x", AppUser: "a'b"},
		"backslash in pw": {Dir: "x", AppPassword: `a\b`},
	}
	for name, o := range cases {
		o.setDefaults()
		if err := o.Validate(); err == nil {
			t.Errorf("%s: got nil error, want one", name)
		}
	}
	ok := Options{Dir: "x", Replicas: 2, BasePort: 3307}
	ok.setDefaults()
	if err := ok.Validate(); err != nil {
		t.Errorf("valid options: %v", err)
	}
}

func FuzzTail(f *testing.F) {
	f.Add("a\nb\nc", 2)
	f.Fuzz(func(t *testing.T, s string, n int) {
		if n < 0 || n > 100 {
			return
		}
		got := tail(s, n)
		if strings.ContainsAny(got, "\n") || (n == 0 && got != "") {
			t.Errorf("tail(%q, %d) = %q, want one line of at most %d joined lines", s, n, got, n)
		}
	})
}

func TestCopyFileKeepsContentAndSize(t *testing.T) {
	dir := t.TempDir()
	cases := map[string][]byte{
		"empty":         nil,
		"small":         []byte("hello"),
		"zeros":         make([]byte, 200<<10),
		"trailing data": append(make([]byte, 130<<10), 'x'),
		"leading data":  append([]byte("x"), make([]byte, 100<<10)...),
	}
	for name, data := range cases {
		src, dst := filepath.Join(dir, name+".src"), filepath.Join(dir, name+".dst")
		if err := os.WriteFile(src, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := copyFile(src, dst); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := os.ReadFile(dst)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s: copy has %d bytes (err %v), want the %d source bytes", name, len(got), err, len(data))
		}
	}
}
