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
	return &rawConn{TCPConn: tc, rc: rc}
}

func (c *rawConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var n int
	var errno syscall.Errno
	err := c.rc.Read(func(fd uintptr) bool {
		for {
			r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
			switch e {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false
			}
			n, errno = int(r), e
			return true
		}
	})
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

func (c *rawConn) Write(p []byte) (int, error) {
	written := 0
	for written < len(p) {
		var errno syscall.Errno
		err := c.rc.Write(func(fd uintptr) bool {
			for {
				r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[written])), uintptr(len(p)-written))
				switch e {
				case syscall.EINTR:
					continue
				case syscall.EAGAIN:
					return false
				case 0:
					written += int(r)
				default:
					errno = e
				}
				return true
			}
		})
		if err != nil {
			return written, err
		}
		if errno != 0 {
			return written, &net.OpError{Op: "write", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.NewSyscallError("write", errno)}
		}
	}
	return written, nil
}

// ReadFrom and WriteTo of *net.TCPConn would bypass the raw path (and
// splice); hide them so that io.Copy uses Read and Write.
func (c *rawConn) ReadFrom(r io.Reader) (int64, error) { return io.Copy(struct{ io.Writer }{c}, r) }
func (c *rawConn) WriteTo(w io.Writer) (int64, error)  { return io.Copy(w, struct{ io.Reader }{c}) }
