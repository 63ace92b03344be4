package e2e

import (
	"context"
	"database/sql"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"vigil/internal/manager"
	"vigil/internal/proxy/proxytest"
	"vigil/internal/sandbox"
	"vigil/internal/sandbox/sandboxtest"
	"vigil/internal/topology"
)

// startProxy runs an in-process proxy that follows the manager at
// managerURL through topology.Remote, as `vigil proxy` does.
func startProxy(t *testing.T, c *sandbox.Cluster, managerURL string) string {
	t.Helper()
	cfg := c.Config()
	cfg.Proxy.HoldTimeout = 10 * time.Second
	cfg.Proxy.ManagerURL = managerURL
	cfg.Proxy.Pipelines = testPipelines()
	log := slog.New(slog.DiscardHandler)
	remote, err := topology.NewRemote(managerURL, log)
	if err != nil {
		t.Fatal(err)
	}
	px := proxytest.Start(t, cfg, remote, proxytest.Options{
		Logger: log, ConnectTimeout: 500 * time.Millisecond,
		Run: []func(context.Context) error{remote.Run}, RunPool: true,
	})
	sandboxtest.WaitSnapshot(t, remote, 10*time.Second, "the proxy to see a primary", func(s *topology.Snapshot) bool { return s.Primary != "" })
	return px.Addr
}

func proxyDSN(c *sandbox.Cluster, addr string) string {
	app := c.App()
	mc := mysql.NewConfig()
	mc.User, mc.Passwd, mc.Net, mc.Addr = app.User, app.Password, "tcp", addr
	mc.Timeout = 2 * time.Second
	// Text protocol: the proxy does not yet re-prepare statements on a new
	// primary after a switchover (Error 1243), which is its own issue.
	mc.InterpolateParams = true
	return mc.FormatDSN()
}

// proxyWriters insert rows through the proxy from n sessions (one
// connection each), recording acknowledged ids and client-visible errors
// in the returned log; the returned func stops them and waits.
func proxyWriters(t *testing.T, dsn string, n int) (*writeLog, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	wl := &writeLog{}
	var wg sync.WaitGroup
	for w := range n {
		db, err := sql.Open("mysql", dsn)
		if err != nil {
			t.Fatal(err)
		}
		db.SetMaxOpenConns(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer db.Close()
			for seq := 1; ctx.Err() == nil; seq++ {
				ictx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				started := time.Now()
				_, err := db.ExecContext(ictx, "INSERT INTO t.w (id, writer) VALUES (?, ?)", idFor(w, seq), w)
				cancel()
				if err == nil {
					wl.ack(w, idFor(w, seq), "", started)
					continue
				}
				wl.mu.Lock()
				wl.errors++
				wl.errs = append(wl.errs, err.Error())
				wl.mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	return wl, func() { cancel(); wg.Wait() }
}

func TestFailoverThroughProxyKill9SemiSync(t *testing.T) {
	t.Parallel()
	c, m, addr := proxiedCluster(t)

	const writers = 4
	wl, stop := proxyWriters(t, proxyDSN(c, addr), writers)
	time.Sleep(700 * time.Millisecond)
	wl.setMark(time.Now(), "")
	if err := c.Kill("db1"); err != nil {
		t.Fatal(err)
	}
	snap := waitNewPrimary(t, m, 10*time.Second)
	first, all := wl.waitResumed(t, writers, 10*time.Second, "writers through the proxy did not all resume within 10s of the kill")
	time.Sleep(300 * time.Millisecond)
	stop()
	t.Logf("through the proxy: kill -9 -> first ack %v, all %d writers %v; %d client errors %q; %d acked",
		first.Round(time.Millisecond), writers, all.Round(time.Millisecond), wl.errors, wl.errs, len(wl.acked))
	if first > 3*time.Second {
		t.Errorf("first acknowledged write %v after the kill, want under 3s", first)
	}
	if wl.errors > writers {
		t.Errorf("%d client errors, want at most one per session (the statement in flight at the kill)", wl.errors)
	}
	checkAllPresent(t, sandboxtest.OpenDB(t, c.AdminDSN(snap.Primary)), wl.acked)
}

func TestSwitchoverThroughProxyUnderLoad(t *testing.T) {
	t.Parallel()
	c, m, addr := proxiedCluster(t)

	const writers = 4
	wl, stop := proxyWriters(t, proxyDSN(c, addr), writers)
	client := manager.NewClient(m.url)
	for _, to := range []string{"db2", "db1"} {
		time.Sleep(500 * time.Millisecond)
		res, err := client.Switchover(context.Background(), to)
		if err != nil {
			t.Fatalf("switchover to %s: %v", to, err)
		}
		t.Logf("switchover %s -> %s: writes held %v, total %v", res.From, res.To, res.Held.Round(time.Millisecond), res.Took.Round(time.Millisecond))
		if res.Held > time.Second {
			t.Errorf("switchover held writes %v, want under 1s", res.Held)
		}
		sandboxtest.WaitSnapshot(t, m.eng, 5*time.Second, res.From+" replicating from "+to, func(s *topology.Snapshot) bool {
			return nodeOf(t, s, res.From).Role == topology.RoleReplica
		})
	}
	time.Sleep(300 * time.Millisecond)
	stop()
	if wl.errors != 0 {
		t.Errorf("%d client errors during switchovers (%q), want none", wl.errors, wl.errs)
	}
	// Each switchover waited for the proxy (a follower of the manager) to
	// acknowledge the hold instead of only sleeping.
	waited := 0
	for _, ev := range m.eng.Events(0) {
		if ev.Kind == "hold_acked" || ev.Kind == "hold_unacked" {
			waited++
			t.Logf("%s: %s %v", ev.Kind, ev.Message, ev.Fields)
		}
	}
	if waited != 2 {
		t.Errorf("%d switchovers waited for the proxy's acknowledgement, want 2", waited)
	}
	checkAllPresent(t, sandboxtest.OpenDB(t, c.AdminDSN("db1")), wl.acked)
	if len(wl.acked) == 0 {
		t.Fatal("no write was acknowledged")
	}
}

// testPipelines is proxy.pipelines for the proxies the tests start:
// VIGIL_TEST_PIPELINES (default 0, off).
func testPipelines() int {
	n, _ := strconv.Atoi(os.Getenv("VIGIL_TEST_PIPELINES"))
	return n
}
