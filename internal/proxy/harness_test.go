package proxy_test

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/prometheus/client_golang/prometheus"

	"vigil/internal/config"
	"vigil/internal/pool"
	"vigil/internal/proxy"
	"vigil/internal/router"
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
	h := &harness{t: t, c: c, cfg: c.Config(), reg: prometheus.NewRegistry()}
	h.cfg.Proxy.HoldTimeout = 3 * time.Second
	if edit != nil {
		edit(h.cfg)
	}
	h.pub = topology.NewPublisher(nil)
	h.publish("db1")
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("VIGIL_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	p, err := pool.New(pool.Config{ConnectTimeout: 2 * time.Second, IdleTimeout: time.Minute}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.pool = p
	rcfg, err := router.FromConfig(h.cfg)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := router.New(rcfg, h.reg, log)
	if err != nil {
		t.Fatal(err)
	}
	pcfg, err := proxy.ConfigFrom(h.cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.srv, err = proxy.New(pcfg, h.pub, proxy.Options{Pool: p, Router: rt, Registry: h.reg, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.addr = l.Addr().String()
	done := make(chan error, 1)
	go func() { done <- h.srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = h.srv.Shutdown(ctx)
		if err := <-done; !errors.Is(err, proxy.ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
		p.Close()
	})
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
	mc := mysql.NewConfig()
	mc.User, mc.Passwd, mc.Net, mc.Addr, mc.DBName = user, pass, "tcp", h.addr, db
	mc.Timeout = 5 * time.Second
	if edit != nil {
		edit(mc)
	}
	return mc.FormatDSN()
}

// directDSN is the same DSN straight to a server.
func (h *harness) directDSN(node, user, pass, db string, edit func(*mysql.Config)) string {
	mc := mysql.NewConfig()
	mc.User, mc.Passwd, mc.Net, mc.Addr, mc.DBName = user, pass, "tcp", h.c.Node(node).Addr, db
	mc.Timeout = 5 * time.Second
	if edit != nil {
		edit(mc)
	}
	return mc.FormatDSN()
}

// open opens a database handle and closes it at cleanup.
func (h *harness) open(dsn string) *sql.DB {
	h.t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { db.Close() })
	return db
}

// admin runs statements as the admin user directly on node.
func (h *harness) admin(node string, stmts ...string) {
	h.t.Helper()
	db, err := sql.Open("mysql", h.c.AdminDSN(node))
	if err != nil {
		h.t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			h.t.Fatalf("%s on %s: %v", s, node, err)
		}
	}
}

func (h *harness) app() config.Credentials { return h.c.App() }

// catchUp waits until replica has applied everything db1 has written.
func (h *harness) catchUp(replica string) {
	h.t.Helper()
	src, err := sql.Open("mysql", h.c.AdminDSN("db1"))
	if err != nil {
		h.t.Fatal(err)
	}
	defer src.Close()
	var pos string
	if err := src.QueryRow("SELECT @@global.gtid_binlog_pos").Scan(&pos); err != nil {
		h.t.Fatal(err)
	}
	dst, err := sql.Open("mysql", h.c.AdminDSN(replica))
	if err != nil {
		h.t.Fatal(err)
	}
	defer dst.Close()
	var res int
	if err := dst.QueryRow("SELECT MASTER_GTID_WAIT(?, 10)", pos).Scan(&res); err != nil || res != 0 {
		h.t.Fatalf("%s did not reach %s: %d %v", replica, pos, res, err)
	}
}
