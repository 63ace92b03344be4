package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"vigil/internal/config"
)

// The background Vigil roles a CLI sandbox runs next to its servers.
const (
	RoleManager = "manager"
	RoleProxy   = "proxy"
)

// ConfigPath is DIR/vigil.yaml, the project config file the roles load.
func (c *Cluster) ConfigPath() string { return filepath.Join(c.Dir, "vigil.yaml") }

// LogPath is where a role's (or server's) output goes.
func (c *Cluster) LogPath(name string) string {
	if n := c.Node(name); n != nil {
		return n.ErrorLog
	}
	return filepath.Join(c.Dir, "logs", name+".log")
}

func (c *Cluster) rolePIDFile(role string) string { return filepath.Join(c.Dir, "run", role+".pid") }

// roleMarker is in the command line of this sandbox's role processes only.
func (c *Cluster) roleMarker() string { return "\x00" + c.ConfigPath() + "\x00" }

// EnsureConfig returns the sandbox's vigil.yaml, writing it (mode 0600)
// if it does not exist yet: the cluster config plus a proxy on proxyPort,
// its HTTP endpoint on proxyPort+1 and the manager's API on proxyPort+2
// (free ports are picked when those are taken), manager auto_failover on
// and the proxy following the manager. An existing file is kept as is.
func (c *Cluster) EnsureConfig(proxyPort int) (*config.Config, error) {
	if _, err := os.Stat(c.ConfigPath()); err == nil {
		return config.Load(c.ConfigPath())
	}
	if !waitPortFree(proxyPort, time.Second) {
		return nil, &errPortInUse{node: "the proxy", port: proxyPort, flag: "--proxy-port"}
	}
	httpPort, mgrPort := proxyPort+1, proxyPort+2
	if !portFree(httpPort) || !portFree(mgrPort) {
		ports, err := FreePorts(2)
		if err != nil {
			return nil, err
		}
		httpPort, mgrPort = ports[0], ports[1]
	}
	cfg := c.Config()
	cfg.Proxy.Listen = hostPort(proxyPort)
	cfg.Proxy.HTTPListen = hostPort(httpPort)
	cfg.Manager.Listen = hostPort(mgrPort)
	cfg.Manager.AutoFailover = true
	cfg.Proxy.ManagerURL = "http://" + cfg.Manager.Listen
	data, err := config.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", c.ConfigPath(), err)
	}
	header := "# Written by `vigil sandbox up`: the cluster in " + c.Dir + ".\n# Holds passwords: keep it 0600.\n"
	if err := writeFileAtomic(c.ConfigPath(), append([]byte(header), data...), 0o600); err != nil {
		return nil, err
	}
	return config.Load(c.ConfigPath())
}

func hostPort(p int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p)) }

// RolePID returns the pid of the sandbox's running role process, or 0.
func (c *Cluster) RolePID(role string) int {
	return findPID(c.rolePIDFile(role), c.roleMarker(), "\x00"+role+"\x00")
}

// StartRole starts `exe ROLE --config DIR/vigil.yaml` detached (own process
// group), logging to DIR/logs/ROLE.log, unless it already runs. It does not
// wait for the role to be ready.
func (c *Cluster) StartRole(role, exe string) error {
	if role != RoleManager && role != RoleProxy {
		return fmt.Errorf("start %s: unknown role (want manager or proxy)", role)
	}
	if c.RolePID(role) != 0 {
		return nil
	}
	for _, d := range []string{"logs", "run"} {
		if err := os.MkdirAll(filepath.Join(c.Dir, d), 0o700); err != nil {
			return fmt.Errorf("start %s: %w", role, err)
		}
	}
	out, err := os.OpenFile(c.LogPath(role), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("start %s: %w", role, err)
	}
	defer out.Close()
	cmd := exec.Command(exe, role, "--config", c.ConfigPath())
	cmd.Stdout, cmd.Stderr, cmd.Dir = out, out, c.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if c.opts.KillWithParent {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	if err := c.startCmd(cmd); err != nil {
		return fmt.Errorf("start %s: %w", role, err)
	}
	p := &proc{pid: cmd.Process.Pid, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	c.mu.Lock()
	c.procs[role] = p
	c.mu.Unlock()
	return os.WriteFile(c.rolePIDFile(role), []byte(strconv.Itoa(p.pid)+"\n"), 0o600)
}

// RoleExited reports whether a role this Cluster started has exited.
func (c *Cluster) RoleExited(role string) bool {
	c.mu.Lock()
	p := c.procs[role]
	c.mu.Unlock()
	if p == nil {
		return c.RolePID(role) == 0
	}
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// StopRole sends SIGTERM to the role and waits up to 30 s (then SIGKILL).
func (c *Cluster) StopRole(ctx context.Context, role string) error {
	return c.signalRole(role, syscall.SIGTERM, 30*time.Second)
}

// KillRole sends SIGKILL to the role and waits until it is gone.
func (c *Cluster) KillRole(role string) error {
	return c.signalRole(role, syscall.SIGKILL, 10*time.Second)
}

func (c *Cluster) signalRole(role string, sig syscall.Signal, wait time.Duration) error {
	pid := c.RolePID(role)
	if pid == 0 {
		return nil
	}
	if err := syscall.Kill(pid, sig); err != nil {
		return fmt.Errorf("signal %s (pid %d): %w", role, pid, err)
	}
	marker := c.roleMarker()
	if !waitGone(pid, marker, wait) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		c.reap(role, pid, marker, 10*time.Second)
		return fmt.Errorf("stop %s (pid %d): did not exit in %v, killed", role, pid, wait)
	}
	c.reap(role, pid, marker, 10*time.Second)
	if err := os.Remove(c.rolePIDFile(role)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
