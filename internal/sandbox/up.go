package sandbox

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"vigil/internal/config"
)

// Up creates the cluster in opts.Dir, or reopens it if it exists, and starts
// every server that is not running. A directory left by an interrupted
// first Up is cleaned and created afresh. On error nothing Up started is
// left running.
func Up(ctx context.Context, opts Options) (*Cluster, error) {
	opts.setDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("sandbox dir: %w", err)
	}
	opts.Dir = dir
	if st, err := readState(dir); err == nil && st.Bootstrapped {
		c := newCluster(dir, opts, st)
		var stopped []string
		for _, n := range c.nodes {
			if !c.Running(n.Name) {
				stopped = append(stopped, n.Name)
			}
		}
		if err := c.StartAll(ctx); err != nil {
			for _, name := range stopped { // leave things as they were
				_ = c.Stop(context.WithoutCancel(ctx), name)
			}
			return nil, err
		}
		return c, nil
	}
	return create(ctx, opts)
}

// create makes a fresh cluster: template copy, my.cnf, start, accounts,
// replication. The state file is written first (Bootstrapped=false) so an
// interrupted create can be cleaned up by the next Up or by Destroy.
func create(ctx context.Context, opts Options) (*Cluster, error) {
	old, err := readState(opts.Dir)
	if err != nil && !isEmptyOrMissing(opts.Dir) {
		return nil, fmt.Errorf("%s is not empty and holds no sandbox (no %s): choose a new or empty directory", opts.Dir, stateFile)
	}
	if err := ensureWritable(opts.Dir); err != nil {
		return nil, err
	}
	if old != nil {
		opts.Logger.Info("cleaning up an interrupted sandbox creation", "dir", opts.Dir)
		_ = newCluster(opts.Dir, opts, old).Close()
		for _, f := range []string{"vigil.yaml", "logs", "run"} {
			_ = os.RemoveAll(filepath.Join(opts.Dir, f))
		}
	}
	bins, err := findBinaries(ctx, opts.LookPath)
	if err != nil {
		return nil, err
	}
	tpl, err := templateDir(ctx, bins, opts.CacheDir)
	if err != nil {
		return nil, err
	}
	st, err := newState(opts)
	if err != nil {
		return nil, err
	}
	c := newCluster(opts.Dir, opts, st)
	c.bins = bins
	if err := c.createAndStart(ctx, tpl); err != nil {
		_ = c.Close()
		if errors.Is(ctx.Err(), context.Canceled) {
			return nil, fmt.Errorf("sandbox creation in %s interrupted; nothing left running (up or destroy will clean up): %w", opts.Dir, ctx.Err())
		}
		return nil, err
	}
	return c, nil
}

func (c *Cluster) createAndStart(ctx context.Context, tpl string) error {
	if err := writeState(c.Dir, c.st); err != nil {
		return err
	}
	if c.st.TLS {
		if err := writeTLSFiles(c.Dir); err != nil {
			return fmt.Errorf("sandbox TLS certificates: %w", err)
		}
	}
	start := time.Now()
	if err := c.eachNode(func(n *Node) error { return c.createNode(ctx, n, tpl) }); err != nil {
		return err
	}
	c.opts.Logger.Debug("servers started", "dir", c.Dir, "servers", len(c.nodes), "took", time.Since(start))
	if err := c.bootstrap(ctx); err != nil {
		return err
	}
	c.st.Bootstrapped = true
	if err := writeState(c.Dir, c.st); err != nil {
		return err
	}
	c.opts.Logger.Debug("accounts and replication set up", "dir", c.Dir, "took", time.Since(start))
	return c.afterStart(ctx)
}

// createNode copies the template datadir, writes my.cnf and starts the
// server. With automatically picked ports, a port taken in the meantime is
// replaced by another free one (up to three times).
func (c *Cluster) createNode(ctx context.Context, n *Node, tpl string) error {
	if err := os.RemoveAll(n.Dir); err != nil {
		return fmt.Errorf("clean %s: %w", n.Dir, err)
	}
	if err := os.MkdirAll(filepath.Dir(n.Socket), 0o700); err != nil {
		return fmt.Errorf("create socket dir: %w", err)
	}
	start := time.Now()
	if err := copyTree(tpl, n.DataDir); err != nil {
		return fmt.Errorf("copy template datadir to %s: %w", n.DataDir, err)
	}
	c.opts.Logger.Debug("datadir copied", "server", n.Name, "took", time.Since(start))
	for attempt := 0; ; attempt++ {
		if err := os.WriteFile(n.ConfigFile, []byte(n.myCnf(c.st.SemiSync)+c.tlsCnf()), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", n.ConfigFile, err)
		}
		err := c.startNode(ctx, n)
		var inUse *errPortInUse
		if !errors.As(err, &inUse) || c.opts.BasePort != 0 || attempt == 3 {
			return err
		}
		if err := c.repickPort(n); err != nil {
			return err
		}
	}
}

func (c *Cluster) repickPort(n *Node) error {
	ports, err := FreePorts(1)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	i := n.ServerID - 1
	c.st.Ports[i] = ports[0]
	*n = *newNode(c.Dir, n.ServerID, ports[0])
	return writeState(c.Dir, c.st)
}

func isEmptyOrMissing(dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
	}
	return len(entries) == 0
}

func ensureWritable(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("sandbox dir %s is not writable: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".probe")
	if err != nil {
		return fmt.Errorf("sandbox dir %s is not writable: %w", dir, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

func newState(opts Options) (*state, error) {
	n := opts.Replicas + 1
	var ports []int
	if opts.BasePort == 0 {
		var err error
		if ports, err = FreePorts(n); err != nil {
			return nil, err
		}
	} else {
		for i := range n {
			p := opts.BasePort + i
			if !waitPortFree(p, time.Second) {
				return nil, &errPortInUse{node: fmt.Sprintf("db%d", i+1), port: p}
			}
			ports = append(ports, p)
		}
	}
	return &state{
		Replicas:    opts.Replicas,
		SemiSync:    opts.SemiSync,
		TLS:         opts.TLS,
		Ports:       ports,
		Database:    opts.Database,
		App:         config.Credentials{User: opts.AppUser, Password: opts.AppPassword},
		Admin:       config.Credentials{User: "vigil_admin", Password: password()},
		Replication: config.Credentials{User: "vigil_repl", Password: password()},
	}, nil
}

func password() string { return rand.Text()[:20] }

// StartAll starts every server that is not running and waits until all
// accept connections.
func (c *Cluster) StartAll(ctx context.Context) error {
	if err := c.eachNode(func(n *Node) error { return c.Start(ctx, n.Name) }); err != nil {
		return err
	}
	return c.afterStart(ctx)
}

// Start starts the named server if it is not running and waits until it
// accepts connections (bounded by ctx and 60 s). A server that exits during
// start gives an error with the tail of its error log.
func (c *Cluster) Start(ctx context.Context, name string) error {
	n := c.Node(name)
	if n == nil {
		return fmt.Errorf("start %s: no such server", name)
	}
	if c.PID(name) != 0 {
		return nil
	}
	if !waitPortFree(n.Port, 3*time.Second) {
		return &errPortInUse{node: n.Name, port: n.Port}
	}
	return c.startNode(ctx, n)
}

func (c *Cluster) startNode(ctx context.Context, n *Node) error {
	if err := c.ensureBinaries(ctx); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(n.Socket), 0o700); err != nil {
		return fmt.Errorf("create socket dir: %w", err)
	}
	p, err := c.spawn(n)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.procs[n.Name] = p
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := c.waitReady(ctx, n, p); err != nil {
		_ = c.Kill(n.Name)
		return err
	}
	return nil
}

func (c *Cluster) ensureBinaries(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bins.mariadbd != "" {
		return nil
	}
	b, err := findBinaries(ctx, c.opts.LookPath)
	if err != nil {
		return err
	}
	c.bins = b
	return nil
}

// eachNode runs fn for every node in parallel and joins the errors.
func (c *Cluster) eachNode(fn func(n *Node) error) error {
	errs := make([]error, len(c.nodes))
	var wg sync.WaitGroup
	for i, n := range c.nodes {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = fn(n) }()
	}
	wg.Wait()
	return errors.Join(errs...)
}
