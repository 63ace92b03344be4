package mysqlwire

import (
	"bufio"
	"errors"
)

// ErrWouldBlock is the error of a read on a connection in non-blocking mode
// (see Conn.Detach) when no data is queued.
var ErrWouldBlock = errors.New("operation would block")

// Detach prepares c for an event loop: it takes c's socket out of Go's
// network poller for good (see unpoll; waits outside the loop are then made
// with poll(2)) and returns its descriptor, which stays valid until c is
// closed. ok is false when c cannot be watched by a loop (TLS, not TCP,
// closed). Only c's owner may call it.
func (c *Conn) Detach() (fd int, ok bool) {
	rc, isRaw := c.nc.(*rawConn)
	if !isRaw || rc.unpoll() != nil {
		return -1, false
	}
	fs, isFile := rc.Conn.(*fileSock)
	if !isFile {
		return -1, false
	}
	_ = fs.frc.Control(func(d uintptr) { fd = int(d) })
	rc.fd = uintptr(fd)
	return fd, true
}

// SetNonblocking switches a detached connection between the event loop's
// mode (reads that would block fail with ErrWouldBlock, writes that would
// block are kept and sent by FlushPending) and the goroutine's (calls wait
// in poll(2); kept bytes are sent first). In the loop's mode the system
// calls use the descriptor directly: the caller must be the only one who
// closes c until it switches back.
func (c *Conn) SetNonblocking(on bool) {
	if rc, ok := c.nc.(*rawConn); ok && rc.fd != 0 {
		rc.nonblock = on
	}
}

// Fill reads once into c's read buffer, in non-blocking mode. drained
// reports that the socket had nothing more queued: an edge-triggered
// watcher may wait for the next event. A full buffer is bufio.ErrBufferFull.
func (c *Conn) Fill() (drained bool, err error) {
	br := c.br
	have := br.Buffered()
	if have == br.Size() {
		return false, bufio.ErrBufferFull
	}
	_, err = br.Peek(have + 1)
	rc, _ := c.nc.(*rawConn)
	drained = rc == nil || rc.drained
	return drained, err
}

// BufferedPacket reports whether c's read buffer holds a whole packet
// (one that ReadPacket returns without reading), and whether the next
// packet can ever fit in it.
func (c *Conn) BufferedPacket() (whole, fits bool) {
	br := c.br
	if br.Buffered() < 4 {
		return false, true
	}
	h, _ := br.Peek(4)
	n := int(h[0]) | int(h[1])<<8 | int(h[2])<<16
	if n >= MaxPayload || 4+n > br.Size() {
		return false, false
	}
	return br.Buffered() >= 4+n, true
}

// BufferFull reports whether c's read buffer can take no more bytes.
func (c *Conn) BufferFull() bool { return c.br.Buffered() == c.br.Size() }

// ScanBufferedResult runs ScanResult over c's read buffer.
func (c *Conn) ScanBufferedResult(serverCaps uint32, cacheMetadata bool) (ResultScan, int) {
	b, _ := c.br.Peek(c.br.Buffered())
	return ScanResult(b, serverCaps, cacheMetadata)
}

// Pending reports whether non-blocking writes kept bytes that are not sent
// yet.
func (c *Conn) Pending() bool {
	rc, ok := c.nc.(*rawConn)
	return ok && len(rc.spill) > 0
}

// FlushPending sends what non-blocking writes kept; ErrWouldBlock if some is
// still kept (wait until writable and call again).
func (c *Conn) FlushPending() error {
	if rc, ok := c.nc.(*rawConn); ok {
		return rc.flushSpill()
	}
	return nil
}

// BufferedSummary is what RelayWhole(n) would learn of the whole answer in
// the first n bytes of c's read buffer (status, warnings, error), without
// relaying it.
func (c *Conn) BufferedSummary(n int, serverCaps uint32, cacheMetadata bool) Summary {
	b, _ := c.br.Peek(n)
	w := wholeSummary{plain: true}
	scanResult(b, serverCaps, cacheMetadata, &w)
	return w.sum
}

// DiscardBuffered drops the first n bytes of c's read buffer (an answer
// that ScanBufferedResult found whole and nobody will read).
func (c *Conn) DiscardBuffered(n int) { _, _ = c.br.Discard(n) }

// Buffered returns how many bytes c's read buffer holds.
func (c *Conn) Buffered() int { return c.br.Buffered() }
