package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
	"vigil/internal/config"
)

// ErrNoSandbox is returned by Open when DIR holds no sandbox.
var ErrNoSandbox = errors.New("no sandbox here")

// Cluster is a sandbox cluster on disk and its server processes. Methods
// are safe for concurrent use.
type Cluster struct {
	// Dir is the absolute sandbox directory.
	Dir string

	opts  Options
	st    *state
	nodes []*Node

	mu      sync.Mutex
	bins    binaries
	procs   map[string]*proc // servers this Cluster started and still reaps
	spawner spawner
}

// startCmd starts cmd; with KillWithParent from the spawner's locked thread.
func (c *Cluster) startCmd(cmd *exec.Cmd) error {
	if c.opts.KillWithParent {
		return c.spawner.start(cmd)
	}
	return cmd.Start()
}

// Open reads the sandbox in opts.Dir without starting anything.
func Open(opts Options) (*Cluster, error) {
	opts.setDefaults()
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("sandbox dir: %w", err)
	}
	st, err := readState(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w (run `vigil sandbox up` first)", dir, ErrNoSandbox)
	}
	if err != nil {
		return nil, err
	}
	return newCluster(dir, opts, st), nil
}

func newCluster(dir string, opts Options, st *state) *Cluster {
	opts.Dir = dir
	c := &Cluster{Dir: dir, opts: opts, st: st, procs: map[string]*proc{}}
	for i, port := range st.Ports {
		c.nodes = append(c.nodes, newNode(dir, i+1, port))
	}
	return c
}

// Nodes returns the servers in order db1, db2, ...
func (c *Cluster) Nodes() []*Node { return append([]*Node(nil), c.nodes...) }

// Node returns the named server, or nil.
func (c *Cluster) Node(name string) *Node {
	for _, n := range c.nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// SemiSync reports whether the cluster was created with semi-sync replication.
func (c *Cluster) SemiSync() bool { return c.st.SemiSync }

// Database is the application database created at bootstrap.
func (c *Cluster) Database() string { return c.st.Database }

// Credentials of the three accounts every server has.
func (c *Cluster) App() config.Credentials         { return c.st.App }
func (c *Cluster) Admin() config.Credentials       { return c.st.Admin }
func (c *Cluster) Replication() config.Credentials { return c.st.Replication }

// Config returns a defaulted, validated cluster configuration: the servers,
// the internal accounts and the app user. Proxy and manager sections hold
// the package defaults; callers set their listen addresses.
func (c *Cluster) Config() *config.Config {
	cfg := &config.Config{
		Cluster:  config.Cluster{Name: "sandbox"},
		Accounts: config.Accounts{Replication: c.st.Replication, Admin: c.st.Admin},
		Users:    []config.User{{Name: c.st.App.User, Password: c.st.App.Password}},
	}
	for _, n := range c.nodes {
		cfg.Cluster.Servers = append(cfg.Cluster.Servers, config.Server{Name: n.Name, Address: n.Addr})
	}
	data, err := config.Marshal(cfg)
	if err != nil {
		panic(fmt.Sprintf("sandbox: marshal config: %v", err)) // cannot happen: plain structs
	}
	out, err := config.Parse(data)
	if err != nil {
		panic(fmt.Sprintf("sandbox: generated config does not validate: %v", err))
	}
	return out
}

// DSN is a go-sql-driver/mysql DSN for user on the named server over TCP.
func (c *Cluster) DSN(name, user, password, db string) string {
	n := c.Node(name)
	if n == nil {
		return ""
	}
	mc := mysql.NewConfig()
	mc.User, mc.Passwd, mc.Net, mc.Addr, mc.DBName = user, password, "tcp", n.Addr, db
	mc.Timeout = 5 * time.Second
	return mc.FormatDSN()
}

// AdminDSN is DSN for the admin account on the named server.
func (c *Cluster) AdminDSN(name string) string {
	return c.DSN(name, c.st.Admin.User, c.st.Admin.Password, "")
}

// PID returns the pid of the named server, or 0 when it is not running.
func (c *Cluster) PID(name string) int {
	n := c.Node(name)
	if n == nil {
		return 0
	}
	return findPID(n.PIDFile, n.marker())
}

// Running reports whether the named server's process is alive.
func (c *Cluster) Running(name string) bool { return c.PID(name) != 0 }

// Signal sends sig to the named server (e.g. SIGSTOP/SIGCONT for drills).
func (c *Cluster) Signal(name string, sig syscall.Signal) error {
	pid := c.PID(name)
	if pid == 0 {
		return fmt.Errorf("signal %s: %w", name, errNotRunning)
	}
	if err := syscall.Kill(pid, sig); err != nil {
		return fmt.Errorf("signal %s (pid %d): %w", name, pid, err)
	}
	return nil
}

// Kill sends SIGKILL to the named server and waits until it is gone. Killing
// a stopped server is not an error.
func (c *Cluster) Kill(name string) error {
	n := c.Node(name)
	if n == nil {
		return fmt.Errorf("kill %s: no such server", name)
	}
	pid := c.PID(name)
	if pid == 0 {
		return nil
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	c.reap(name, pid, n.marker(), 10*time.Second)
	return nil
}

// Stop shuts the named server down cleanly (SIGTERM, then SIGKILL if it has
// not exited when ctx ends or after 60 s).
func (c *Cluster) Stop(ctx context.Context, name string) error {
	n := c.Node(name)
	if n == nil {
		return fmt.Errorf("stop %s: no such server", name)
	}
	pid := c.PID(name)
	if pid == 0 {
		return nil
	}
	marker := n.marker()
	_ = syscall.Kill(pid, syscall.SIGCONT) // a SIGSTOPped server cannot shut down
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return fmt.Errorf("stop %s (pid %d): %w", name, pid, err)
	}
	deadline := 60 * time.Second
	if d, ok := ctx.Deadline(); ok {
		deadline = time.Until(d)
	}
	if !waitGone(pid, marker, deadline) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		c.reap(name, pid, marker, 10*time.Second)
		return fmt.Errorf("stop %s (pid %d): no clean shutdown in time, killed", name, pid)
	}
	c.reap(name, pid, marker, 10*time.Second)
	return nil
}

// reap waits for a killed process: through its Wait goroutine when this
// Cluster started it, else by polling /proc.
func (c *Cluster) reap(name string, pid int, marker string, timeout time.Duration) {
	c.mu.Lock()
	p := c.procs[name]
	if p != nil && p.pid == pid {
		delete(c.procs, name)
	} else {
		p = nil
	}
	c.mu.Unlock()
	if p != nil {
		select {
		case <-p.done:
		case <-time.After(timeout):
		}
		return
	}
	waitGone(pid, marker, timeout)
}

// Close kills every server (SIGKILL) and waits for them. The test helper
// calls it in t.Cleanup; data may be left inconsistent, which is fine for
// a directory about to be removed.
func (c *Cluster) Close() error {
	var wg sync.WaitGroup
	for _, n := range c.nodes {
		wg.Add(1)
		go func() { defer wg.Done(); _ = c.Kill(n.Name) }()
	}
	wg.Wait()
	if c.opts.KillWithParent {
		_ = c.KillRole(RoleProxy)
		_ = c.KillRole(RoleManager)
		c.spawner.close()
	}
	if sd := shortSocketDir(c.Dir); len(c.nodes) > 0 && filepath.Dir(c.nodes[0].Socket) == sd {
		_ = os.RemoveAll(sd)
	}
	return nil
}

// Down stops every server cleanly, in reverse order (replicas first).
func (c *Cluster) Down(ctx context.Context) error {
	var errs []error
	for i := len(c.nodes) - 1; i >= 0; i-- {
		errs = append(errs, c.Stop(ctx, c.nodes[i].Name))
	}
	return errors.Join(errs...)
}

// Destroy kills every server and removes the sandbox directory.
func (c *Cluster) Destroy() error {
	_ = c.Close()
	if err := os.RemoveAll(c.Dir); err != nil {
		return fmt.Errorf("remove %s: %w", c.Dir, err)
	}
	return nil
}
