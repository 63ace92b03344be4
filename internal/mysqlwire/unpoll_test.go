package mysqlwire

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"testing"
	"time"
)

// unpolledPair returns a Direct connection taken out of Go's poller and
// its peer, an ordinary TCP connection.
func unpolledPair(t *testing.T) (*rawConn, net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	c := Direct(nc).(*rawConn)
	t.Cleanup(func() { c.Close() })
	if err := c.unpoll(); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Conn.(*fileSock); !ok {
		t.Fatalf("after unpoll: %T, want *fileSock", c.Conn)
	}
	return c, peer
}

// TestUnpolledIO: data in both directions (10 MiB: partial writes and
// waits in poll), addresses, EOF.
func TestUnpolledIO(t *testing.T) {
	c, peer := unpolledPair(t)
	if c.LocalAddr().String() != peer.RemoteAddr().String() || c.RemoteAddr().String() != peer.LocalAddr().String() {
		t.Errorf("addresses %v -> %v, peer %v -> %v", c.LocalAddr(), c.RemoteAddr(), peer.LocalAddr(), peer.RemoteAddr())
	}
	big := bytes.Repeat([]byte("0123456789"), 1<<20)
	go func() {
		got := make([]byte, len(big))
		if _, err := io.ReadFull(peer, got); err != nil || !bytes.Equal(got, big) {
			peer.Close()
			return
		}
		_, _ = peer.Write(big)
		peer.Close()
	}()
	if _, err := c.Write(big); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(big))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("read back: %v", err)
	}
	if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("after the peer closed: %d, %v; want EOF", n, err)
	}
}

// TestUnpolledDeadline: a read deadline ends a wait in poll(2), and a
// deadline already past fails at once.
func TestUnpolledDeadline(t *testing.T) {
	c, _ := unpolledPair(t)
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(150 * time.Millisecond))
	_, err := c.Read(make([]byte, 1))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v, want os.ErrDeadlineExceeded", err)
	}
	if d := time.Since(start); d < 140*time.Millisecond || d > 2*time.Second {
		t.Errorf("deadline of 150ms ended the read after %v", d)
	}
	_ = c.SetReadDeadline(time.Time{})
	_ = c.SetDeadline(time.Now().Add(-time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read with a past deadline: %v", err)
	}
}

// TestUnpolledCloseWakesRead: Close from another goroutine ends a read
// waiting in poll(2) at once; the descriptor is closed when it returns.
func TestUnpolledCloseWakesRead(t *testing.T) {
	c, _ := unpolledPair(t)
	link := "/proc/self/fd/" + strconv.Itoa(int(c.Conn.(*fileSock).f.Fd()))
	sock, err := os.Readlink(link)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("read on a closed connection succeeded")
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Close did not end a read waiting in poll")
	}
	if now, _ := os.Readlink(link); now == sock { // the number may be reused, not by the same socket
		t.Errorf("%s still open after Close", sock)
	}
	if err := c.unpoll(); err != nil {
		t.Errorf("unpoll of an unpolled, closed connection: %v (want nil: nothing to do)", err)
	}
}
