package mysqlwire

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// DefaultMaxPacket is the default limit on a reassembled logical packet
// (MariaDB's default max_allowed_packet is 16 MiB; 64 MiB leaves room).
const DefaultMaxPacket = 64 << 20

// writerPool holds the client-side write buffers. A client connection
// takes one only while it is answering a command, so idle sessions hold no
// write buffer.
var writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 16<<10) }}

// Conn is one end of a MySQL protocol connection. It frames packets and
// tracks the sequence number. A Conn built by NewServerConn (the proxy's
// front end) has a small read buffer and borrows a pooled write buffer only
// while writing, so that idle client sessions cost little memory; a Conn
// built by NewClientConn (the proxy's back end) owns buffers in both
// directions for the streaming relay.
//
// A Conn is owned by one goroutine; only Close and SetDeadline may be called
// from others.
type Conn struct {
	nc     net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer // front end: borrowed from writerPool, nil when idle
	pooled bool          // bw comes from writerPool
	tls    bool          // upgraded to TLS (ServerHandshake, or Dial on the client side)
	seq    byte
	hdr    [4]byte // read side
	whdr   [4]byte // write side (a local array would escape through bufio)
	buf    []byte  // reassembly buffer for ReadPacket
	// MaxPacket bounds ReadPacket's reassembled payload.
	MaxPacket int
}

// serverReadBuffer is the read buffer of a front-end connection: big enough
// that a typical command arrives with its header in one read system call,
// small enough that 10,000 idle sessions cost little. Longer payloads are
// read straight into the packet buffer.
const serverReadBuffer = 1024

// NewServerConn wraps the connection of a client that Vigil serves.
func NewServerConn(nc net.Conn) *Conn {
	return &Conn{nc: nc, br: bufio.NewReaderSize(nc, serverReadBuffer), pooled: true, MaxPacket: DefaultMaxPacket}
}

// NewClientConn wraps a connection Vigil made to a server.
func NewClientConn(nc net.Conn) *Conn {
	return &Conn{
		nc:        nc,
		br:        bufio.NewReaderSize(nc, 32<<10),
		bw:        bufio.NewWriterSize(nc, 8<<10),
		MaxPacket: DefaultMaxPacket,
	}
}

// NetConn returns the underlying connection.
func (c *Conn) NetConn() net.Conn { return c.nc }

// Close closes the underlying connection and releases a borrowed buffer.
func (c *Conn) Close() error { return c.nc.Close() }

// SetDeadline sets the read and write deadline of the underlying connection.
func (c *Conn) SetDeadline(t time.Time) error { return c.nc.SetDeadline(t) }

// ResetSeq starts a new command: the next packet written or read has
// sequence number 0.
func (c *Conn) ResetSeq() { c.seq = 0 }

// Seq returns the sequence number of the next packet.
func (c *Conn) Seq() byte { return c.seq }

// SetSeq sets the sequence number of the next packet.
func (c *Conn) SetSeq(s byte) { c.seq = s }

func (c *Conn) writer() *bufio.Writer {
	if c.bw == nil {
		c.bw = writerPool.Get().(*bufio.Writer)
		c.bw.Reset(c.nc)
	}
	return c.bw
}

// readHeader reads one packet header and checks its sequence number.
func (c *Conn) readHeader() (int, error) {
	if _, err := io.ReadFull(c.br, c.hdr[:]); err != nil {
		return 0, err
	}
	n := int(c.hdr[0]) | int(c.hdr[1])<<8 | int(c.hdr[2])<<16
	if c.hdr[3] != c.seq {
		return 0, fmt.Errorf("packet sequence %d, want %d: %w", c.hdr[3], c.seq, ErrMalformed)
	}
	c.seq++
	return n, nil
}

// ReadPacket reads one logical packet, reassembling continuation packets.
// The returned slice is valid until the next ReadPacket.
func (c *Conn) ReadPacket() ([]byte, error) {
	c.buf = c.buf[:0]
	for {
		n, err := c.readHeader()
		if err != nil {
			return nil, err
		}
		if len(c.buf)+n > c.MaxPacket {
			return nil, fmt.Errorf("packet larger than %d bytes: %w", c.MaxPacket, ErrPacketTooLarge)
		}
		start := len(c.buf)
		c.buf = grow(c.buf, n)
		if _, err := io.ReadFull(c.br, c.buf[start:]); err != nil {
			return nil, err
		}
		if n < MaxPayload {
			return c.buf, nil
		}
	}
}

// ShrinkBuffer drops a reassembly buffer grown past 64 KiB by a large packet,
// so that a session does not keep it.
func (c *Conn) ShrinkBuffer() {
	if cap(c.buf) > 64<<10 {
		c.buf = nil
	}
}

// ErrPacketTooLarge is returned for a packet over Conn.MaxPacket.
var ErrPacketTooLarge = fmt.Errorf("packet too large")

func grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b[:len(b)+n]
	}
	nb := make([]byte, len(b)+n, max(2*cap(b), len(b)+n, 256))
	copy(nb, b)
	return nb
}

// WritePacket buffers payload as one logical packet, splitting it into
// continuation packets as needed. Call Flush to send.
func (c *Conn) WritePacket(payload []byte) error {
	w := c.writer()
	for {
		n := min(len(payload), MaxPayload)
		c.whdr = [4]byte{byte(n), byte(n >> 8), byte(n >> 16), c.seq}
		c.seq++
		if _, err := w.Write(c.whdr[:]); err != nil {
			return err
		}
		if _, err := w.Write(payload[:n]); err != nil {
			return err
		}
		payload = payload[n:]
		if n < MaxPayload {
			return nil
		}
	}
}

// Flush sends buffered packets. On the front end it also returns the write
// buffer to the pool.
func (c *Conn) Flush() error {
	if c.bw == nil {
		return nil
	}
	err := c.bw.Flush()
	if c.pooled && err == nil {
		c.bw.Reset(nil)
		writerPool.Put(c.bw)
		c.bw = nil
	}
	return err
}

// awaiter is a connection that can wait for the answer to a request without
// trying a read first (the raw I/O path, Direct).
type awaiter interface{ awaitReply(bool) }

// WriteRequest is WriteCommand for a command that the server answers and
// whose answer the caller reads next (never COM_QUIT, COM_STMT_CLOSE or
// COM_STMT_SEND_LONG_DATA): on a Direct connection it then waits for the
// answer without a read attempt that would fail with EAGAIN.
func (c *Conn) WriteRequest(payload []byte) error {
	c.ResetSeq()
	if err := c.WritePacket(payload); err != nil {
		return err
	}
	a, ok := c.nc.(awaiter)
	if !ok || c.pooled || c.bw.Buffered() != 4+len(payload) {
		return c.Flush()
	}
	a.awaitReply(true) // Flush writes the whole request in one Write
	err := c.Flush()
	a.awaitReply(false) // in case Flush failed before writing
	return err
}

// WriteError writes e as an ERR packet and flushes.
func (c *Conn) WriteError(e *SQLError) error {
	if err := c.WritePacket(e.AppendERR(make([]byte, 0, 16+len(e.Message)))); err != nil {
		return err
	}
	return c.Flush()
}

// WriteOK writes an OK packet with the given status and flushes.
func (c *Conn) WriteOK(caps uint32, ok OK) error {
	if err := c.WritePacket(ok.AppendOK(make([]byte, 0, 16), iOK, caps)); err != nil {
		return err
	}
	return c.Flush()
}
