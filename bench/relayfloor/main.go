// Command relayfloor is a TCP relay built several ways, to measure what a
// relay written in Go can cost at best. bench/floor.sh runs it beside vigil
// and HAProxy.
//
//   - -mode loop: one OS thread, its own level-triggered epoll set and raw
//     system calls (recvfrom/sendto/epoll_pwait without the runtime's
//     syscall hand-off): how an event-loop data path would run.
//   - -mode coro: the same loop, resuming a coroutine per connection
//     (iter.Pull) whose code is a sequential read-write loop that yields
//     where it would block: the shape proposed for vigil's sessions.
//   - -mode goroutines: a goroutine per direction per connection on Go's
//     netpoller (net.Conn Read/Write): how a goroutine-per-session data
//     path runs, without any protocol work.
//   - -mode routed: the loop, doing vigil's per-statement protocol work in
//     place (router, response tracking, Observe, metrics; see routed.go),
//     with the router configured by -config (a vigil configuration file).
//
// All run on one P (GOMAXPROCS 1), as vigil does by default on small hosts.
// The backend connection is dialled synchronously when a client connects;
// this is a benchmark tool, not a proxy.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
)

func main() {
	mode := flag.String("mode", "loop", "loop, coro, goroutines or routed")
	cfgPath := flag.String("config", "", "vigil configuration file (-mode routed)")
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	backend := flag.String("backend", "", "server address (host:port)")
	flag.Parse()
	if *backend == "" {
		fmt.Fprintln(os.Stderr, "relayfloor: -backend is required")
		os.Exit(2)
	}
	runtime.GOMAXPROCS(1)
	var err error
	switch *mode {
	case "loop":
		err = runLoop(*listen, *backend, nil)
	case "routed":
		var w *routed
		if w, err = newRouted(*cfgPath); err == nil {
			err = runLoop(*listen, *backend, w)
		}
	case "coro":
		err = runCoro(*listen, *backend)
	case "goroutines":
		err = runGoroutines(*listen, *backend)
	default:
		err = fmt.Errorf("unknown -mode %q (loop, coro, goroutines or routed)", *mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "relayfloor:", err)
		os.Exit(1)
	}
}

// runGoroutines relays each connection with two goroutines.
func runGoroutines(listen, backend string) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			b, err := net.Dial("tcp", backend)
			if err != nil {
				c.Close()
				return
			}
			go pump(b, c)
			pump(c, b)
		}()
	}
}

// pump copies src to dst until either fails, then closes both.
func pump(src, dst net.Conn) {
	defer src.Close()
	defer dst.Close()
	buf := make([]byte, 16<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			return
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			return
		}
	}
}
