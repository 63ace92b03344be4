package proxy_test

import (
	"context"
	"database/sql"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/prometheus/client_golang/prometheus"

	"vigil/internal/config"
	"vigil/internal/mysqlwire"
	"vigil/internal/pool"
	"vigil/internal/proxy"
	"vigil/internal/proxy/proxytest"
	"vigil/internal/sandbox"
	"vigil/internal/sandbox/sandboxtest"
	"vigil/internal/topology"
)

// harness is a real sandbox cluster with an in-process proxy in front of
// it, whose topology the test controls through a Publisher.
type harness struct {
	t    testing.TB
	c    *sandbox.Cluster
	cfg  *config.Config
	pub  *topology.Publisher
	srv  *proxy.Server
	reg  *prometheus.Registry
	pool *pool.Pool
	addr string
	ver  uint64
}

// newHarness starts a cluster (db1 writable primary, replicas replicas)
// and a proxy. edit, if not nil, adjusts the configuration first.
func newHarness(t testing.TB, replicas int, edit func(*config.Config)) *harness {
	t.Helper()
	c := sandboxtest.New(t, sandbox.Options{Replicas: replicas, PrimaryWritable: true})
	h := &harness{t: t, c: c, cfg: c.Config()}
	h.cfg.Proxy.HoldTimeout = 3 * time.Second
	h.cfg.Proxy.DataPath = os.Getenv("VIGIL_TEST_DATA_PATH")                   // scripts/test runs this package with each
	h.cfg.Proxy.Pipelines, _ = strconv.Atoi(os.Getenv("VIGIL_TEST_PIPELINES")) // and with pipelines on
	if edit != nil {
		edit(h.cfg)
	}
	h.pub = topology.NewPublisher(nil)
	h.publish("db1")
	px := proxytest.Start(t, h.cfg, h.pub, proxytest.Options{})
	h.srv, h.reg, h.pool, h.addr = px.Server, px.Registry, px.Pool, px.Addr
	return h
}

// publish announces primary (empty: none) with every other node a healthy,
// up-to-date replica, under a new epoch.
func (h *harness) publish(primary string) {
	h.ver++
	snap := &topology.Snapshot{Epoch: h.ver, Version: h.ver, Primary: primary}
	for _, n := range h.c.Nodes() {
		role := topology.RoleReplica
		if n.Name == primary {
			role = topology.RolePrimary
		}
		snap.Nodes = append(snap.Nodes, topology.Node{
			Name: n.Name, Address: n.Addr, Role: role, Up: true, ReadOnly: n.Name != primary, Weight: 1,
		})
	}
	h.pub.Publish(snap)
}

// dsn is a go-sql-driver DSN through the proxy.
func (h *harness) dsn(user, pass, db string, edit func(*mysql.Config)) string {
	return tcpDSN(h.addr, user, pass, db, edit)
}

// directDSN is the same DSN straight to a server.
func (h *harness) directDSN(node, user, pass, db string, edit func(*mysql.Config)) string {
	return tcpDSN(h.c.Node(node).Addr, user, pass, db, edit)
}

// tcpDSN is a go-sql-driver DSN for addr with a 5s connect timeout; edit,
// if not nil, adjusts it.
func tcpDSN(addr, user, pass, db string, edit func(*mysql.Config)) string {
	mc := mysql.NewConfig()
	mc.User, mc.Passwd, mc.Net, mc.Addr, mc.DBName = user, pass, "tcp", addr, db
	mc.Timeout = 5 * time.Second
	if edit != nil {
		edit(mc)
	}
	return mc.FormatDSN()
}

// open opens a database handle and closes it at cleanup.
func (h *harness) open(dsn string) *sql.DB {
	h.t.Helper()
	return sandboxtest.OpenDB(h.t, dsn)
}

// admin runs statements as the admin user directly on node.
func (h *harness) admin(node string, stmts ...string) {
	h.t.Helper()
	sandboxtest.Exec(h.t, sandboxtest.OpenDB(h.t, h.c.AdminDSN(node)), stmts...)
}

func (h *harness) app() config.Credentials { return h.c.App() }

// catchUp waits until replica has applied everything db1 has written.
func (h *harness) catchUp(replica string) {
	h.t.Helper()
	sandboxtest.WaitReplicated(h.t, h.c, 10*time.Second, "db1", replica)
}

// appSession opens a pool of one connection through the proxy as the
// application user, in the cluster's database.
func (h *harness) appSession() *sql.DB {
	app := h.app()
	db := h.open(h.dsn(app.User, app.Password, h.c.Database(), nil))
	db.SetMaxOpenConns(1)
	return db
}

// dialApp logs in to the proxy as the application user with mysqlwire's
// client; the connection is closed at cleanup.
func (h *harness) dialApp() *mysqlwire.ClientConn {
	h.t.Helper()
	app := h.app()
	c, err := mysqlwire.Dial(context.Background(), mysqlwire.DialConfig{Addr: h.addr, User: app.User, Password: app.Password})
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { c.Close() })
	return c
}
