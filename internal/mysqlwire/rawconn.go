package mysqlwire

import (
	"io"
	"net"
	"os"
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
// as on the wrapped connection.
type rawConn struct {
	*net.TCPConn
	rc syscall.RawConn

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
	c := &rawConn{TCPConn: tc, rc: rc}
	c.readFn, c.writeFn, c.awaitFn = c.read, c.write, c.awaitRead
	return c
}

func (c *rawConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.rbuf, c.rn, c.rerrno = p, 0, 0
	err := c.rc.Read(c.readFn)
	n, errno := c.rn, c.rerrno
	c.rbuf = nil
	switch {
	case err != nil:
		return 0, err
	case errno != 0:
		return 0, &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.NewSyscallError("read", errno)}
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
			return false
		}
		c.rn, c.rerrno = int(r), e
		return true
	}
}

func (c *rawConn) Write(p []byte) (int, error) {
	if c.await {
		c.await = false
		return c.writeAwait(p)
	}
	c.wbuf, c.wn = p, 0
	defer func() { c.wbuf = nil }()
	for c.wn < len(p) {
		c.werrno = 0
		if err := c.rc.Write(c.writeFn); err != nil {
			return c.wn, err
		}
		if c.werrno != 0 {
			return c.wn, &net.OpError{Op: "write", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.NewSyscallError("write", c.werrno)}
		}
	}
	return c.wn, nil
}

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
		return n, &net.OpError{Op: "write", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.NewSyscallError("write", errno)}
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

// ReadFrom and WriteTo of *net.TCPConn would bypass the raw path (and
// splice); hide them so that io.Copy uses Read and Write.
func (c *rawConn) ReadFrom(r io.Reader) (int64, error) { return io.Copy(struct{ io.Writer }{c}, r) }
func (c *rawConn) WriteTo(w io.Writer) (int64, error)  { return io.Copy(w, struct{ io.Reader }{c}) }

// recv and send are recvfrom(2) and sendto(2) without an address: the
// socket calls skip the VFS layer of read(2) and write(2) (file
// permission and fsnotify hooks), as HAProxy's do; send does not raise
// SIGPIPE on a closed connection.
func recv(fd uintptr, p []byte) (uintptr, syscall.Errno) {
	r, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), 0, 0, 0)
	return r, e
}

func send(fd uintptr, p []byte) (uintptr, syscall.Errno) {
	r, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), syscall.MSG_NOSIGNAL, 0, 0)
	return r, e
}
