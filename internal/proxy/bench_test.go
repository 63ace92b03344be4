package proxy_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"vigil/internal/config"
	"vigil/internal/mysqlwire"
	"vigil/internal/pool"
	"vigil/internal/proxy"
	"vigil/internal/router"
	"vigil/internal/sandbox"
	"vigil/internal/sandbox/sandboxtest"
	"vigil/internal/topology"
)

// BenchmarkPointSelect measures one text-protocol point select (sysbench
// oltp_point_select's statement, autocommit) from a lean client
// (mysqlwire.ClientConn) over one connection: straight to a real MariaDB
// server, through an in-process vigil proxy (router on), and through
// HAProxy in TCP mode when it is installed. vigil's added cost per
// statement is its ns/op minus direct's; the goal is HAProxy's or less.
// The sub-benchmarks share one server, so compare them within one run.
func BenchmarkPointSelect(b *testing.B) {
	// The proxy runs on the threads `vigil proxy` takes by default (this
	// process hosts only the proxy; clients and servers are other processes).
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS((&config.Proxy{}).ThreadsFor(runtime.NumCPU())))
	c := sandboxtest.New(b, sandbox.Options{Replicas: 0, PrimaryWritable: true, Database: "vbench"})
	db, err := sql.Open("mysql", c.AdminDSN("db1"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	schema := "vbench"
	for _, q := range []string{
		fmt.Sprintf("CREATE TABLE %s.sbtest1 (id INT PRIMARY KEY, k INT, c CHAR(120), pad CHAR(60))", schema),
		fmt.Sprintf("INSERT INTO %s.sbtest1 SELECT seq, seq, REPEAT('c', 119), REPEAT('p', 59) FROM %s.seq_1_to_1000", schema, schema),
	} {
		if _, err := db.Exec(q); err != nil {
			b.Fatal(err)
		}
	}
	type target struct {
		name, addr string
		cpu        func() time.Duration // the relay's CPU time so far
	}
	targets := []target{
		{"direct", c.Node("db1").Addr, nil},
		{"vigil", benchProxy(b, c), selfCPU},
	}
	if addr, pid := benchHAProxy(b, c.Node("db1").Addr); addr != "" {
		targets = append(targets, target{"haproxy", addr, func() time.Duration { return procCPU(pid) }})
	}
	app := c.App()
	for _, conns := range []int{1, 64} {
		for _, tg := range targets {
			b.Run(fmt.Sprintf("conns=%d/%s", conns, tg.name), func(b *testing.B) {
				var cpu0 time.Duration
				if tg.cpu != nil {
					cpu0 = tg.cpu()
				}
				benchClient(b, tg.addr, app.User, app.Password, schema, conns)
				if tg.cpu != nil {
					b.ReportMetric(float64(tg.cpu()-cpu0)/float64(b.N), "relay-cpu-ns/op")
				}
			})
		}
	}
}

// selfCPU is this process's user + system CPU time (the in-process proxy;
// the client runs in another process).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procCPU is the user + system CPU time of process pid from
// /proc/pid/stat (clock ticks of 10 ms).
func procCPU(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// benchClient runs b.N point selects against addr from a client in another
// process (this test binary running TestPointSelectClient), so that the
// proxy under test does not share its Go runtime with the client, as in
// production; the timer covers the query loop only. A -cpuprofile of the
// benchmark thus profiles the in-process proxy, not the client.
func benchClient(b *testing.B, addr, user, pass, schema string, conns int) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestPointSelectClient$", "-test.count=1")
	cmd.Env = append(os.Environ(), "VIGIL_BENCH_CLIENT="+strings.Join([]string{addr, user, pass, schema, strconv.Itoa(b.N), strconv.Itoa(conns)}, " "))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	r := bufio.NewReader(out)
	if line, err := r.ReadString('\n'); line != "ready\n" {
		b.Fatalf("client: %q %v", line, err)
	}
	b.ResetTimer()
	if _, err := in.Write([]byte("go\n")); err != nil {
		b.Fatal(err)
	}
	if line, err := r.ReadString('\n'); line != "done\n" {
		b.Fatalf("client: %q %v", line, err)
	}
	b.StopTimer()
}

// TestPointSelectClient is the client process of BenchmarkPointSelect; it
// is skipped unless the benchmark starts it.
func TestPointSelectClient(t *testing.T) {
	env := os.Getenv("VIGIL_BENCH_CLIENT")
	if env == "" {
		t.Skip("client process of BenchmarkPointSelect")
	}
	f := strings.Split(env, " ")
	n, _ := strconv.Atoi(f[4])
	conns, _ := strconv.Atoi(f[5])
	queries := make([]string, 1000)
	for i := range queries {
		queries[i] = fmt.Sprintf("SELECT c FROM sbtest1 WHERE id=%d", i+1)
	}
	ccs := make([]*mysqlwire.ClientConn, conns)
	for i := range ccs {
		cc, err := mysqlwire.Dial(context.Background(), mysqlwire.DialConfig{Addr: f[0], User: f[1], Password: f[2], DB: f[3]})
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		ccs[i] = cc
	}
	fmt.Println("ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	var next atomic.Int64 // statements handed out
	errs := make(chan error, conns)
	for _, cc := range ccs {
		go func() {
			for i := next.Add(1) - 1; i < int64(n); i = next.Add(1) - 1 {
				if rows, err := cc.Query(queries[i%int64(len(queries))]); err != nil || len(rows) != 1 {
					errs <- fmt.Errorf("point select: %d rows, %v", len(rows), err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range ccs {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	fmt.Println("done")
}

// benchProxy starts an in-process proxy (router on) in front of c's db1
// and returns its address.
func benchProxy(b *testing.B, c *sandbox.Cluster) string {
	cfg := c.Config()
	pub := topology.NewPublisher(nil)
	n := c.Node("db1")
	pub.Publish(&topology.Snapshot{Epoch: 1, Version: 1, Primary: "db1", Nodes: []topology.Node{
		{Name: "db1", Address: n.Addr, Role: topology.RolePrimary, Up: true, Weight: 1},
	}})
	log := slog.New(slog.DiscardHandler)
	p, err := pool.New(pool.Config{ConnectTimeout: 2 * time.Second, IdleTimeout: time.Minute}, nil)
	if err != nil {
		b.Fatal(err)
	}
	rcfg, err := router.FromConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	rt, err := router.New(rcfg, nil, log)
	if err != nil {
		b.Fatal(err)
	}
	pcfg, err := proxy.ConfigFrom(cfg)
	if err != nil {
		b.Fatal(err)
	}
	srv, err := proxy.New(pcfg, pub, proxy.Options{Pool: p, Router: rt, Logger: log})
	if err != nil {
		b.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
		p.Close()
	})
	return l.Addr().String()
}

// benchHAProxy starts HAProxy in TCP mode in front of backend and returns
// its address and pid, or "" when haproxy is not installed.
func benchHAProxy(b *testing.B, backend string) (string, int) {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		b.Log("haproxy not installed: no haproxy sub-benchmark")
		return "", 0
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cfgPath := filepath.Join(b.TempDir(), "haproxy.cfg")
	cfg := fmt.Sprintf("global\n  maxconn 100\ndefaults\n  mode tcp\n  timeout connect 5s\n  timeout client 1h\n  timeout server 1h\n"+
		"listen mysql\n  bind %s\n  server db1 %s\n", addr, backend)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "-f", cfgPath, "-db")
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for range 100 {
		if nc, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			nc.Close()
			return addr, cmd.Process.Pid
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.Fatal("haproxy did not start")
	return "", 0
}
