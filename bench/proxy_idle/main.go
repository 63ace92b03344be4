// Command proxy_idle opens N idle, logged-in client sessions to a Vigil
// proxy and reports the proxy process's resident memory before and after.
// bench/proxy.sh runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"vigil/internal/mysqlwire"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:6033", "proxy address")
	user := flag.String("user", "moodle", "user")
	pass := flag.String("password", "moodle", "password")
	n := flag.Int("n", 10000, "sessions")
	pid := flag.Int("pid", 0, "proxy pid (for RSS)")
	flag.Parse()
	before := rss(*pid)
	conns := make([]*mysqlwire.ClientConn, *n)
	var failed atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	start := time.Now()
	for i := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := mysqlwire.Dial(context.Background(), mysqlwire.DialConfig{Addr: *addr, User: *user, Password: *pass})
			if err != nil {
				if failed.Add(1) == 1 {
					fmt.Fprintln(os.Stderr, "first failure:", err)
				}
				return
			}
			conns[i] = c
		}()
	}
	wg.Wait()
	time.Sleep(2 * time.Second)
	after := rss(*pid)
	fmt.Printf("idle sessions: %d open (%d failed) in %v; proxy RSS %s before, %s with them open\n",
		*n-int(failed.Load()), failed.Load(), time.Since(start).Round(time.Millisecond), before, after)
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}

// rss returns VmRSS of pid from /proc.
func rss(pid int) string {
	if pid == 0 {
		return "?"
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			return strings.Join(strings.Fields(line)[1:], " ")
		}
	}
	return "?"
}
