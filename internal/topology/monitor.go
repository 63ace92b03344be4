package topology

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"vigil/internal/config"
	"vigil/internal/mysqlwire"
)

// Server is one server the monitor probes.
type Server struct {
	Name    string
	Address string
	Weight  int
}

// MonitorConfig configures a Monitor.
type MonitorConfig struct {
	// Servers are probed concurrently, each on its own connection.
	Servers []Server
	// User and Password are the admin account used to probe.
	User     string
	Password string
	// Interval is the time between two probes of one server (default 500ms).
	Interval time.Duration
	// ConnectTimeout bounds dialing a server (default 1s).
	ConnectTimeout time.Duration
	// ReadTimeout bounds each probe query (default 1s).
	ReadTimeout time.Duration
	// TLS secures the probe connections in the modes of the MySQL
	// client's --ssl-mode (nil: plain TCP): preferred uses TLS when the
	// server offers it and plain TCP otherwise, required checks no
	// certificate, verify_ca checks the chain against TLS.Roots, and
	// verify_identity also checks that the certificate names the host of
	// the server's address. The standalone proxy sets it from
	// proxy.backend_tls and the manager from cluster.tls;
	// MonitorConfigFrom leaves it nil.
	TLS *mysqlwire.ClientTLS
}

// MonitorConfigFrom builds the monitor configuration from the shared file.
func MonitorConfigFrom(cfg *config.Config) MonitorConfig {
	mc := MonitorConfig{
		User:           cfg.Accounts.Admin.User,
		Password:       cfg.Accounts.Admin.Password,
		Interval:       cfg.Manager.ProbeInterval,
		ConnectTimeout: cfg.Manager.ConnectTimeout,
		ReadTimeout:    cfg.Manager.ReadTimeout,
	}
	for _, s := range cfg.Cluster.Servers {
		mc.Servers = append(mc.Servers, Server{Name: s.Name, Address: s.Address, Weight: s.Weight})
	}
	return mc
}

func (c *MonitorConfig) setDefaults() {
	if c.Interval == 0 {
		c.Interval = 500 * time.Millisecond
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = time.Second
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = time.Second
	}
}

// Validate checks the configuration.
func (c *MonitorConfig) Validate() error {
	if len(c.Servers) == 0 {
		return errors.New("monitor: no servers")
	}
	if c.Interval <= 0 || c.ConnectTimeout <= 0 || c.ReadTimeout <= 0 {
		return errors.New("monitor: interval and timeouts must be positive")
	}
	return nil
}

// Open returns a go-sql-driver handle for addr with the given credentials,
// connect timeout and read/write timeout rt (0: none), over TLS in the
// modes MonitorConfig.TLS describes (nil or off: plain TCP). The monitor's
// probes and the manager's actions both connect through it.
func Open(user, password, addr string, connect, rt time.Duration, t *mysqlwire.ClientTLS) (*sql.DB, error) {
	dc := mysql.NewConfig()
	dc.User, dc.Passwd, dc.Net, dc.Addr = user, password, "tcp", addr
	dc.Timeout, dc.ReadTimeout, dc.WriteTimeout = connect, rt, rt
	dc.InterpolateParams = true
	dc.DialFunc = dialDirect
	if t != nil && t.Mode != mysqlwire.TLSOff {
		dc.TLS = t.Config(addr)
		dc.AllowFallbackToPlaintext = t.Mode == mysqlwire.TLSPreferred
	}
	conn, err := mysql.NewConnector(dc)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(conn), nil
}

// dialDirect dials a TCP connection on mysqlwire's raw I/O path. On the
// ordinary path a write that wakes the server can outlast the runtime's
// 20 µs syscall grace, after which the runtime hands the P to another
// thread; a proxy sharing the process then moves its statement path from
// thread to thread, often to another CPU (bench/README.md: with probes
// every 500 ms one sysbench thread ran 0.945 of HAProxy's point selects
// through the ordinary path and 0.965 with this one).
func dialDirect(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return mysqlwire.Direct(nc), nil
}

// openProbe returns the handle that probes addr, with TLS as c.TLS says.
func (c *MonitorConfig) openProbe(addr string) (*sql.DB, error) {
	return Open(c.User, c.Password, addr, c.ConnectTimeout, c.ReadTimeout, c.TLS)
}

// explain adds to a probe error what the server's message leaves out.
// MariaDB refuses a plain TCP login to a server with
// require_secure_transport=ON, or to an account that REQUIREs SSL or
// X509, with the same error 1045 as a wrong password (MySQL says 3159 or
// names the requirement), so an access denied to a probe without TLS
// names that possible cause.
func (c *MonitorConfig) explain(err error) error {
	var me *mysql.MySQLError
	if c.TLS != nil && c.TLS.Mode != mysqlwire.TLSOff || !errors.As(err, &me) || me.Number != mysqlwire.ErAccessDenied {
		return err
	}
	return fmt.Errorf("%w (the probe connected without TLS, which a server with require_secure_transport=ON "+
		"or an account that REQUIREs SSL or X509 refuses with this same error; the manager probes with TLS "+
		"when cluster.tls is set, a standalone proxy when proxy.backend_tls or cluster.tls is)", err)
}

// Observation is the latest probe of every server.
type Observation struct {
	// Seq increases with every probe result.
	Seq uint64
	// Probes maps server name to its latest probe; servers not probed yet
	// are absent.
	Probes map[string]Probe
}

// Monitor probes every server at a fixed interval, each on its own kept-open
// connection with tight timeouts, and keeps the newest result per server.
// Both the manager and the proxy's standalone mode use it. Run owns every
// goroutine; Observe and ProbeNow are safe from any goroutine.
type Monitor struct {
	cfg    MonitorConfig
	log    *slog.Logger
	kick   map[string]chan struct{}
	mu     sync.Mutex
	obs    Observation
	change chan struct{}
}

// NewMonitor returns a monitor; call Run to start probing.
func NewMonitor(cfg MonitorConfig, log *slog.Logger) (*Monitor, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &Monitor{cfg: cfg, log: log, kick: map[string]chan struct{}{},
		obs: Observation{Probes: map[string]Probe{}}, change: make(chan struct{})}
	for _, s := range cfg.Servers {
		m.kick[s.Name] = make(chan struct{}, 1)
	}
	return m, nil
}

// Config returns the monitor's configuration with defaults applied.
func (m *Monitor) Config() MonitorConfig { return m.cfg }

// Observe returns the newest observation (shared and immutable: do not
// modify its map) and a channel closed when a newer one exists.
func (m *Monitor) Observe() (Observation, <-chan struct{}) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.obs, m.change
}

// ProbeNow asks for an immediate probe of the named servers (all when none
// are named) without waiting for it.
func (m *Monitor) ProbeNow(names ...string) {
	if len(names) == 0 {
		for n := range m.kick {
			names = append(names, n)
		}
	}
	for _, n := range names {
		if ch, ok := m.kick[n]; ok {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
}

// Run probes until ctx ends; it returns nil on cancellation.
func (m *Monitor) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, s := range m.cfg.Servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.runServer(ctx, s)
		}()
	}
	wg.Wait()
	return nil
}

func (m *Monitor) runServer(ctx context.Context, s Server) {
	db, err := m.cfg.openProbe(s.Address)
	if err != nil { // only on a malformed configuration
		m.log.Error("cannot open probe connection", "server", s.Name, "err", err)
		return
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	t := time.NewTicker(m.cfg.Interval)
	defer t.Stop()
	prev := Probe{}
	for {
		prev = m.probeOnce(ctx, db, s, prev)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-m.kick[s.Name]:
		}
	}
}

func (m *Monitor) probeOnce(ctx context.Context, db *sql.DB, s Server, prev Probe) Probe {
	p := Probe{Name: s.Name, Address: s.Address, At: time.Now(), LastOK: prev.LastOK}
	pctx, cancel := context.WithTimeout(ctx, m.cfg.ConnectTimeout+m.cfg.ReadTimeout)
	err := ProbeServer(pctx, db, &p)
	cancel()
	if ctx.Err() != nil {
		return prev
	}
	p.Took = time.Since(p.At)
	if err != nil {
		err = m.cfg.explain(err)
		p = Probe{Name: s.Name, Address: s.Address, At: p.At, Took: p.Took, LastOK: prev.LastOK,
			Err: err.Error(), Failures: prev.Failures + 1}
		if p.Failures == 1 {
			m.log.Warn("server probe failed", "server", s.Name, "addr", s.Address, "err", err)
		}
	} else {
		p.LastOK = p.At
		if prev.Failures > 0 {
			m.log.Info("server answers probes again", "server", s.Name, "failed_probes", prev.Failures)
		}
	}
	m.store(p)
	return p
}

func (m *Monitor) store(p Probe) {
	m.mu.Lock()
	defer m.mu.Unlock()
	probes := maps.Clone(m.obs.Probes)
	probes[p.Name] = p
	m.obs = Observation{Seq: m.obs.Seq + 1, Probes: probes}
	close(m.change)
	m.change = make(chan struct{})
}

// String describes the probe briefly for logs.
func (p Probe) String() string {
	if !p.OK() {
		return fmt.Sprintf("%s down (%d failures): %s", p.Name, p.Failures, p.Err)
	}
	return fmt.Sprintf("%s up read_only=%v gtid=%s", p.Name, p.ReadOnly, p.GTIDCurrentPos)
}
