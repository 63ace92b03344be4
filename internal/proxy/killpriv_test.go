package proxy_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"vigil/internal/config"
	"vigil/internal/mysqlwire"
)

// TestKillOtherUsers checks that KILL of another user's session follows the
// server's rule: allowed with CONNECTION ADMIN (directly or through an
// enabled role), error 1095 without it.
func TestKillOtherUsers(t *testing.T) {
	var pass string
	h := newHarness(t, 0, func(c *config.Config) {
		c.Proxy.HoldTimeout = time.Second
		pass = c.Users[0].Password
		for _, u := range []string{"connadmin", "viarole", "plain"} {
			c.Users = append(c.Users, config.User{Name: u, Password: pass})
		}
	})
	var stmts []string
	for _, host := range []string{"%", "localhost"} {
		for _, u := range []string{"connadmin", "viarole", "plain"} {
			stmts = append(stmts, fmt.Sprintf("CREATE USER %s@'%s' IDENTIFIED BY '%s'", u, host, pass))
		}
		stmts = append(stmts,
			fmt.Sprintf("GRANT CONNECTION ADMIN ON *.* TO connadmin@'%s'", host),
			fmt.Sprintf("GRANT killers TO viarole@'%s'", host),
			fmt.Sprintf("SET DEFAULT ROLE killers FOR viarole@'%s'", host))
	}
	h.admin("db1", append([]string{"CREATE ROLE killers", "GRANT CONNECTION ADMIN ON *.* TO killers"}, stmts...)...)
	processes := h.open(h.c.AdminDSN("db1"))

	dial := func(user string) *mysqlwire.ClientConn {
		t.Helper()
		c, err := mysqlwire.Dial(context.Background(), mysqlwire.DialConfig{Addr: h.addr, User: user, Password: pass})
		if err != nil {
			t.Fatalf("login as %s: %v", user, err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// sleep starts SELECT SLEEP(30) on c and returns once the server runs it.
	sleep := func(c *mysqlwire.ClientConn) <-chan error {
		t.Helper()
		done := make(chan error, 1)
		go func() { _, err := c.Query("SELECT /* vigil:primary */ SLEEP(30)"); done <- err }()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			var n int
			err := processes.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT /* vigil:primary */ SLEEP(30)'").Scan(&n)
			if err == nil && n > 0 {
				return done
			}
			if time.Now().After(deadline) {
				t.Fatalf("the victim's SLEEP does not show on the server: %v", err)
			}
		}
	}
	wait := func(what string, done <-chan error) error {
		t.Helper()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatalf("%s did not stop the victim's statement", what)
			return nil
		}
	}
	errNo := func(err error) uint16 {
		if se := new(mysqlwire.SQLError); errors.As(err, &se) {
			return se.Number
		}
		return 0
	}

	app := h.app()
	victim := dial(app.User)
	connadmin, viarole, plain := dial("connadmin"), dial("viarole"), dial("plain")
	id := strconv.FormatUint(uint64(victim.Greeting.ConnID), 10)
	rows, err := victim.Query("SELECT /* vigil:primary */ CONNECTION_ID()")
	if err != nil {
		t.Fatal(err)
	}
	thread := rows[0][0].String

	t.Run("unprivileged user gets 1095", func(t *testing.T) {
		for _, q := range []string{"KILL QUERY " + id, "KILL " + id, "KILL QUERY " + thread} {
			if _, err := plain.Exec(q); errNo(err) != 1095 {
				t.Errorf("%s as an unprivileged user: got %v, want error 1095", q, err)
			}
		}
		if _, err := victim.Query("SELECT 1"); err != nil {
			t.Errorf("victim after refused KILLs: %v", err)
		}
	})
	t.Run("no primary for the privilege check: an error, the session goes on", func(t *testing.T) {
		h.publish("")
		_, err := connadmin.Exec("KILL QUERY " + id)
		h.publish("db1")
		if errNo(err) != mysqlwire.ErUnknownError {
			t.Errorf("KILL QUERY without a primary: got %v, want error 1105 (no writable primary)", err)
		}
		if _, err := connadmin.Query("SELECT 1"); err != nil {
			t.Errorf("killer after the failed check: %v", err)
		}
	})
	t.Run("KILL QUERY with CONNECTION ADMIN", func(t *testing.T) {
		for _, k := range []struct {
			killer *mysqlwire.ClientConn
			name   string
			stmt   string
		}{
			{connadmin, "connadmin, proxy id", "KILL QUERY " + id},
			{connadmin, "connadmin, backend thread id", "KILL QUERY " + thread},
			{viarole, "role holder, proxy id", "KILL QUERY " + id},
		} {
			done := sleep(victim)
			start := time.Now()
			if _, err := k.killer.Exec(k.stmt); err != nil {
				t.Fatalf("%s: %s: %v", k.name, k.stmt, err)
			}
			if err := wait(k.stmt, done); errNo(err) != mysqlwire.ErQueryInterrupted {
				t.Errorf("%s: victim's statement: got %v, want error 1317", k.name, err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("%s: the killed statement took %v", k.name, d)
			}
			if _, err := victim.Query("SELECT 1"); err != nil {
				t.Fatalf("%s: victim after KILL QUERY: %v", k.name, err)
			}
		}
	})
	t.Run("KILL CONNECTION with CONNECTION ADMIN", func(t *testing.T) {
		done := sleep(victim)
		if _, err := connadmin.Exec("KILL CONNECTION " + id); err != nil {
			t.Fatalf("KILL CONNECTION: %v", err)
		}
		if err := wait("KILL CONNECTION", done); err == nil {
			t.Error("the victim's statement succeeded after KILL CONNECTION")
		}
		if _, err := victim.Query("SELECT 1"); err == nil {
			t.Error("killed connection still answers")
		}
		if _, err := connadmin.Query("SELECT 1"); err != nil {
			t.Errorf("killer after KILL CONNECTION: %v", err)
		}
	})
}
