package main

import (
	"iter"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// coroConn is one relayed connection whose code is written as a
// sequential loop (read the client, write the server, read the server,
// write the client) and runs as a coroutine: where it would block it
// yields the socket it waits for, and the event loop resumes it when that
// socket is ready. This is the shape proposed for vigil's session code on
// an event loop: blocking-style code, no goroutine park per wait.
type coroConn struct {
	next func() (int, bool) // resumes the coroutine; returns the fd it now waits for
	stop func()
	wait int // the fd it waits to read, or ^fd to write
}

// runCoro is runLoop with coroutines. Sockets are registered once,
// edge-triggered for input and output; a coroutine reads until it has
// taken what the kernel reported (one recv per message in practice) and
// waits for the next edge only after sending a request, as vigil's
// WriteRequest does.
func runCoro(listen, backend string) error {
	runtime.LockOSThread()
	lfd, ep, bsa, err := setup(listen, backend)
	if err != nil {
		return err
	}
	owner := map[int]*coroConn{}
	evs := make([]unix.EpollEvent, 256)
	resume := func(c *coroConn) {
		fd, ok := c.next()
		if !ok {
			c.stop()
			for f, o := range owner {
				if o == c {
					delete(owner, f)
					unix.Close(f)
				}
			}
			return
		}
		c.wait = fd
	}
	for {
		r, err := waitEvents(ep, evs)
		if err != nil {
			return err
		}
		for _, ev := range evs[:r] {
			fd := int(ev.Fd)
			if fd == lfd {
				for {
					cfd, bfd, ok := acceptPair(lfd, &bsa)
					if !ok {
						break
					}
					c := &coroConn{}
					c.next, c.stop = iter.Pull(relaySeq(cfd, bfd))
					owner[cfd], owner[bfd] = c, c
					for _, f := range []int{cfd, bfd} {
						_ = unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, f,
							&unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(f)})
					}
					resume(c)
				}
				continue
			}
			c, ok := owner[fd]
			switch {
			case !ok:
			case c.wait == fd && ev.Events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0:
				resume(c)
			case c.wait == ^fd && ev.Events&(unix.EPOLLOUT|unix.EPOLLHUP|unix.EPOLLERR) != 0:
				resume(c)
			}
		}
	}
}

// relaySeq is the connection's sequential code. Server first (its
// greeting), then strictly one message each way; it yields the fd it
// waits for (^fd for writing) and ends when either side closes.
func relaySeq(cfd, bfd int) iter.Seq[int] {
	return func(yield func(int) bool) {
		buf := make([]byte, 16<<10)
		// recvWait reads from fd, yielding until it has data.
		recvWait := func(fd int) int {
			for {
				r, _, errno := syscall.RawSyscall6(syscall.SYS_RECVFROM, uintptr(fd),
					uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), unix.MSG_DONTWAIT, 0, 0)
				switch errno {
				case 0:
					return int(r) // 0: closed
				case syscall.EAGAIN:
					if !yield(fd) {
						return 0
					}
				case syscall.EINTR:
				default:
					return 0
				}
			}
		}
		// sendAll writes p to fd, yielding while the socket is full.
		sendAll := func(fd int, p []byte) bool {
			for len(p) > 0 {
				r, _, errno := syscall.RawSyscall6(syscall.SYS_SENDTO, uintptr(fd),
					uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL, 0, 0)
				switch errno {
				case 0:
					p = p[r:]
				case syscall.EAGAIN:
					if !yield(^fd) {
						return false
					}
				case syscall.EINTR:
				default:
					return false
				}
			}
			return true
		}
		from, to := bfd, cfd // the server speaks first
		for {
			// Wait for the answer without a read attempt first: the peer
			// cannot have answered before the request was sent.
			if !yield(from) {
				return
			}
			n := recvWait(from)
			if n == 0 || !sendAll(to, buf[:n]) {
				return
			}
			from, to = to, from
		}
	}
}
