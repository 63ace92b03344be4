// Command failover measures Vigil's failover and switchover as a client
// sees them through the proxy, on real `vigil sandbox up --semisync`
// clusters (run by bench/failover.sh).
//
// Failover trial (a fresh sandbox each): N writers insert rows through the
// proxy, one session each; `vigil sandbox kill db1` (SIGKILL) at a random
// point; it reports ms from the kill to the first acknowledged write sent
// after it, ms until every writer had one, client-visible errors, and
// acknowledged writes missing afterwards (read through the proxy inside a
// transaction, i.e. from the primary).
//
// Switchover trials (one sandbox): the same writers, `POST
// /api/v1/switchover` alternating between servers; it reports the writes
// held as the manager measured them, the longest gap a writer saw, errors
// and lost writes.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"

	"vigil/internal/config"
	"vigil/internal/manager"
)

// writePause is each writer's pause between two inserts: 4 writers make
// about 600-800 writes/s, far above a Moodle site's write rate, yet within
// what one replication applier keeps up with on this kind of machine (an
// unthrottled loop outruns the applier and every failover then waits for
// seconds of relay log).
const writePause = 5 * time.Millisecond

type options struct {
	vigil       string
	dir         string
	trials      int
	switchovers int
	writers     int
}

func main() {
	var o options
	flag.StringVar(&o.vigil, "vigil", "vigil", "path to the vigil binary")
	flag.StringVar(&o.dir, "dir", "", "work directory (default: a temp dir)")
	flag.IntVar(&o.trials, "trials", 10, "failover trials (kill -9 of the primary)")
	flag.IntVar(&o.switchovers, "switchovers", 10, "switchover trials")
	flag.IntVar(&o.writers, "writers", 4, "concurrent writer sessions")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "failover bench:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	made := o.dir == ""
	if made {
		d, err := os.MkdirTemp("", "vigil-bench-failover-")
		if err != nil {
			return err
		}
		o.dir = d // kept on failure for a failed trial's logs
	}
	if err := trials(o); err != nil {
		return err
	}
	if made {
		return os.RemoveAll(o.dir)
	}
	return nil
}

func trials(o options) error {
	var rows []result
	for i := range o.trials {
		r, err := failoverTrial(o, i)
		if err != nil {
			return fmt.Errorf("failover trial %d: %w", i+1, err)
		}
		rows = append(rows, r)
		fmt.Printf("failover   %2d  first-ack %5d ms  all-writers %5d ms  errors %2d  lost %d  (acked %d)\n",
			i+1, r.first.Milliseconds(), r.all.Milliseconds(), r.errors, r.lost, r.acked)
	}
	summary("failover kill->first ack (ms)", rows, func(r result) time.Duration { return r.first })
	summary("failover kill->all writers (ms)", rows, func(r result) time.Duration { return r.all })
	if o.switchovers > 0 {
		sw, err := switchoverTrials(o)
		if err != nil {
			return fmt.Errorf("switchover: %w", err)
		}
		summary("switchover writes held, manager (ms)", sw, func(r result) time.Duration { return r.first })
		summary("switchover longest writer gap (ms)", sw, func(r result) time.Duration { return r.all })
	}
	return nil
}

type result struct {
	first, all   time.Duration
	errors, lost int
	acked        int
}

func summary(name string, rs []result, f func(result) time.Duration) {
	if len(rs) == 0 {
		return
	}
	ds := make([]time.Duration, len(rs))
	errs, lost := 0, 0
	for i, r := range rs {
		ds[i] = f(r)
		errs += r.errors
		lost += r.lost
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	fmt.Printf("%-40s n=%d  min %d  median %d  max %d   (errors total %d, lost total %d)\n", name, len(ds),
		ds[0].Milliseconds(), ds[len(ds)/2].Milliseconds(), ds[len(ds)-1].Milliseconds(), errs, lost)
}

// sandbox is one `vigil sandbox up --semisync` cluster.
type sandbox struct {
	o        options
	dir      string
	proxyDSN string
	mgr      *manager.Client
}

func up(o options, name string) (*sandbox, error) {
	dir := filepath.Join(o.dir, name)
	port, err := freePortRun(3)
	if err != nil {
		return nil, err
	}
	out, err := exec.Command(o.vigil, "sandbox", "up", "--dir", dir, "--semisync", "--base-port", "0",
		"--proxy-port", strconv.Itoa(port)).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("sandbox up: %v: %s", err, out)
	}
	cfg, err := config.Load(filepath.Join(dir, "vigil.yaml"))
	if err != nil {
		return nil, err
	}
	mc := mysql.NewConfig()
	mc.User, mc.Passwd, mc.Net, mc.Addr = cfg.Users[0].Name, cfg.Users[0].Password, "tcp", cfg.Proxy.Listen
	mc.Timeout, mc.InterpolateParams = 3*time.Second, true
	return &sandbox{o: o, dir: dir, proxyDSN: mc.FormatDSN(), mgr: manager.NewClient(manager.ListenURL(cfg.Manager.Listen))}, nil
}

func (s *sandbox) vigil(args ...string) error {
	out, err := exec.Command(s.o.vigil, append(args, "--dir", s.dir)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("vigil %v: %v: %s", args, err, out)
	}
	return nil
}

func (s *sandbox) destroy() { _ = s.vigil("sandbox", "destroy") }

// kill9 sends SIGKILL to the named server itself (so the mark is within
// microseconds of the kill) and sets the load's mark.
func (s *sandbox) kill9(name string, l *load) error {
	data, err := os.ReadFile(filepath.Join(s.dir, name, "mariadbd.pid"))
	if err != nil {
		return err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return fmt.Errorf("pid file of %s: %w", name, err)
	}
	l.setMark(time.Now())
	return syscall.Kill(pid, syscall.SIGKILL)
}

// freePortRun finds n consecutive free loopback ports and returns the first.
func freePortRun(n int) (int, error) {
	for range 50 {
		base := 20000 + rand.IntN(30000)
		ok := true
		for i := range n {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", base+i))
			if err != nil {
				ok = false
				break
			}
			l.Close()
		}
		if ok {
			return base, nil
		}
	}
	return 0, errors.New("no free port run")
}

// load is the writers' record.
type load struct {
	mu      sync.Mutex
	acked   []int64
	errors  int
	mark    time.Time
	first   map[int]time.Time
	lastAck map[int]time.Time
	maxGap  time.Duration
}

func (l *load) ack(w int, id int64, started, done time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.acked = append(l.acked, id)
	if prev, ok := l.lastAck[w]; ok && done.Sub(prev) > l.maxGap {
		l.maxGap = done.Sub(prev)
	}
	l.lastAck[w] = done
	if !l.mark.IsZero() && started.After(l.mark) {
		if _, ok := l.first[w]; !ok {
			l.first[w] = done
		}
	}
}

func (l *load) setMark(t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.mark, l.first, l.maxGap = t, map[int]time.Time{}, 0
}

func (l *load) resumed(n int) (first, all time.Duration, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.first) < n {
		return 0, 0, false
	}
	first = time.Hour
	for _, at := range l.first {
		first, all = min(first, at.Sub(l.mark)), max(all, at.Sub(l.mark))
	}
	return first, all, true
}

func startWriters(ctx context.Context, dsn string, n int, table string) (*load, *sync.WaitGroup, error) {
	l := &load{first: map[int]time.Time{}, lastAck: map[int]time.Time{}}
	var wg sync.WaitGroup
	for w := range n {
		db, err := sql.Open("mysql", dsn)
		if err != nil {
			return nil, nil, err
		}
		db.SetMaxOpenConns(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer db.Close()
			for seq := int64(1); ctx.Err() == nil; seq++ {
				id := int64(w)*10_000_000 + seq
				ictx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				started := time.Now()
				_, err := db.ExecContext(ictx, "INSERT INTO "+table+" (id) VALUES (?)", id)
				cancel()
				if err == nil {
					l.ack(w, id, started, time.Now())
					time.Sleep(writePause)
					continue
				}
				l.mu.Lock()
				l.errors++
				l.mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	return l, &wg, nil
}

func exec1(dsn string, qs ...string) error {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	for _, q := range qs {
		if _, err := db.Exec(q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// lost counts acked ids missing on the primary (read in a transaction,
// which the proxy sends to the primary).
func lost(dsn, table string, acked []int64) (int, error) {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	rows, err := tx.Query("SELECT id FROM " + table)
	if err != nil {
		return 0, err
	}
	have := map[int64]bool{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return 0, err
		}
		have[id] = true
	}
	rows.Close()
	n := 0
	for _, id := range acked {
		if !have[id] {
			n++
		}
	}
	return n, rows.Err()
}

func failoverTrial(o options, i int) (r result, err error) {
	s, err := up(o, fmt.Sprintf("f%d", i))
	if err != nil {
		return result{}, err
	}
	defer func() {
		if err == nil {
			s.destroy()
			return
		}
		_ = s.vigil("sandbox", "down")
		err = fmt.Errorf("%w (sandbox kept in %s)", err, s.dir)
	}()
	const table = "moodle.bench_w"
	if err := exec1(s.proxyDSN, "CREATE TABLE "+table+" (id BIGINT PRIMARY KEY)"); err != nil {
		return result{}, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	l, wg, err := startWriters(ctx, s.proxyDSN, o.writers, table)
	if err != nil {
		cancel()
		return result{}, err
	}
	time.Sleep(time.Second + time.Duration(rand.IntN(500))*time.Millisecond)
	if err := s.kill9("db1", l); err != nil {
		cancel()
		wg.Wait()
		return result{}, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for ok := false; !ok; r.first, r.all, ok = l.resumed(o.writers) {
		if time.Now().After(deadline) {
			cancel()
			wg.Wait()
			return r, errors.New("writers did not resume within 30s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	cancel()
	wg.Wait()
	r.errors, r.acked = l.errors, len(l.acked)
	r.lost, err = lost(s.proxyDSN, table, l.acked)
	if r.first > 1500*time.Millisecond {
		s.dumpEvents(l.mark)
	}
	return r, err
}

// dumpEvents prints the manager's events of a slow trial, relative to the kill.
func (s *sandbox) dumpEvents(mark time.Time) {
	evs, err := s.mgr.Events(context.Background(), 0)
	if err != nil {
		fmt.Println("  (events:", err, ")")
		return
	}
	for _, e := range evs {
		if e.Time.After(mark.Add(-time.Second)) {
			fmt.Printf("  %+6d ms  %-16s %-4s %s\n", e.Time.Sub(mark).Milliseconds(), e.Kind, e.Node, e.Message)
		}
	}
}

func switchoverTrials(o options) ([]result, error) {
	s, err := up(o, "switchover")
	if err != nil {
		return nil, err
	}
	defer s.destroy()
	const table = "moodle.bench_s"
	if err := exec1(s.proxyDSN, "CREATE TABLE "+table+" (id BIGINT PRIMARY KEY)"); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	l, wg, err := startWriters(ctx, s.proxyDSN, o.writers, table)
	if err != nil {
		cancel()
		return nil, err
	}
	defer func() { cancel(); wg.Wait() }()
	var out []result
	targets := []string{"db2", "db3", "db1"}
	for i := range o.switchovers {
		time.Sleep(700 * time.Millisecond)
		l.mu.Lock()
		errsBefore := l.errors
		l.mu.Unlock()
		l.setMark(time.Now())
		res, err := s.mgr.Switchover(context.Background(), targets[i%len(targets)])
		if err != nil {
			return out, err
		}
		time.Sleep(500 * time.Millisecond)
		l.mu.Lock()
		r := result{first: res.Held, all: l.maxGap, errors: l.errors - errsBefore, acked: len(l.acked)}
		l.mu.Unlock()
		out = append(out, r)
		fmt.Printf("switchover %2d  %s->%s  held %4d ms  longest writer gap %4d ms  errors %d\n",
			i+1, res.From, res.To, res.Held.Milliseconds(), r.all.Milliseconds(), r.errors)
	}
	cancel()
	wg.Wait()
	n, err := lost(s.proxyDSN, table, l.acked)
	if err != nil {
		return out, err
	}
	fmt.Printf("switchover: %d acknowledged writes, %d lost\n", len(l.acked), n)
	if len(out) > 0 {
		out[len(out)-1].lost = n
	}
	return out, nil
}
