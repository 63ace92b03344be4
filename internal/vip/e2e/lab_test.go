package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// vigilBin is the vigil binary built by TestMain ("" when tests are skipped).
var vigilBin string

func TestMain(m *testing.M) {
	code := func() int {
		if os.Geteuid() == 0 {
			if _, err := exec.LookPath("ip"); err == nil {
				dir, err := os.MkdirTemp("", "vigil-vip-e2e")
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					return 1
				}
				defer os.RemoveAll(dir)
				bin := filepath.Join(dir, "vigil")
				out, err := exec.Command("go", "build", "-o", bin, "vigil/cmd/vigil").CombinedOutput()
				if err != nil {
					fmt.Fprintf(os.Stderr, "build vigil: %v\n%s", err, out)
					return 1
				}
				vigilBin = bin
			}
		}
		return m.Run()
	}()
	os.Exit(code)
}

const svcPort = 8080

// addressing is a lab's address plan, IPv4 or IPv6.
type addressing struct {
	vip, prefix string            // the virtual address and its prefix length
	hosts       map[string]string // a, b (speakers) and c (client)
}

var (
	plan4 = addressing{vip: "10.213.0.100", prefix: "/24",
		hosts: map[string]string{"a": "10.213.0.11", "b": "10.213.0.12", "c": "10.213.0.2"}}
	plan6 = addressing{vip: "fd00:213::100", prefix: "/64",
		hosts: map[string]string{"a": "fd00:213::11", "b": "fd00:213::12", "c": "fd00:213::2"}}
)

func (a addressing) vipCIDR() string { return a.vip + a.prefix }

// lab is one isolated topology: hosts a and b and client c, each with eth0
// on bridge br0 in namespace sw. Names are unique per lab so tests and runs
// never clash; Cleanup removes everything.
type lab struct {
	t testing.TB
	addressing
	prefix string
	dir    string
	svc    map[string]net.Listener
	mu     sync.Mutex
}

func newLab(t testing.TB) *lab { return newLabWith(t, plan4) }

// newLabWith builds a lab with the given address plan (plan4 or plan6).
func newLabWith(t testing.TB, plan addressing) *lab {
	t.Helper()
	if vigilBin == "" {
		t.Skip("needs root and iproute2 (network namespaces)")
	}
	var rnd [3]byte
	rand.Read(rnd[:])
	l := &lab{t: t, addressing: plan, prefix: "vgv" + hex.EncodeToString(rnd[:]), dir: t.TempDir(), svc: map[string]net.Listener{}}
	t.Cleanup(l.destroy)
	for _, ns := range []string{"sw", "a", "b", "c"} {
		l.ip("netns", "add", l.ns(ns))
		l.ip("-n", l.ns(ns), "link", "set", "lo", "up")
		// No duplicate address detection: addresses are usable at once.
		for _, k := range []string{"all", "default"} {
			exec.Command("ip", "netns", "exec", l.ns(ns), "sysctl", "-qw", "net.ipv6.conf."+k+".accept_dad=0").Run()
		}
	}
	l.ip("-n", l.ns("sw"), "link", "add", "br0", "type", "bridge")
	l.ip("-n", l.ns("sw"), "link", "set", "br0", "up")
	for h, addr := range l.hosts {
		port := "p-" + h
		l.ip("-n", l.ns("sw"), "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", l.ns(h))
		l.ip("-n", l.ns("sw"), "link", "set", port, "master", "br0", "up")
		l.ip("-n", l.ns(h), "addr", "add", addr+l.addressing.prefix, "dev", "eth0")
		l.ip("-n", l.ns(h), "link", "set", "eth0", "up")
	}
	return l
}

func (l *lab) ns(h string) string { return l.prefix + "-" + h }

func (l *lab) destroy() {
	l.mu.Lock()
	for _, ln := range l.svc {
		ln.Close()
	}
	l.mu.Unlock()
	for _, ns := range []string{"a", "b", "c", "sw"} {
		exec.Command("ip", "netns", "del", l.ns(ns)).Run()
	}
}

// ip runs ip(8) and fails the test on error.
func (l *lab) ip(args ...string) string {
	l.t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		l.t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// inNetns runs fn on an OS thread switched into namespace ns. Sockets fn
// creates stay in ns.
func inNetns(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// The thread is only unlocked (reused) if it got back home.
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		target, err := os.Open("/var/run/netns/" + ns)
		if err != nil {
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		err = fn()
		if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// startService runs host h's stand-in proxy: a TCP server on :8080 that
// answers each connection with h and closes it.
func (l *lab) startService(h string) {
	l.t.Helper()
	var ln net.Listener
	err := inNetns(l.ns(h), func() (err error) {
		ln, err = net.Listen("tcp", fmt.Sprintf(":%d", svcPort)) // IPv4 and IPv6
		return err
	})
	if err != nil {
		l.t.Fatalf("service on %s: %v", h, err)
	}
	l.mu.Lock()
	l.svc[h] = ln
	l.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte(h))
			c.Close()
		}
	}()
}

func (l *lab) stopService(h string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ln := l.svc[h]; ln != nil {
		ln.Close()
		delete(l.svc, h)
	}
}

// probe connects from the client to VIP:8080 and returns who answered.
func (l *lab) probe(timeout time.Duration) (string, error) {
	var conn net.Conn
	err := inNetns(l.ns("c"), func() (err error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		var d net.Dialer
		conn, err = d.DialContext(ctx, "tcp", net.JoinHostPort(l.vip, fmt.Sprint(svcPort)))
		return err
	})
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(timeout))
	var buf bytes.Buffer
	_, err = buf.ReadFrom(conn)
	return buf.String(), err
}

// slack multiplies the deadlines of waitAnswer and waitState: they bound
// eventual correctness on a loaded CI machine, not speed (bench/vip.sh
// measures speed).
const slack = 3

// waitAnswer probes until host h answers or timeout (times slack) passes.
func (l *lab) waitAnswer(h string, timeout time.Duration) {
	l.t.Helper()
	timeout *= slack
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		got, err := l.probe(200 * time.Millisecond)
		if got == h {
			return
		}
		last = fmt.Sprintf("%q, %v", got, err)
		time.Sleep(20 * time.Millisecond)
	}
	l.t.Fatalf("VIP not answered by %s within %v; last probe: %s", h, timeout, last)
}

// hasVIP reports whether host h holds the virtual address.
func (l *lab) hasVIP(h string) bool {
	return strings.Contains(l.ip("-n", l.ns(h), "addr", "show", "dev", "eth0"), " "+l.vip+"/")
}

// metrics fetches http://addr/metrics inside host h's namespace.
func (l *lab) metrics(h, addr string) string {
	l.t.Helper()
	var conn net.Conn
	if err := inNetns(l.ns(h), func() (err error) {
		conn, err = net.DialTimeout("tcp4", addr, time.Second)
		return err
	}); err != nil {
		l.t.Fatalf("metrics on %s: %v", h, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	fmt.Fprintf(conn, "GET /metrics HTTP/1.0\r\nHost: %s\r\n\r\n", addr)
	var buf bytes.Buffer
	buf.ReadFrom(conn)
	return buf.String()
}
