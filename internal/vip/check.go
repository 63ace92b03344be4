package vip

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// Check describes the health check of the local proxy: "tcp:HOST:PORT"
// (a TCP connect succeeds) or "mysql:HOST:PORT" (the server sends a
// protocol-10 handshake greeting).
type Check struct {
	Kind    string // "tcp" or "mysql"
	Address string // HOST:PORT
}

// ParseCheck parses "tcp:HOST:PORT" or "mysql:HOST:PORT".
func ParseCheck(s string) (Check, error) {
	kind, addr, ok := strings.Cut(s, ":")
	if !ok || (kind != "tcp" && kind != "mysql") {
		return Check{}, fmt.Errorf("check %q: want tcp:HOST:PORT or mysql:HOST:PORT", s)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return Check{}, fmt.Errorf("check %q: %w", s, err)
	}
	return Check{Kind: kind, Address: addr}, nil
}

func (c Check) String() string { return c.Kind + ":" + c.Address }

// Probe runs the check once within timeout.
func (c Check) Probe(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", c.Address)
	if err != nil {
		return fmt.Errorf("connect %s: %w", c.Address, err)
	}
	defer conn.Close()
	if c.Kind != "mysql" {
		return nil
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetReadDeadline(dl)
	}
	return readGreeting(conn)
}

// errNotGreeting is returned when the server's first packet is not a
// protocol-10 handshake.
var errNotGreeting = errors.New("not a MySQL protocol 10 greeting")

// readGreeting reads the first MySQL packet and checks that it is a
// protocol-10 handshake (an ERR packet, 0xff, means the server refused us).
func readGreeting(r io.Reader) error {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return fmt.Errorf("read MySQL greeting: %w", err)
	}
	length := int(binary.LittleEndian.Uint32(append(hdr[:3:3], 0)))
	switch {
	case length < 1:
		return fmt.Errorf("%w: empty packet", errNotGreeting)
	case hdr[4] == 0xff:
		return fmt.Errorf("%w: server sent an error packet", errNotGreeting)
	case hdr[4] != 10:
		return fmt.Errorf("%w: protocol version %d", errNotGreeting, hdr[4])
	}
	return nil
}

// checker runs a Check every interval and reports debounced results: a
// change to failing after fall consecutive failures, to passing after rise
// consecutive successes. Run owns its goroutine.
type checker struct {
	check    Check
	interval time.Duration
	timeout  time.Duration
	fall     int
	rise     int
}

// Run probes until ctx ends, starting from state ok, and sends each change
// (with the last error) on out.
func (c *checker) Run(ctx context.Context, ok bool, out chan<- checkResult) {
	streak := 0
	t := time.NewTicker(c.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := c.check.Probe(ctx, c.timeout)
		if (err == nil) == ok {
			streak = 0
			continue
		}
		streak++
		if (ok && streak < c.fall) || (!ok && streak < c.rise) {
			continue
		}
		ok, streak = !ok, 0
		select {
		case out <- checkResult{ok: ok, err: err}:
		case <-ctx.Done():
			return
		}
	}
}

type checkResult struct {
	ok  bool
	err error
}
