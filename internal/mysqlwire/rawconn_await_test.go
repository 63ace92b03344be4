package mysqlwire

import (
	"bytes"
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// TestWriteRequest checks the request path of Direct connections: answers
// that come at once, later, or never (read deadline), and requests larger
// than the write buffer.
func TestWriteRequest(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() { // echo server: answers each packet after the delay its first byte names (ms); 0xff: never
		nc, err := l.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		c := NewClientConn(nc)
		for {
			c.ResetSeq()
			p, err := c.ReadPacket()
			if err != nil {
				return
			}
			if p[0] == 0xff {
				continue
			}
			time.Sleep(time.Duration(p[0]) * time.Millisecond)
			if c.WritePacket(p) != nil || c.Flush() != nil {
				return
			}
		}
	}()
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := NewClientConn(Direct(nc))
	defer c.Close()
	big := bytes.Repeat([]byte{0}, 1<<20)
	for i, req := range [][]byte{{0, 1}, {2, 2}, {0, 3}, big, {1, 4}, {0, 5}} {
		if err := c.WriteRequest(req); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		got, err := c.ReadPacket()
		if err != nil || !bytes.Equal(got, req) {
			t.Fatalf("request %d: answer of %d bytes, %v; want the %d bytes sent", i, len(got), err, len(req))
		}
	}
	_ = c.NetConn().SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if err := c.WriteRequest([]byte{0xff}); err != nil {
		t.Fatalf("unanswered request: write error %v, want none", err)
	}
	if _, err := c.ReadPacket(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("unanswered request: read error %v, want a deadline error", err)
	}
}
