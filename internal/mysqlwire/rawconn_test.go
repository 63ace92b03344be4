package mysqlwire

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

func TestDirectConn(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	big := bytes.Repeat([]byte("0123456789"), 1<<20) // 10 MiB: partial writes and EAGAIN
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		d := Direct(c)
		_, _ = d.Write(big)
		buf := make([]byte, 3)
		_, _ = io.ReadFull(d, buf)
		_, _ = d.Write(buf)
		d.Close()
	}()
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := Direct(nc)
	defer c.Close()
	if _, ok := c.(*rawConn); !ok {
		t.Fatalf("Direct(%T) did not wrap a TCP connection", nc)
	}
	got := make([]byte, len(big))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("read %v", err)
	}
	if _, err := c.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	echo := make([]byte, 3)
	if _, err := io.ReadFull(c, echo); err != nil || string(echo) != "abc" {
		t.Fatalf("echo %q %v", echo, err)
	}
	if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("after the peer closed: %d, %v; want EOF", n, err)
	}
	_ = c.SetReadDeadline(time.Now().Add(-time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) && err != io.EOF {
		t.Errorf("read past the deadline: %v", err)
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if Direct(a) != a {
		t.Error("Direct wrapped a non-TCP connection")
	}
}
