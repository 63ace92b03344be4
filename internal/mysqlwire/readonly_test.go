package mysqlwire

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

func TestTakeReadOnlyRefusal(t *testing.T) {
	errPkt := func(num uint16, msg string) []byte {
		e := &SQLError{Number: num, State: "HY000", Message: msg}
		return e.AppendERR(nil)
	}
	mariadb := errPkt(ErOptionPreventsStmt, "The MariaDB server is running with the --read-only option so it cannot execute this statement")
	mysql := errPkt(ErOptionPreventsStmt, "The MySQL server is running with the --super-read-only option so it cannot execute this statement")
	filePriv := errPkt(ErOptionPreventsStmt, "The MariaDB server is running with the --secure-file-priv option so it cannot execute this statement")
	dup := errPkt(1062, "Duplicate entry '1' for key 'PRIMARY' (read-only)")
	ok := okPayload(0, 2, capsDeprecate)
	cases := []struct {
		name  string
		first []byte
		take  bool
	}{
		{"mariadb read-only", mariadb, true},
		{"mysql super-read-only", mysql, true},
		{"1290 for another option", filePriv, false},
		{"another error", dup, false},
		{"ok", ok, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sent := stream(1, tc.first, []byte{0xfe, 0, 0, 2, 0})
			c := pipeWith(t, sent)
			if got := c.NextIsErr(); got != (tc.first[0] == 0xff) {
				t.Errorf("NextIsErr = %v for a packet starting %#x", got, tc.first[0])
			}
			if got := c.TakeReadOnlyRefusal(); got != tc.take {
				t.Fatalf("TakeReadOnlyRefusal = %v, want %v", got, tc.take)
			}
			want := sent
			if tc.take {
				want = sent[4+len(tc.first):] // the refusal is consumed, what follows is not
			}
			rest, err := io.ReadAll(c.br)
			if err != nil || !bytes.Equal(rest, want) {
				t.Errorf("left unread %x (%v), want %x", rest, err, want)
			}
		})
	}
	t.Run("server gone", func(t *testing.T) {
		c := pipeWith(t, nil)
		if c.TakeReadOnlyRefusal() {
			t.Error("a closed connection reported a refusal")
		}
	})
}

// pipeWith returns the client side of a connection whose server sends b
// and closes.
func pipeWith(t *testing.T, b []byte) *Conn {
	a, s := net.Pipe()
	t.Cleanup(func() { a.Close() })
	_ = a.SetDeadline(time.Now().Add(5 * time.Second))
	go func() {
		_, _ = s.Write(b)
		s.Close()
	}()
	return NewClientConn(a)
}
