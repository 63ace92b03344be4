package proxy_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"vigil/internal/config"
	"vigil/internal/mysqlwire"
)

func TestAuthentication(t *testing.T) {
	h := newHarness(t, 0, func(c *config.Config) {
		u := c.Users[0]
		c.Users = append(c.Users,
			config.User{Name: "hashed", Password: mysqlwire.FormatNativeHash(mysqlwire.Stage2(mysqlwire.Stage1(u.Password))), MaxConnections: 2},
			config.User{Name: "ghost", Password: "nope"}) // not on the servers
	})
	app := h.app()
	h.admin("db1",
		fmt.Sprintf("CREATE USER hashed@'%%' IDENTIFIED BY '%s'", app.Password),
		fmt.Sprintf("CREATE USER hashed@localhost IDENTIFIED BY '%s'", app.Password),
		"GRANT ALL ON *.* TO hashed@'%'", "GRANT ALL ON *.* TO hashed@localhost")

	ping := func(dsn string) error {
		db, err := sql.Open("mysql", dsn)
		if err != nil {
			return err
		}
		defer db.Close()
		return db.Ping()
	}
	cases := []struct {
		name, user, pass, db string
	}{
		{"wrong password", app.User, "wrong", ""},
		{"empty password", app.User, "", ""},
		{"unknown user", "nobody", "x", ""},
		{"unknown schema", app.User, app.Password, "nosuchdb"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := ping(h.directDSN("db1", tc.user, tc.pass, tc.db, nil))
			got := ping(h.dsn(tc.user, tc.pass, tc.db, nil))
			if want == nil || got == nil || got.Error() != want.Error() {
				t.Errorf("through the proxy: %v\nwant (as the server): %v", got, want)
			}
		})
	}
	t.Run("hash-only user logs into the backend", func(t *testing.T) {
		db, err := sql.Open("mysql", h.dsn("hashed", app.Password, h.c.Database(), nil))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var user string
		if err := db.QueryRow("SELECT /* vigil:primary */ CURRENT_USER()").Scan(&user); err != nil {
			t.Fatal(err)
		}
		if user != "hashed@%" && user != "hashed@localhost" {
			t.Errorf("backend user = %q, want hashed", user)
		}
	})
	t.Run("user without backend account gets the server's error", func(t *testing.T) {
		err := ping(h.dsn("ghost", "nope", h.c.Database(), nil))
		if mysqlErrNo(err) != 1045 {
			t.Errorf("got %v, want 1045 from the backend", err)
		}
	})
	t.Run("per-user max_connections", func(t *testing.T) {
		var conns []*mysqlwire.ClientConn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		dial := func() (*mysqlwire.ClientConn, error) {
			return mysqlwire.Dial(context.Background(), mysqlwire.DialConfig{Addr: h.addr, User: "hashed", Password: app.Password})
		}
		tooMany := func(err error) bool {
			var se *mysqlwire.SQLError
			return errors.As(err, &se) && se.Number == mysqlwire.ErConCount
		}
		for i := range 3 {
			c, err := dial()
			// The subtest above closed its session just now; the proxy
			// releases its slot once it has seen the client go.
			for deadline := time.Now().Add(5 * time.Second); i < 2 && tooMany(err) && time.Now().Before(deadline); {
				time.Sleep(20 * time.Millisecond)
				c, err = dial()
			}
			if i < 2 {
				if err != nil {
					t.Fatalf("connection %d: %v", i, err)
				}
				conns = append(conns, c)
				continue
			}
			if !tooMany(err) {
				t.Fatalf("third connection: got %v, want error 1040", err)
			}
		}
	})
}

func TestKill(t *testing.T) {
	h := newHarness(t, 0, nil)
	dial := h.dialApp
	victim, killer := dial(), dial()
	done := make(chan error, 1)
	start := time.Now()
	go func() { _, err := victim.Query("SELECT /* vigil:primary */ SLEEP(20)"); done <- err }()
	time.Sleep(300 * time.Millisecond)
	if _, err := killer.Exec(fmt.Sprintf("KILL QUERY %d", victim.Greeting.ConnID)); err != nil {
		t.Fatalf("KILL QUERY: %v", err)
	}
	select {
	case <-done:
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("killed query took %v", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("KILL QUERY did not stop the statement")
	}
	if _, err := victim.Query("SELECT 1"); err != nil {
		t.Fatalf("session after KILL QUERY: %v", err)
	}
	// KILL QUERY of the id CONNECTION_ID() returned (a backend thread).
	rows, err := victim.Query("SELECT CONNECTION_ID()")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _, err := victim.Query("SELECT /* vigil:primary */ SLEEP(20)"); done <- err }()
	time.Sleep(300 * time.Millisecond)
	if _, err := killer.Exec("KILL QUERY " + rows[0][0].String); err != nil {
		t.Fatalf("KILL QUERY of the backend thread id: %v", err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("KILL QUERY of the backend thread id did not stop the statement")
	}
	if _, err := killer.Exec("KILL 999999"); err == nil {
		t.Error("KILL of an unknown id succeeded")
	} else if se := new(mysqlwire.SQLError); !errors.As(err, &se) || se.Number != mysqlwire.ErNoSuchThread {
		t.Errorf("KILL of an unknown id: got %v, want 1094", err)
	}
	if _, err := killer.Exec(fmt.Sprintf("KILL CONNECTION %d", victim.Greeting.ConnID)); err != nil {
		t.Fatalf("KILL CONNECTION: %v", err)
	}
	if _, err := victim.Query("SELECT 1"); err == nil {
		t.Error("killed connection still answers")
	}
}

func TestUnsupportedCommandAndPing(t *testing.T) {
	h := newHarness(t, 0, nil)
	app := h.app()
	c, err := mysqlwire.Dial(context.Background(), mysqlwire.DialConfig{Addr: h.addr, User: app.User, Password: app.Password})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, cmd := range [][]byte{{0x1d}, {0x12, 1, 2}, {0x99}} { // COM_DAEMON-ish, COM_BINLOG_DUMP-ish, garbage
		_, err := c.Command(cmd)
		se := new(mysqlwire.SQLError)
		if !errors.As(err, &se) || se.Number != mysqlwire.ErUnknownComError {
			t.Errorf("command 0x%02x: got %v, want error 1047", cmd[0], err)
		}
	}
	if _, err := c.Command([]byte{mysqlwire.ComPing}); err != nil {
		t.Errorf("COM_PING: %v", err)
	}
	if _, err := c.Command([]byte{mysqlwire.ComResetConnection}); err != nil {
		t.Errorf("COM_RESET_CONNECTION: %v", err)
	}
	if _, err := c.Command(append([]byte{mysqlwire.ComInitDB}, h.c.Database()...)); err != nil {
		t.Errorf("COM_INIT_DB: %v", err)
	}
	rows, err := c.Query("SELECT DATABASE()")
	if err != nil || len(rows) != 1 || rows[0][0].String != h.c.Database() {
		t.Errorf("schema after COM_INIT_DB: %v %v", rows, err)
	}
}

func TestTLS(t *testing.T) {
	h := newHarness(t, 0, func(c *config.Config) { c.Proxy.TLSSelfSigned = true })
	app := h.app()
	for _, mode := range []string{"skip-verify", "false"} {
		db, err := sql.Open("mysql", h.dsn(app.User, app.Password, h.c.Database(), func(c *mysql.Config) {
			c.TLSConfig = mode
		}))
		if err != nil {
			t.Fatal(err)
		}
		var v int
		if err := db.QueryRow("SELECT 1").Scan(&v); err != nil || v != 1 {
			t.Errorf("tls=%s: %v", mode, err)
		}
		db.Close()
	}
	out, err := cli(t, h.addr, app.User, app.Password, h.c.Database(), "--ssl", "--ssl-verify-server-cert=0", "-N", "-e", "SELECT 5")
	if err != nil || strings.TrimSpace(out) != "5" {
		t.Errorf("mariadb --ssl through the proxy: %v\n%s", err, out)
	}
}

func TestQueryTimeout(t *testing.T) {
	h := newHarness(t, 0, func(c *config.Config) { c.Proxy.QueryTimeout = 300 * time.Millisecond })
	db := h.appSession()
	start := time.Now()
	_, err := db.Exec("SELECT SLEEP(5)")
	if mysqlErrNo(err) != 1969 {
		t.Fatalf("statement over query_timeout: got %v, want error 1969", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("timed-out statement returned after %v", d)
	}
	var v int
	if err := db.QueryRow("SELECT 8").Scan(&v); err != nil || v != 8 {
		t.Errorf("session after a timeout: %v", err)
	}
	// The proxy kills the statement on the server (KILL QUERY as admin);
	// the server stops it within moments, well before SLEEP(5) would end.
	admin := h.open(h.c.AdminDSN("db1"))
	var n int
	var err2 error
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		err2 = admin.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT SLEEP(5)%'").Scan(&n)
		if (err2 == nil && n == 0) || time.Now().After(deadline) {
			break
		}
	}
	if err2 != nil || n != 0 {
		t.Errorf("timed-out statement still running on the server %v after it was sent: %d (%v)", time.Since(start), n, err2)
	}
}
