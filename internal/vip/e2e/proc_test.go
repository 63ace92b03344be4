package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// logBuf collects a process's output; safe for concurrent use.
type logBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// proc is a speaker (vigil or keepalived) running in a lab host.
type proc struct {
	l    *lab
	name string
	cmd  *exec.Cmd
	log  *logBuf
	done chan struct{}
	// lines maps a state to the log substring that announces it.
	lines map[string]string
}

// speakerOpts are the settings shared by vigil and keepalived speakers.
type speakerOpts struct {
	prio      int
	interval  time.Duration
	nopreempt bool
	unicast   string // peer address; "" for multicast
	noCheck   bool   // vigil without --check (keepalived has no check either)
	extra     []string
}

func (l *lab) start(host, name string, args ...string) *proc {
	l.t.Helper()
	p := &proc{l: l, name: name, log: &logBuf{}, done: make(chan struct{})}
	p.cmd = exec.Command("ip", append([]string{"netns", "exec", l.ns(host)}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		l.t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	l.t.Cleanup(p.kill)
	return p
}

// startVigil runs `vigil vip` on host h (a or b) checking its service.
func (l *lab) startVigil(h string, o speakerOpts) *proc {
	args := []string{vigilBin, "vip", "--interface", "eth0", "--vrid", "213",
		"--priority", strconv.Itoa(o.prio), "--vip", l.vipCIDR(), "--advert-interval", o.interval.String()}
	if !o.noCheck {
		args = append(args, "--check", fmt.Sprintf("tcp:127.0.0.1:%d", svcPort), "--check-interval", "100ms", "--check-timeout", "1s", "--check-fall", "3")
	}
	if o.nopreempt {
		args = append(args, "--nopreempt")
	}
	if o.unicast != "" {
		args = append(args, "--unicast-peer", o.unicast)
	}
	p := l.start(h, "vigil-"+h, append(args, o.extra...)...)
	p.lines = map[string]string{"MASTER": "state=MASTER", "BACKUP": "state=BACKUP", "FAULT": "state=FAULT"}
	return p
}

// startKeepalived runs keepalived 2.2 on host h with an equivalent config.
func (l *lab) startKeepalived(h string, o speakerOpts) *proc {
	l.t.Helper()
	if _, err := exec.LookPath("keepalived"); err != nil {
		l.t.Skip("keepalived not installed")
	}
	// A fresh directory per start: a restart must not find the pid files
	// of a killed run (keepalived then refuses to start).
	dir, err := os.MkdirTemp(l.dir, "ka-"+h+"-")
	if err != nil {
		l.t.Fatal(err)
	}
	var conf strings.Builder
	fmt.Fprintf(&conf, "global_defs {\n  router_id %s\n  script_user root\n}\n", h)
	fmt.Fprintf(&conf, "vrrp_instance V {\n  state BACKUP\n  interface eth0\n  virtual_router_id 213\n")
	fmt.Fprintf(&conf, "  priority %d\n  advert_int %g\n  version 3\n", o.prio, o.interval.Seconds())
	if o.nopreempt {
		conf.WriteString("  nopreempt\n")
	}
	if o.unicast != "" {
		src := l.hosts[h]
		fmt.Fprintf(&conf, "  unicast_src_ip %s\n  unicast_peer {\n    %s\n  }\n", src, o.unicast)
	}
	for _, e := range o.extra {
		fmt.Fprintf(&conf, "  %s\n", e)
	}
	fmt.Fprintf(&conf, "  virtual_ipaddress {\n    %s\n  }\n}\n", l.vipCIDR())
	path := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(path, []byte(conf.String()), 0o644); err != nil {
		l.t.Fatal(err)
	}
	p := l.start(h, "keepalived-"+h, "keepalived", "-n", "-l", "-D", "-P", "-f", path,
		"-p", filepath.Join(dir, "keepalived.pid"), "-r", filepath.Join(dir, "vrrp.pid"))
	p.lines = map[string]string{"MASTER": "Entering MASTER STATE", "BACKUP": "Entering BACKUP STATE", "FAULT": "Entering FAULT STATE"}
	return p
}

// signal sends sig to the speaker. SIGKILL goes to its whole process group
// (keepalived's VRRP child too), as a crash of the whole daemon would.
func (p *proc) signal(sig syscall.Signal) {
	if sig == syscall.SIGKILL {
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		return
	}
	p.cmd.Process.Signal(sig)
}

// stop sends sig and waits for the process to exit.
func (p *proc) stop(sig syscall.Signal) {
	p.l.t.Helper()
	p.signal(sig)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.l.t.Fatalf("%s did not exit after %v", p.name, sig)
	}
}

// kill is the cleanup: SIGTERM, then SIGKILL for whatever is left.
func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(3 * time.Second):
		p.signal(syscall.SIGKILL)
		<-p.done
	}
	if p.l.t.Failed() {
		p.l.t.Logf("--- %s log ---\n%s", p.name, p.log.String())
	}
}

func (p *proc) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// lastState returns the state of the latest state line ("" if none).
func (p *proc) lastState() string {
	s := p.log.String()
	best, at := "", -1
	for st, line := range p.lines {
		if i := strings.LastIndex(s, line); i > at {
			best, at = st, i
		}
	}
	return best
}

// waitState waits until the speaker's latest state is want (timeout times slack).
func (p *proc) waitState(want string, timeout time.Duration) {
	p.l.t.Helper()
	timeout *= slack
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if p.lastState() == want {
			return
		}
		if !p.alive() {
			p.l.t.Fatalf("%s exited:\n%s", p.name, p.log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.l.t.Fatalf("%s not %s within %v (last %q):\n%s", p.name, want, timeout, p.lastState(), p.log.String())
}
