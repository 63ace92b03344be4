package mysqlwire

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"unsafe"
)

// rawConn is a TCP connection whose reads and writes are made with raw
// system calls from inside the poller's callbacks (syscall.RawConn), so
// that the goroutine keeps its P during the call. A loopback write takes
// 10-20 µs in the kernel (it delivers to and wakes the peer); made through
// the ordinary path, the runtime's sysmon hands the P to another thread
// during such calls, and the futex and scheduler churn that follows costs
// the proxy about as much CPU as the I/O itself. Deadlines and Close work
// as on the wrapped connection: a *net.TCPConn, or the fileSock that
// unpoll puts in its place.
//
// In non-blocking mode (an event loop owns the connection: see
// Conn.Detach) a read that would block fails with ErrWouldBlock and a
// write that would block keeps the rest of its bytes in spill, which the
// loop sends when the socket is writable (FlushPending).
type rawConn struct {
	net.Conn
	rc syscall.RawConn

	// mu orders Close (any goroutine) and unpoll (the owner's swap of
	// Conn and rc).
	mu     sync.Mutex
	closed bool

	// nonblock is set by the owner between calls, and only while it is
	// also the only one who may close the connection (an event loop: see
	// Conn.Detach): calls then use fd directly, without the descriptor
	// lock that keeps a concurrent Close from freeing the number.
	nonblock bool
	fd       uintptr // the descriptor, once detached
	drained  bool    // the last read returned less than asked: nothing more was queued
	spill    []byte  // non-blocking mode: bytes written but not yet sent

	// Per-direction state of the call in progress, and the callbacks bound
	// once to it (a closure per call would cost two allocations per read
	// and per write). The poller serialises reads and writes separately,
	// so a Read may run concurrently with a Write.
	rbuf   []byte
	rn     int
	rerrno syscall.Errno
	readFn func(uintptr) bool

	wbuf    []byte
	wn      int
	werrno  syscall.Errno
	writeFn func(uintptr) bool

	// await makes the next Write a request: see writeAwait.
	await   bool
	armed   bool
	awaitFn func(uintptr) bool
}

// Direct wraps a TCP connection for the raw I/O path; other connections
// are returned unchanged.
func Direct(nc net.Conn) net.Conn {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return nc
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nc
	}
	c := &rawConn{Conn: tc, rc: rc}
	c.readFn, c.writeFn, c.awaitFn = c.read, c.write, c.awaitRead
	return c
}

// Close closes the connection (from any goroutine).
func (c *rawConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return c.Conn.Close()
}

func (c *rawConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.rbuf, c.rn, c.rerrno = p, 0, 0
	var err error
	if c.nonblock {
		c.read(c.fd)
	} else {
		err = c.rc.Read(c.readFn)
	}
	n, errno := c.rn, c.rerrno
	c.rbuf = nil
	c.drained = n < len(p)
	switch {
	case err != nil:
		return 0, err
	case errno == syscall.EAGAIN:
		return 0, ErrWouldBlock
	case errno != 0:
		return 0, c.ioError("read", errno)
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// read is the poller callback of Read: false asks to wait for readability.
func (c *rawConn) read(fd uintptr) bool {
	p := c.rbuf
	for {
		r, e := recv(fd, p)
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			if !c.nonblock {
				return false
			}
		}
		c.rn, c.rerrno = int(r), e
		return true
	}
}

func (c *rawConn) Write(p []byte) (int, error) {
	if c.nonblock {
		c.await = false
		return c.writeNonblocking(p)
	}
	if len(c.spill) > 0 { // left by non-blocking mode: it goes first
		if err := c.flushSpill(); err != nil {
			return 0, err
		}
	}
	if c.await {
		c.await = false
		return c.writeAwait(p)
	}
	return c.writeAll(p)
}

func (c *rawConn) writeAll(p []byte) (int, error) {
	c.wbuf, c.wn = p, 0
	defer func() { c.wbuf = nil }()
	for c.wn < len(p) {
		c.werrno = 0
		if c.nonblock {
			c.write(c.fd)
		} else if err := c.rc.Write(c.writeFn); err != nil {
			return c.wn, err
		}
		if c.werrno == syscall.EAGAIN {
			return c.wn, ErrWouldBlock
		}
		if c.werrno != 0 {
			return c.wn, c.ioError("write", c.werrno)
		}
	}
	return c.wn, nil
}

// writeNonblocking sends what the socket takes now and keeps the rest in
// spill (after bytes already kept there, which go first).
func (c *rawConn) writeNonblocking(p []byte) (int, error) {
	if len(c.spill) > 0 {
		c.spill = append(c.spill, p...)
		return len(p), nil
	}
	n, err := c.writeAll(p)
	if err == ErrWouldBlock {
		c.spill = append(c.spill, p[n:]...)
		return len(p), nil
	}
	return n, err
}

// flushSpill sends bytes kept by non-blocking writes; ErrWouldBlock if
// some are still kept.
func (c *rawConn) flushSpill() error {
	if len(c.spill) == 0 {
		return nil
	}
	n, err := c.writeAll(c.spill)
	if err != nil && err != ErrWouldBlock {
		return err
	}
	rest := copy(c.spill, c.spill[n:])
	c.spill = c.spill[:rest]
	if rest > 0 {
		return ErrWouldBlock
	}
	if cap(c.spill) > maxKeptSpill {
		c.spill = nil
	}
	return nil
}

// maxKeptSpill bounds the spill buffer a connection keeps between uses.
const maxKeptSpill = 64 << 10

// write is the poller callback of Write: one write(2) of what is left;
// false asks to wait for writability.
func (c *rawConn) write(fd uintptr) bool {
	p := c.wbuf[c.wn:]
	for {
		r, e := send(fd, p)
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			if c.nonblock {
				c.werrno = e
				return true
			}
			return false
		case 0:
			c.wn += int(r)
		default:
			c.werrno = e
		}
		return true
	}
}

// awaitReply(true) makes the next Write a request whose answer the caller
// reads next (Conn.WriteRequest); awaitReply(false) cancels it.
func (c *rawConn) awaitReply(on bool) { c.await = on }

// writeAwait writes a request p and then waits until the connection is
// readable, without the read attempt that would almost always fail with
// EAGAIN (the server cannot have answered yet): one system call and one
// wasted poller round less per statement. The write is made from inside the
// poller's read callback, after the poller reset the connection's
// readiness, so an answer that arrives during or after the write is not
// missed. An error of the wait itself (deadline, close) is left to the next
// Read, which reports it; a write that would block is finished by the
// ordinary path.
func (c *rawConn) writeAwait(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.wbuf, c.wn, c.werrno, c.armed = p, 0, 0, false
	_ = c.rc.Read(c.awaitFn)
	n, errno := c.wn, c.werrno
	c.wbuf = nil
	if errno != 0 {
		return n, c.ioError("write", errno)
	}
	if n < len(p) {
		m, err := c.Write(p[n:])
		return n + m, err
	}
	return n, nil
}

// awaitRead is the poller callback of writeAwait: on the first call it
// writes the request and returns false (wait for readability); on the next
// one the connection is readable (or the wake-up was spurious, which the
// next Read handles).
func (c *rawConn) awaitRead(fd uintptr) bool {
	if c.armed {
		return true
	}
	c.armed = true
	p := c.wbuf
	for c.wn < len(p) {
		r, e := send(fd, p[c.wn:])
		switch {
		case e == syscall.EINTR:
			continue
		case e == syscall.EAGAIN || (e == 0 && r == 0):
			return true // finished by the ordinary path
		case e != 0:
			c.werrno = e
			return true
		}
		c.wn += int(r)
	}
	return false
}

// ioError is the error of a failed read or write.
func (c *rawConn) ioError(op string, errno syscall.Errno) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.NewSyscallError(op, errno)}
}

// recv and send are recvfrom(2) and sendto(2) without an address: the
// socket calls skip the VFS layer of read(2) and write(2) (file
// permission and fsnotify hooks), as HAProxy's do; send does not raise
// SIGPIPE on a closed connection. Both never block (MSG_DONTWAIT: a
// fileSock's descriptor is in blocking mode), as raw system calls must
// not.
func recv(fd uintptr, p []byte) (uintptr, syscall.Errno) {
	r, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), syscall.MSG_DONTWAIT, 0, 0)
	return r, e
}

func send(fd uintptr, p []byte) (uintptr, syscall.Errno) {
	r, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), syscall.MSG_DONTWAIT|syscall.MSG_NOSIGNAL, 0, 0)
	return r, e
}
