package sandbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/go-sql-driver/mysql"
	"vigil/internal/config"
)

// StackOptions describe `vigil sandbox up`: the servers plus a manager and
// a proxy running in the background from the vigil executable.
type StackOptions struct {
	Options
	// ProxyPort is the proxy's MySQL port (default 6033).
	ProxyPort int
	// Executable is the vigil binary started as `manager` and `proxy`.
	Executable string
	// ReadyTimeout bounds the wait for a query through the proxy (default 60 s).
	ReadyTimeout time.Duration
	// ServersOnly starts the MariaDB servers only: no manager, no proxy
	// (vigil.yaml is still written). With no manager to open the primary,
	// it implies PrimaryWritable.
	ServersOnly bool
}

// UpStack brings the whole sandbox up (idempotently): servers, vigil.yaml,
// manager, proxy, and returns once a transaction through the proxy sees a
// writable primary. On failure it stops everything again and the error
// carries the tail of the role logs.
func UpStack(ctx context.Context, o StackOptions) (*Cluster, *config.Config, error) {
	if o.ProxyPort == 0 {
		o.ProxyPort = 6033
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 60 * time.Second
	}
	if o.ServersOnly {
		o.PrimaryWritable = true
	}
	if err := checkProxyPort(o); err != nil {
		return nil, nil, err
	}
	c, err := Up(ctx, o.Options)
	if err != nil {
		return nil, nil, err
	}
	if o.ServersOnly {
		cfg, err := c.EnsureConfig(o.ProxyPort)
		return c, cfg, err
	}
	cfg, err := c.upRoles(ctx, o)
	if err != nil {
		c.stopAll(context.WithoutCancel(ctx))
		return nil, nil, err
	}
	return c, cfg, nil
}

// checkProxyPort fails early, before any server starts, when a new
// sandbox's proxy port is taken.
func checkProxyPort(o StackOptions) error {
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, "vigil.yaml")); err == nil || o.ServersOnly {
		return nil
	}
	if !waitPortFree(o.ProxyPort, time.Second) {
		return &errPortInUse{node: "the proxy", port: o.ProxyPort, flag: "--proxy-port"}
	}
	return nil
}

func (c *Cluster) upRoles(ctx context.Context, o StackOptions) (*config.Config, error) {
	cfg, err := c.EnsureConfig(o.ProxyPort)
	if err != nil {
		return nil, err
	}
	for _, role := range []string{RoleManager, RoleProxy} {
		if err := c.StartRole(role, o.Executable); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, o.ReadyTimeout)
	defer cancel()
	if err := c.WaitProxy(ctx, cfg); err != nil {
		return nil, fmt.Errorf("%w\n  manager log %s: %s\n  proxy log %s: %s", err,
			c.LogPath(RoleManager), tailFile(c.LogPath(RoleManager), 5),
			c.LogPath(RoleProxy), tailFile(c.LogPath(RoleProxy), 5))
	}
	return cfg, nil
}

// WaitProxy waits until a transaction through the proxy (app user) reaches
// a primary with read_only=OFF, i.e. writes would work. It gives up early
// when both roles have exited.
func (c *Cluster) WaitProxy(ctx context.Context, cfg *config.Config) error {
	mc := mysql.NewConfig()
	mc.User, mc.Passwd, mc.Net, mc.Addr, mc.DBName = c.st.App.User, c.st.App.Password, "tcp", cfg.Proxy.Listen, c.st.Database
	mc.Timeout = 2 * time.Second
	connector, err := mysql.NewConnector(mc)
	if err != nil {
		return err
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	lastErr := errors.New("no attempt yet")
	for {
		if lastErr = probeWritable(ctx, db); lastErr == nil {
			return nil
		}
		if c.RoleExited(RoleProxy) {
			return fmt.Errorf("the proxy exited before serving queries on %s (last error: %v)", cfg.Proxy.Listen, lastErr)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no working query through the proxy on %s: %v", cfg.Proxy.Listen, lastErr)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func probeWritable(ctx context.Context, db *sql.DB) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var ro int
	if err := tx.QueryRowContext(ctx, "SELECT @@global.read_only").Scan(&ro); err != nil {
		return err
	}
	if ro != 0 {
		return errors.New("the proxy's primary is still read_only (no primary promoted yet)")
	}
	return tx.Commit()
}

// stopAll stops the roles and the servers, ignoring errors (cleanup path).
func (c *Cluster) stopAll(ctx context.Context) {
	_ = c.StopRole(ctx, RoleProxy)
	_ = c.StopRole(ctx, RoleManager)
	_ = c.Down(ctx)
}

// DownStack stops the proxy, the manager and then the servers cleanly.
func (c *Cluster) DownStack(ctx context.Context) error {
	return errors.Join(c.StopRole(ctx, RoleProxy), c.StopRole(ctx, RoleManager), c.Down(ctx))
}

// DestroyStack kills everything and removes the directory.
func (c *Cluster) DestroyStack() error {
	_ = c.KillRole(RoleProxy)
	_ = c.KillRole(RoleManager)
	return c.Destroy()
}

// WriteWelcome prints what a user needs after `up`: endpoint, credentials,
// a mariadb command line, Moodle's config.php lines and where logs are.
func (c *Cluster) WriteWelcome(w io.Writer, cfg *config.Config) error {
	host, port := splitAddr(cfg.Proxy.Listen)
	app := c.st.App
	_, err := fmt.Fprintf(w, `Vigil sandbox is up in %s
  endpoint:  %s  (vigil proxy: writes to the primary, reads from replicas)
  user:      %s / %s   database: %s
  connect:   mariadb -h %s -P %s -u %s -p'%s' %s
  Moodle config.php:
    $CFG->dbtype    = 'mariadb';
    $CFG->dblibrary = 'native';
    $CFG->dbhost    = '%s';
    $CFG->dbname    = '%s';
    $CFG->dbuser    = '%s';
    $CFG->dbpass    = '%s';
    $CFG->prefix    = 'mdl_';
    $CFG->dboptions = array('dbport' => %s, 'dbcollation' => 'utf8mb4_unicode_ci');
  servers:   %s
  manager:   http://%s/api/v1/topology
  config:    %s (0600, holds the generated admin/replication passwords)
  logs:      %s/logs/ (manager, proxy), %s/db*/error.log (servers)
  status:    vigil sandbox status --dir %s
`, c.Dir, cfg.Proxy.Listen, app.User, app.Password, c.st.Database,
		host, port, app.User, app.Password, c.st.Database,
		host, c.st.Database, app.User, app.Password, port,
		c.serverList(), cfg.Manager.Listen, c.ConfigPath(), c.Dir, c.Dir, c.Dir)
	return err
}

// WriteServers prints the servers and a mariadb command line for db1 (the
// `up --servers-only` summary).
func (c *Cluster) WriteServers(w io.Writer) error {
	n := c.nodes[0]
	app := c.st.App
	_, err := fmt.Fprintf(w, `Vigil sandbox servers are up in %s (no manager, no proxy; db1 is writable)
  servers:   %s
  connect:   mariadb -h %s -P %d -u %s -p'%s' %s
  config:    %s (0600, holds the generated admin/replication passwords)
  logs:      %s/db*/error.log
`, c.Dir, c.serverList(), n.Host, n.Port, app.User, app.Password, c.st.Database, c.ConfigPath(), c.Dir)
	return err
}

func (c *Cluster) serverList() string {
	s := ""
	for i, n := range c.nodes {
		if i > 0 {
			s += ", "
		}
		s += n.Name + "=" + n.Addr
	}
	return s
}

func splitAddr(addr string) (string, string) {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			return addr[:i], addr[i+1:]
		}
	}
	return addr, ""
}
