package main

import (
	"fmt"
	"net"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// end is one socket of a relayed pair.
type end struct {
	peer    int    // the other socket's fd
	pending []byte // bytes read from peer that this socket has not taken yet
}

// loop is a single-threaded epoll relay. Its system calls are raw: the
// thread keeps its P while blocked, which is what one locked event-loop
// thread wants (nothing else runs on this P).
type loop struct {
	ep      int
	backend unix.SockaddrInet4
	ends    map[int]*end
	buf     []byte
	w       watcher // nil: a plain relay
}

// watcher looks at what the loop relays (the routed mode's MySQL work).
type watcher interface {
	paired(cfd, bfd int)      // a client and its server connection
	relayed(fd int, p []byte) // p was read from fd and is about to go to its peer
	closed(fd, peer int)      // the pair of fd and peer is gone
}

// runLoop relays on one locked thread; w, if not nil, sees every pair and
// every chunk before it is forwarded.
func runLoop(listen, backend string, w watcher) error {
	runtime.LockOSThread()
	lfd, ep, bsa, err := setup(listen, backend)
	if err != nil {
		return err
	}
	l := &loop{ep: ep, backend: bsa, ends: map[int]*end{}, buf: make([]byte, 16<<10), w: w}
	evs := make([]unix.EpollEvent, 256)
	for {
		r, err := waitEvents(l.ep, evs)
		if err != nil {
			return err
		}
		for _, ev := range evs[:r] {
			fd := int(ev.Fd)
			switch {
			case fd == lfd:
				l.accept(lfd)
			case ev.Events&unix.EPOLLOUT != 0:
				l.flush(fd)
			default:
				l.forward(fd)
			}
		}
	}
}

// waitEvents blocks in epoll_pwait, made raw so that the thread keeps its
// P (nothing else runs on it), until ep reports events; EINTR (the
// runtime's preemption signals) returns zero events.
func waitEvents(ep int, evs []unix.EpollEvent) (int, error) {
	r, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(ep),
		uintptr(unsafe.Pointer(&evs[0])), uintptr(len(evs)), ^uintptr(0), 0, 0)
	switch e {
	case 0:
		return int(r), nil
	case syscall.EINTR:
		return 0, nil
	}
	return 0, fmt.Errorf("epoll_pwait: %w", e)
}

func listenFD(a *net.TCPAddr) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	sa := &unix.SockaddrInet4{Port: a.Port}
	copy(sa.Addr[:], a.IP.To4())
	if err := unix.Bind(fd, sa); err != nil {
		return -1, fmt.Errorf("bind %v: %w", a, err)
	}
	return fd, unix.Listen(fd, 4096)
}

func (l *loop) watch(op, fd int, events uint32) error {
	return unix.EpollCtl(l.ep, op, fd, &unix.EpollEvent{Events: events, Fd: int32(fd)})
}

// accept takes every waiting client and pairs it with a new backend
// connection.
func (l *loop) accept(lfd int) {
	for {
		cfd, bfd, ok := acceptPair(lfd, &l.backend)
		if !ok {
			return
		}
		l.ends[cfd], l.ends[bfd] = &end{peer: bfd}, &end{peer: cfd}
		if l.w != nil {
			l.w.paired(cfd, bfd)
		}
		_ = l.watch(unix.EPOLL_CTL_ADD, cfd, unix.EPOLLIN)
		_ = l.watch(unix.EPOLL_CTL_ADD, bfd, unix.EPOLLIN)
	}
}

// acceptPair accepts one waiting client and connects its server socket;
// ok is false when no client is waiting.
func acceptPair(lfd int, backend *unix.SockaddrInet4) (cfd, bfd int, ok bool) {
	for {
		cfd, _, err := unix.Accept4(lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		if err != nil {
			return -1, -1, false
		}
		bfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err == nil {
			err = unix.Connect(bfd, backend)
		}
		if err != nil {
			fmt.Println("relayfloor: backend:", err)
			unix.Close(cfd)
			if bfd >= 0 {
				unix.Close(bfd)
			}
			continue
		}
		_ = unix.SetNonblock(bfd, true)
		for _, fd := range []int{cfd, bfd} {
			_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		}
		return cfd, bfd, true
	}
}

// setup resolves the addresses and opens the listening socket and the
// epoll set, with the listener in it.
func setup(listen, backend string) (lfd, ep int, bsa unix.SockaddrInet4, err error) {
	ba, err := net.ResolveTCPAddr("tcp4", backend)
	if err != nil {
		return -1, -1, bsa, err
	}
	la, err := net.ResolveTCPAddr("tcp4", listen)
	if err != nil {
		return -1, -1, bsa, err
	}
	copy(bsa.Addr[:], ba.IP.To4())
	bsa.Port = ba.Port
	if lfd, err = listenFD(la); err != nil {
		return -1, -1, bsa, err
	}
	if ep, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return -1, -1, bsa, err
	}
	err = unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, lfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(lfd)})
	return lfd, ep, bsa, err
}

// forward reads what fd has and sends it to its peer. When the peer
// cannot take it all, the rest waits in the peer's pending buffer and fd is
// not read again until it is flushed.
func (l *loop) forward(fd int) {
	e, ok := l.ends[fd]
	if !ok {
		return
	}
	r, _, errno := syscall.RawSyscall6(syscall.SYS_RECVFROM, uintptr(fd),
		uintptr(unsafe.Pointer(&l.buf[0])), uintptr(len(l.buf)), unix.MSG_DONTWAIT, 0, 0)
	switch {
	case errno == syscall.EAGAIN || errno == syscall.EINTR:
		return
	case errno != 0 || r == 0:
		l.closePair(fd)
		return
	}
	data := l.buf[:r]
	if l.w != nil {
		l.w.relayed(fd, data)
	}
	n, ok := send(e.peer, data)
	if !ok {
		l.closePair(fd)
		return
	}
	if n < len(data) {
		l.ends[e.peer].pending = append([]byte(nil), data[n:]...)
		_ = l.watch(unix.EPOLL_CTL_MOD, e.peer, unix.EPOLLOUT)
		_ = l.watch(unix.EPOLL_CTL_MOD, fd, 0)
	}
}

// flush sends fd's pending bytes; once they are gone, both sockets go back
// to waiting for input.
func (l *loop) flush(fd int) {
	e, ok := l.ends[fd]
	if !ok {
		return
	}
	n, ok := send(fd, e.pending)
	if !ok {
		l.closePair(fd)
		return
	}
	e.pending = e.pending[n:]
	if len(e.pending) == 0 {
		e.pending = nil
		_ = l.watch(unix.EPOLL_CTL_MOD, fd, unix.EPOLLIN)
		_ = l.watch(unix.EPOLL_CTL_MOD, e.peer, unix.EPOLLIN)
	}
}

// send writes what the socket takes now; ok is false on a failed socket.
func send(fd int, p []byte) (n int, ok bool) {
	for n < len(p) {
		r, _, errno := syscall.RawSyscall6(syscall.SYS_SENDTO, uintptr(fd),
			uintptr(unsafe.Pointer(&p[n])), uintptr(len(p)-n), unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL, 0, 0)
		switch errno {
		case 0:
			n += int(r)
		case syscall.EINTR:
		case syscall.EAGAIN:
			return n, true
		default:
			return n, false
		}
	}
	return n, true
}

func (l *loop) closePair(fd int) {
	e := l.ends[fd]
	if l.w != nil {
		l.w.closed(fd, e.peer)
	}
	for _, f := range []int{fd, e.peer} {
		delete(l.ends, f)
		unix.Close(f) // closing removes it from the epoll set
	}
}
