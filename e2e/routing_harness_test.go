package e2e

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/prometheus/client_golang/prometheus"

	"vigil/internal/config"
	"vigil/internal/proxy"
	"vigil/internal/proxy/proxytest"
	"vigil/internal/router"
	"vigil/internal/sandbox"
	"vigil/internal/sandbox/sandboxtest"
	"vigil/internal/topology"
)

// Extra application users the routing tests create on the cluster.
const (
	rtSafeReads = "moodle_safereads" // default_route: replica
	rtWriter    = "moodle_writer"    // default_route: primary
	rtPassword  = "s3cret-pw"
)

// rtHarness is a real replicated MariaDB cluster (db1 primary, db2 and db3
// replicas) behind an in-process proxy wired as `vigil proxy` without a
// manager: a real monitor probes the servers every 100ms and a standalone
// topology source feeds the proxy and its router.
type rtHarness struct {
	t      testing.TB
	c      *sandbox.Cluster
	cfg    *config.Config
	router *router.Router
	srv    *proxy.Server
	src    *topology.Standalone
	reg    *prometheus.Registry
	addr   string
	ids    map[string]string // @@server_id -> node name
}

// newRoutingHarness starts the cluster and proxy. edit adjusts the
// configuration (routing section, users) before the proxy starts.
func newRoutingHarness(t testing.TB, edit func(*config.Config)) *rtHarness {
	t.Helper()
	c := sandboxtest.New(t, sandbox.Options{Replicas: 2, PrimaryWritable: true})
	h := &rtHarness{t: t, c: c, cfg: c.Config(), ids: map[string]string{}}
	h.createUsers()
	h.cfg.Users = append(h.cfg.Users,
		config.User{Name: rtSafeReads, Password: rtPassword, DefaultRoute: "replica"},
		config.User{Name: rtWriter, Password: rtPassword, DefaultRoute: "primary"})
	h.cfg.Proxy.HoldTimeout = 3 * time.Second
	h.cfg.Proxy.Pipelines = testPipelines()
	if edit != nil {
		edit(h.cfg)
	}
	if err := h.cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	for _, n := range c.Nodes() {
		var id string
		h.adminDB(n.Name).QueryRow("SELECT @@server_id").Scan(&id)
		h.ids[id] = n.Name
	}
	h.start()
	h.waitTopology(func(s *topology.Snapshot) bool { return s.Primary == "db1" && h.replicasFit(s) == 2 })
	return h
}

// start runs the monitor, the topology source, the pool and the proxy
// until cleanup.
func (h *rtHarness) start() {
	t := h.t
	log := proxytest.Logger()
	mc := topology.MonitorConfigFrom(h.cfg)
	mc.Interval = 100 * time.Millisecond
	mon, err := topology.NewMonitor(mc, log)
	if err != nil {
		t.Fatal(err)
	}
	h.src = topology.NewStandalone(mon, log)
	px := proxytest.Start(t, h.cfg, h.src, proxytest.Options{Logger: log, Run: []func(context.Context) error{mon.Run, h.src.Run}, RunPool: true})
	h.router, h.srv, h.reg, h.addr = px.Router, px.Server, px.Registry, px.Addr
}

// createUsers adds the safe-reads and writer accounts on the primary (they
// replicate) and waits until every replica has them.
func (h *rtHarness) createUsers() {
	db := h.adminDB("db1")
	dbName := h.c.Database()
	for _, u := range []string{rtSafeReads, rtWriter} {
		for _, q := range []string{
			fmt.Sprintf("CREATE USER IF NOT EXISTS '%s'@'%%' IDENTIFIED BY '%s'", u, rtPassword),
			fmt.Sprintf("GRANT ALL ON `%s`.* TO '%s'@'%%'", dbName, u),
		} {
			if _, err := db.Exec(q); err != nil {
				h.t.Fatalf("%s: %v", q, err)
			}
		}
	}
	h.syncReplicas()
}

// syncReplicas waits until every replica has applied the primary's
// current GTID position.
func (h *rtHarness) syncReplicas() {
	h.t.Helper()
	sandboxtest.WaitReplicated(h.t, h.c, 30*time.Second, "db1", "db2", "db3")
}

// adminDB is a handle for the admin account directly on node (closed at cleanup).
func (h *rtHarness) adminDB(node string) *sql.DB {
	h.t.Helper()
	return sandboxtest.OpenDB(h.t, h.c.AdminDSN(node))
}

// admin runs statements as the admin user directly on node.
func (h *rtHarness) admin(node string, stmts ...string) {
	h.t.Helper()
	sandboxtest.Exec(h.t, sandboxtest.OpenDB(h.t, h.c.AdminDSN(node)), stmts...)
}

// dsn is a DSN through the proxy. The client sends text-protocol
// statements (interpolateParams), as Moodle does.
func (h *rtHarness) dsn(user, pass string) string {
	mc := mysql.NewConfig()
	mc.User, mc.Passwd, mc.Net, mc.Addr, mc.DBName = user, pass, "tcp", h.addr, h.c.Database()
	mc.Timeout = 5 * time.Second
	mc.ReadTimeout = 30 * time.Second
	mc.InterpolateParams = true
	return mc.FormatDSN()
}

// conn opens one client session through the proxy as user (the app user if empty).
func (h *rtHarness) conn(user string) *sql.Conn {
	h.t.Helper()
	pass := rtPassword
	if user == "" {
		user, pass = h.c.App().User, h.c.App().Password
	}
	db := sandboxtest.OpenDB(h.t, h.dsn(user, pass))
	c, err := db.Conn(context.Background())
	if err != nil {
		h.t.Fatalf("connect through the proxy as %s: %v", user, err)
	}
	h.t.Cleanup(func() { c.Close() })
	return c
}

// where runs a read that selects @@server_id as its first column (plus
// whatever else) and returns the node that answered.
func (h *rtHarness) where(c *sql.Conn, query string) string {
	h.t.Helper()
	rows, err := c.QueryContext(context.Background(), query)
	if err != nil {
		h.t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	vals := make([]any, len(cols))
	for i := range vals {
		vals[i] = new(sql.RawBytes)
	}
	node := ""
	for rows.Next() {
		if err := rows.Scan(vals...); err != nil {
			h.t.Fatal(err)
		}
		node = h.ids[string(*vals[0].(*sql.RawBytes))]
	}
	if err := rows.Err(); err != nil {
		h.t.Fatalf("%s: %v", query, err)
	}
	return node
}

// lockReplicas takes a global read lock on each replica, which blocks its
// applier while reads still work; release unlocks them.
func (h *rtHarness) lockReplicas(t testing.TB) (release func()) {
	t.Helper()
	var conns []*sql.Conn
	for _, n := range []string{"db2", "db3"} {
		c, err := h.adminDB(n).Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.ExecContext(context.Background(), "FLUSH TABLES WITH READ LOCK"); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	return func() {
		for _, c := range conns {
			c.ExecContext(context.Background(), "UNLOCK TABLES")
			c.Close()
		}
	}
}

// replicasFit counts the replicas of s that may serve reads.
func (h *rtHarness) replicasFit(s *topology.Snapshot) int {
	n := 0
	for _, node := range s.Nodes {
		if node.Role == topology.RoleReplica && node.Up && node.Lag >= 0 && node.Lag <= h.cfg.Routing.MaxReplicaLag {
			n++
		}
	}
	return n
}

// waitTopology waits (up to 15s) for a snapshot satisfying ok.
func (h *rtHarness) waitTopology(ok func(*topology.Snapshot) bool) {
	h.t.Helper()
	sandboxtest.WaitSnapshot(h.t, h.src, 15*time.Second, "the wanted topology", ok)
}

// rtIsReplica reports whether node is one of the replicas.
func rtIsReplica(node string) bool { return node == "db2" || node == "db3" }

// rtSQLErrNumber returns the MySQL error number of err (0 if none).
func rtSQLErrNumber(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

// rtOneRow runs a query that returns one row of one column on c.
func rtOneRow(t testing.TB, c *sql.Conn, query string) string {
	t.Helper()
	var s sql.NullString
	if err := c.QueryRowContext(context.Background(), query).Scan(&s); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return s.String
}

// rtExecAll runs statements on c.
func rtExecAll(t testing.TB, c *sql.Conn, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := c.ExecContext(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", strings.TrimSpace(s), err)
		}
	}
}

// routed returns the router's statement counters by "target/reason".
func (h *rtHarness) routed() map[string]float64 {
	out := map[string]float64{}
	mfs, err := h.reg.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "vigil_router_statements_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var target, reason string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "target":
					target = l.GetValue()
				case "reason":
					reason = l.GetValue()
				}
			}
			if v := m.GetCounter().GetValue(); v > 0 {
				out[target+"/"+reason] = v
			}
		}
	}
	return out
}
