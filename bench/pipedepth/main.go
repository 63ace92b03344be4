// Command pipedepth measures what queueing statements on a connection
// saves the server: it opens K connections straight to MariaDB and keeps D
// point selects in flight on each (sent back to back, answers read in
// order), then prints statements/s and the server's CPU microseconds per
// statement (from /proc/PID/stat). bench/README.md, "Pipelined reads",
// compares K×1 with fewer connections and deeper queues.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"vigil/internal/mysqlwire"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:3306", "server address")
	user := flag.String("user", "moodle", "user")
	pass := flag.String("password", "moodle", "password")
	db := flag.String("db", "moodle", "database with sysbench's sbtest1..4 (10,000 rows each)")
	k := flag.Int("k", 4, "connections")
	d := flag.Int("d", 1, "statements in flight per connection")
	dur := flag.Duration("t", 5*time.Second, "duration")
	pid := flag.Int("pid", 0, "server pid")
	flag.Parse()
	if err := run(*addr, *user, *pass, *db, *k, *d, *dur, *pid); err != nil {
		fmt.Fprintln(os.Stderr, "pipedepth:", err)
		os.Exit(1)
	}
}

func run(addr, user, pass, db string, k, d int, dur time.Duration, pid int) error {
	conns := make([]*mysqlwire.ClientConn, k)
	for i := range conns {
		c, err := mysqlwire.Dial(context.Background(), mysqlwire.DialConfig{Addr: addr, User: user, Password: pass, DB: db})
		if err != nil {
			return err
		}
		defer c.Close()
		conns[i] = c
	}
	var n atomic.Int64
	var failed atomic.Value
	stop := time.Now().Add(dur)
	t0 := cpuTicks(pid)
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() {
			for time.Now().Before(stop) {
				if err := batch(c, d); err != nil {
					failed.Store(err)
					return
				}
				n.Add(int64(d))
			}
		})
	}
	wg.Wait()
	if err, ok := failed.Load().(error); ok {
		return err
	}
	ticks := cpuTicks(pid) - t0
	fmt.Printf("k=%d d=%d statements/s %.0f server µs/statement %.2f\n", k, d,
		float64(n.Load())/dur.Seconds(), float64(ticks)*1e4/float64(n.Load())) // 100 ticks/s
	return nil
}

// batch sends d point selects back to back and reads their answers.
func batch(c *mysqlwire.ClientConn, d int) error {
	for range d {
		q := fmt.Sprintf("\x03SELECT c FROM sbtest%d WHERE id=%d", 1+rand.IntN(4), 1+rand.IntN(10000))
		c.ResetSeq()
		if err := c.WritePacket([]byte(q)); err != nil {
			return err
		}
	}
	if err := c.Flush(); err != nil {
		return err
	}
	for range d {
		if err := skipResult(c); err != nil {
			return err
		}
	}
	return nil
}

// skipResult reads one text result set (CLIENT_DEPRECATE_EOF): the column
// count, the columns, the rows and the closing OK packet.
func skipResult(c *mysqlwire.ClientConn) error {
	c.SetSeq(1)
	p, err := c.ReadPacket()
	if err != nil {
		return err
	}
	if p[0] == 0xff {
		return errors.New(string(p[9:]))
	}
	for range int(p[0]) {
		if _, err := c.ReadPacket(); err != nil {
			return err
		}
	}
	for {
		p, err := c.ReadPacket()
		if err != nil {
			return err
		}
		if p[0] == 0xfe && len(p) < 0xffffff {
			return nil
		}
	}
}

// cpuTicks is pid's user+system CPU time in clock ticks (0 without pid).
func cpuTicks(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, _ := strconv.ParseInt(f[11], 10, 64)
	t, _ := strconv.ParseInt(f[12], 10, 64)
	return u + t
}
