package mysqlwire

import (
	"bytes"
	"testing"
	"time"
)

// detachedPair returns a server-side Conn detached for an event loop, in
// non-blocking mode, and its peer.
func detachedPair(t *testing.T) (*Conn, *rawConn, func() []byte, func([]byte)) {
	t.Helper()
	rc, peer := unpolledPair(t)
	c := NewServerConn(rc)
	if fd, ok := c.Detach(); !ok || fd <= 0 {
		t.Fatalf("Detach: %d, %v", fd, ok)
	}
	c.SetNonblocking(true)
	read := func() []byte {
		_ = peer.SetReadDeadline(time.Now().Add(5 * time.Second))
		b := make([]byte, 1<<16)
		n, err := peer.Read(b)
		if err != nil {
			t.Fatalf("peer read: %v", err)
		}
		return b[:n]
	}
	write := func(b []byte) {
		if _, err := peer.Write(b); err != nil {
			t.Fatalf("peer write: %v", err)
		}
	}
	return c, rc, read, write
}

// TestNonblockingRead: Fill fails with ErrWouldBlock when nothing is
// queued, reads what is, and BufferedPacket sees whole and partial
// packets; a packet larger than the buffer does not fit.
func TestNonblockingRead(t *testing.T) {
	c, _, _, write := detachedPair(t)
	if drained, err := c.Fill(); err != ErrWouldBlock || !drained {
		t.Fatalf("Fill on an empty socket: %v, %v; want ErrWouldBlock, drained", drained, err)
	}
	query := pkt(0, append([]byte{ComQuery}, "SELECT 1"...))
	write(query[:6])
	waitFill(t, c)
	if whole, fits := c.BufferedPacket(); whole || !fits {
		t.Errorf("half a packet: whole %v fits %v", whole, fits)
	}
	write(query[6:])
	waitFill(t, c)
	if whole, fits := c.BufferedPacket(); !whole || !fits {
		t.Fatalf("a whole packet: whole %v fits %v", whole, fits)
	}
	p, err := c.ReadPacket()
	if err != nil || string(p[1:]) != "SELECT 1" {
		t.Fatalf("ReadPacket: %q, %v", p, err)
	}
	write([]byte{0, 0x10, 0, 0}) // 4 KiB announced: more than the 1 KiB buffer
	waitFill(t, c)
	if _, fits := c.BufferedPacket(); fits {
		t.Error("a 4 KiB packet fits a 1 KiB buffer")
	}
}

// waitFill fills c once data has arrived.
func waitFill(t *testing.T, c *Conn) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if _, err := c.Fill(); err == nil {
			return
		} else if err != ErrWouldBlock {
			t.Fatalf("Fill: %v", err)
		}
	}
	t.Fatal("no data arrived")
}

// TestNonblockingWriteKeepsTheRest: a write larger than the socket takes
// returns at once; the rest is kept and sent by FlushPending, in order and
// whole, once the peer reads.
func TestNonblockingWriteKeepsTheRest(t *testing.T) {
	c, rc, read, _ := detachedPair(t)
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<19) // 8 MiB
	done := make(chan struct{})
	go func() {
		defer close(done)
		if n, err := rc.Write(big); n != len(big) || err != nil {
			t.Errorf("non-blocking Write: %d, %v", n, err)
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a non-blocking write blocked")
	}
	if !c.Pending() {
		t.Fatal("8 MiB to a peer that does not read: nothing pending")
	}
	if _, err := rc.Write([]byte("tail")); err != nil { // queued behind the rest
		t.Fatal(err)
	}
	var got []byte
	want := append(append([]byte(nil), big...), "tail"...)
	for len(got) < len(want) {
		got = append(got, read()...)
		if err := c.FlushPending(); err != nil && err != ErrWouldBlock {
			t.Fatalf("FlushPending: %v", err)
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("peer got %d bytes, not the %d written in order", len(got), len(want))
	}
	if c.Pending() {
		t.Error("pending after everything was read")
	}
}

// TestBlockingModeAfterLoop: back in blocking mode a read waits for data
// (in poll) instead of failing.
func TestBlockingModeAfterLoop(t *testing.T) {
	c, _, _, write := detachedPair(t)
	c.SetNonblocking(false)
	go func() {
		time.Sleep(50 * time.Millisecond)
		write(pkt(0, []byte{ComPing}))
	}()
	p, err := c.ReadPacket()
	if err != nil || len(p) != 1 || p[0] != ComPing {
		t.Fatalf("blocking ReadPacket: %v, %v", p, err)
	}
}
