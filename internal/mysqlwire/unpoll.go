package mysqlwire

import (
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// unpoll takes c's socket out of Go's network poller for good: it swaps
// c's TCP connection for a fileSock on a duplicate of its descriptor.
// Waits that no Waiter takes over are then made with poll(2) on the
// calling thread. It does nothing when c is already unpolled and fails
// when c is closed. The swap is made under mu, which Close also takes.
func (c *rawConn) unpoll() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	tc, ok := c.Conn.(*net.TCPConn)
	if !ok {
		return nil
	}
	if c.closed {
		return net.ErrClosed
	}
	fs, err := newFileSock(tc)
	if err != nil {
		return err
	}
	c.Conn, c.rc = fs, (*fileRaw)(fs)
	return nil
}

// fileSock is a connected TCP socket outside Go's network poller: a
// duplicate of a net.TCPConn's descriptor (which is then closed, taking
// the original out of the poller's epoll set), held in blocking mode by an
// os.File, whose descriptor lock keeps the number from being closed and
// reused while a call uses it. Calls that must not block pass
// MSG_DONTWAIT (recv and send do); a wait that no Waiter takes
// over is a poll(2) on the calling thread, bounded by the deadline in
// force when it starts (a deadline set during a wait applies from the next
// one: only the connection's owner sets deadlines here). Close shuts the
// socket down first, which ends such a wait at once.
//
// Its syscall.RawConn is fileRaw, whose Read and Write run the callback
// again after each wait instead of parking in the poller.
type fileSock struct {
	f      *os.File
	frc    syscall.RawConn
	la, ra net.Addr

	rdl, wdl atomic.Int64 // deadlines in Unix nanoseconds, 0 for none
	closed   atomic.Bool

	// The callback of the Read or Write in progress (one of each at a
	// time: the connection's owner makes them), bound once.
	rf, wf       func(uintptr) bool
	rerr, werr   error
	rwrap, wwrap func(uintptr) bool
}

func newFileSock(tc *net.TCPConn) (*fileSock, error) {
	src, err := tc.SyscallConn()
	if err != nil {
		return nil, err
	}
	nfd := -1
	var derr error
	if err := src.Control(func(fd uintptr) {
		nfd, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, os.NewSyscallError("fcntl", derr)
	}
	// Blocking mode, so that os.NewFile keeps it out of the poller; the
	// flag is the open file's, shared with tc's descriptor until that is
	// closed just below.
	if err := unix.SetNonblock(nfd, false); err != nil {
		unix.Close(nfd)
		return nil, os.NewSyscallError("fcntl", err)
	}
	s := &fileSock{f: os.NewFile(uintptr(nfd), "tcp"), la: tc.LocalAddr(), ra: tc.RemoteAddr()}
	if s.frc, err = s.f.SyscallConn(); err != nil {
		s.f.Close()
		return nil, err
	}
	s.rwrap, s.wwrap = s.readWrap, s.writeWrap
	_ = tc.Close()
	return s, nil
}

// fileRaw is the syscall.RawConn of a fileSock.
type fileRaw fileSock

func (r *fileRaw) Control(f func(fd uintptr)) error { return r.frc.Control(f) }

func (r *fileRaw) Read(f func(fd uintptr) bool) error {
	s := (*fileSock)(r)
	s.rf, s.rerr = f, nil
	err := s.frc.Read(s.rwrap)
	s.rf = nil
	if err == nil {
		err = s.rerr
	}
	return err
}

func (r *fileRaw) Write(f func(fd uintptr) bool) error {
	s := (*fileSock)(r)
	s.wf, s.werr = f, nil
	err := s.frc.Write(s.wwrap)
	s.wf = nil
	if err == nil {
		err = s.werr
	}
	return err
}

func (s *fileSock) readWrap(fd uintptr) bool {
	for !s.rf(fd) {
		if s.rerr = s.wait(fd, false); s.rerr != nil {
			break
		}
	}
	return true
}

func (s *fileSock) writeWrap(fd uintptr) bool {
	for !s.wf(fd) {
		if s.werr = s.wait(fd, true); s.werr != nil {
			break
		}
	}
	return true
}

// wait blocks until fd is ready in the direction asked (or hung up, or in
// error: the next call reports that), the deadline passes, or s is closed.
func (s *fileSock) wait(fd uintptr, write bool) error {
	dl, ev, op := &s.rdl, int16(unix.POLLIN), "read"
	if write {
		dl, ev, op = &s.wdl, unix.POLLOUT, "write"
	}
	for {
		if s.closed.Load() {
			return s.opError(op, net.ErrClosed)
		}
		timeout := -1
		if d := dl.Load(); d != 0 {
			left := time.Until(time.Unix(0, d))
			if left <= 0 {
				return s.opError(op, os.ErrDeadlineExceeded)
			}
			timeout = int((left + time.Millisecond - 1) / time.Millisecond)
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: ev}}
		n, err := unix.Poll(fds, timeout)
		if err != nil && err != unix.EINTR {
			return s.opError(op, os.NewSyscallError("poll", err))
		}
		if n > 0 {
			return nil
		}
	}
}

func (s *fileSock) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: s.la, Addr: s.ra, Err: err}
}

// The net.Conn methods. rawConn, which wraps every fileSock, makes its own
// reads and writes through fileRaw; Read and Write here are the plain ones.

func (s *fileSock) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var n uintptr
	var errno syscall.Errno
	err := (*fileRaw)(s).Read(func(fd uintptr) bool {
		n, errno = recv(fd, p)
		return errno != syscall.EAGAIN && errno != syscall.EINTR
	})
	switch {
	case err != nil:
		return 0, err
	case errno != 0:
		return 0, s.opError("read", os.NewSyscallError("read", errno))
	case n == 0:
		return 0, io.EOF
	}
	return int(n), nil
}

func (s *fileSock) Write(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		var n uintptr
		var errno syscall.Errno
		err := (*fileRaw)(s).Write(func(fd uintptr) bool {
			n, errno = send(fd, p[done:])
			return errno != syscall.EAGAIN && errno != syscall.EINTR
		})
		if err != nil {
			return done, err
		}
		if errno != 0 {
			return done, s.opError("write", os.NewSyscallError("write", errno))
		}
		done += int(n)
	}
	return done, nil
}

func (s *fileSock) LocalAddr() net.Addr  { return s.la }
func (s *fileSock) RemoteAddr() net.Addr { return s.ra }

func (s *fileSock) SetDeadline(t time.Time) error {
	s.rdl.Store(unixNano(t))
	s.wdl.Store(unixNano(t))
	return nil
}

func (s *fileSock) SetReadDeadline(t time.Time) error {
	s.rdl.Store(unixNano(t))
	return nil
}

func (s *fileSock) SetWriteDeadline(t time.Time) error {
	s.wdl.Store(unixNano(t))
	return nil
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// Close shuts the socket down (ending a wait in progress on another
// thread) and closes the descriptor once no call uses it.
func (s *fileSock) Close() error {
	if s.closed.Swap(true) {
		return s.opError("close", net.ErrClosed)
	}
	_ = s.frc.Control(func(fd uintptr) { _ = unix.Shutdown(int(fd), unix.SHUT_RDWR) })
	return s.f.Close()
}
