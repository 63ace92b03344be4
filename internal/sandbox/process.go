package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is a server process this Cluster started; done closes once it has
// been reaped.
type proc struct {
	pid  int
	done chan struct{}
	// logStart and outStart are the sizes of the error log and of
	// mariadbd.out before this start: a failure shows only what it wrote.
	logStart, outStart int64
}

// errPortInUse reports that a node's port was taken.
type errPortInUse struct {
	node string
	port int
	flag string // the option that chooses this port
}

func (e *errPortInUse) Error() string {
	flag := e.flag
	if flag == "" {
		flag = "--base-port"
	}
	return fmt.Sprintf("port %d (for %s) is already in use: choose another %s or stop what listens there", e.port, e.node, flag)
}

// spawn starts mariadbd for n in its own process group and returns without
// waiting for it to be ready. Its output goes to n.Dir/mariadbd.out.
func (c *Cluster) spawn(n *Node) (*proc, error) {
	out, err := os.OpenFile(filepath.Join(n.Dir, "mariadbd.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", n.Name, err)
	}
	defer out.Close()
	args := []string{"--defaults-file=" + n.ConfigFile}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	logStart, outStart := fileSize(n.ErrorLog), fileSize(out.Name())
	cmd := exec.Command(c.bins.mariadbd, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Dir = n.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if c.opts.KillWithParent {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	if err := c.startCmd(cmd); err != nil {
		return nil, fmt.Errorf("start %s: %w", n.Name, err)
	}
	p := &proc{pid: cmd.Process.Pid, done: make(chan struct{}), logStart: logStart, outStart: outStart}
	go func() { _ = cmd.Wait(); close(p.done) }()
	return p, nil
}

// waitReady waits until n accepts connections on its unix socket (it sends
// a handshake), the process exits, or ctx ends.
func (c *Cluster) waitReady(ctx context.Context, n *Node, p *proc) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if handshakeOK(n.Socket) {
			return nil
		}
		select {
		case <-p.done:
			return c.startFailure(n, p)
		case <-ctx.Done():
			return fmt.Errorf("%s did not become ready: %w (error log %s: %s)", n.Name, ctx.Err(), n.ErrorLog, tailFileFrom(n.ErrorLog, p.logStart, 3))
		case <-tick.C:
		}
	}
}

// startFailure explains why n exited during start, from its error log.
func (c *Cluster) startFailure(n *Node, p *proc) error {
	logTail := tailFileFrom(n.ErrorLog, p.logStart, 4)
	if strings.Contains(logTail, "Address already in use") || strings.Contains(logTail, "Do you already have another server running on port") {
		return &errPortInUse{node: n.Name, port: n.Port}
	}
	if logTail == "" {
		logTail = tailFileFrom(filepath.Join(n.Dir, "mariadbd.out"), p.outStart, 4)
	}
	return fmt.Errorf("%s failed to start; tail of %s: %s", n.Name, n.ErrorLog, logTail)
}

// handshakeOK reports whether a server on the unix socket sends a MySQL
// handshake (protocol 10) packet.
func handshakeOK(socket string) bool {
	conn, err := net.DialTimeout("unix", socket, time.Second)
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	var buf [5]byte
	if _, err := readFull(conn, buf[:]); err != nil {
		return false
	}
	return buf[4] == 10
}

func readFull(conn net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := conn.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// findPID returns the pid of the live process whose command line contains
// marker (this node's --defaults-file), trying pidFile first. 0: none.
func findPID(pidFile string, markers ...string) int {
	if data, err := os.ReadFile(pidFile); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && isOurs(pid, markers...) {
			return pid
		}
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err == nil && isOurs(pid, markers...) {
			return pid
		}
	}
	return 0
}

// isOurs reports whether pid is alive (not a zombie) and its command line
// (NUL-separated arguments) contains every marker.
func isOurs(pid int, markers ...string) bool {
	if pid <= 0 {
		return false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	cmdline = append(cmdline, 0)
	for _, m := range markers {
		if !bytes.Contains(cmdline, []byte(m)) {
			return false
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
		return false
	}
	return true
}

// waitGone waits until pid no longer runs marker, or timeout.
func waitGone(pid int, marker string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if processGone(pid, marker) {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return processGone(pid, marker)
}

// processGone reports whether pid has released what it held: it no longer
// exists, is a zombie with no thread left (its files, and so its listening
// socket, are closed), or is another program (the pid was reused). A process that is still
// exiting has an empty command line (its memory is released before its
// files): it is not gone yet, and its port may still be bound.
func processGone(pid int, marker string) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
		// A zombie leader's other threads may still be exiting, holding
		// the shared file table: gone only once it is alone.
		tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		return err != nil || len(tasks) <= 1
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return true
	}
	if len(cmdline) == 0 {
		return false
	}
	return !bytes.Contains(append(cmdline, 0), []byte(marker))
}

// waitPortFree waits up to timeout for 127.0.0.1:port to become bindable.
// A port can look taken for a moment without being so: a server killed a
// moment ago may still be closing its socket, and a child forked by another
// goroutine holds copies of the parent's sockets (a just-closed listener
// among them) until it execs.
func waitPortFree(port int, timeout time.Duration) bool {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if portFree(port) {
			return true
		}
	}
	return portFree(port)
}

// portFree reports whether 127.0.0.1:port can be bound now.
func portFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// FreePorts returns n distinct ports on 127.0.0.1 that can be bound now. They are chosen
// below the kernel's ephemeral range: a port from that range, once its
// server stops (a drill, a restart), can be taken by the local end of any
// outgoing connection on the machine, and the server could not start on it
// again.
func FreePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	lo, hi := portPickRange()
	ports := make([]int, 0, n)
	seen := map[int]bool{}
	for tries := 0; len(ports) < n && tries < 20*n+1000; tries++ {
		port := lo + rand.IntN(hi-lo)
		if seen[port] {
			continue
		}
		seen[port] = true
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		ls = append(ls, l)
		ports = append(ports, port)
	}
	if len(ports) < n {
		return nil, fmt.Errorf("pick %d free ports in %d-%d: only %d found", n, lo, hi-1, len(ports))
	}
	return ports, nil
}

// portPickRange is the range FreePorts picks from: from 10000 up to the
// start of the ephemeral range in /proc/sys/net/ipv4/ip_local_port_range
// (32768 by default), or 10000-30000 when that cannot be read or leaves too
// little room.
func portPickRange() (lo, hi int) {
	lo, hi = 10000, 30000
	data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return lo, hi
	}
	f := strings.Fields(string(data))
	if len(f) != 2 {
		return lo, hi
	}
	if start, err := strconv.Atoi(f[0]); err == nil && start-lo >= 2000 {
		hi = start
	}
	return lo, hi
}

var errNotRunning = errors.New("not running")

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}
