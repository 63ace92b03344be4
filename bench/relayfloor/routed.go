package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"vigil/internal/config"
	"vigil/internal/router"
	"vigil/internal/topology"
)

// routed is the watcher of -mode routed: the loop relay doing vigil's
// per-statement protocol work in place, to measure what an event-loop data
// path with that work could cost. For every COM_QUERY it runs the router
// (Session.RouteQuery: classification, digest, routing decision), follows
// the response packet by packet to its end (OK, ERR, result sets, more
// results), then calls Observe and counts the statement in a Prometheus
// counter and latency histogram, as vigil does. Bytes are forwarded as
// read. It understands what sysbench sends over plain TCP with
// mysql_native_password (no TLS, no prepared statements, no LOCAL INFILE,
// packets under 16 MiB); every statement goes to the one server.
type routed struct {
	r     *router.Router
	snap  *topology.Snapshot
	user  string
	stmts prometheus.Counter
	lat   prometheus.Observer
	conns map[int]*mysqlPair // by client and by server fd
}

// mysqlPair is one client connection's protocol state.
type mysqlPair struct {
	cfd       int
	cin, sin  []byte // bytes of an incomplete packet, per direction
	handshake bool   // the client's handshake response went by
	authed    bool   // the server accepted it
	deprEOF   bool   // CLIENT_DEPRECATE_EOF was negotiated
	rs        *router.Session

	busy  bool // a statement's response is under way
	st    int  // where in the response (respFirst...)
	cols  uint64
	start time.Time
	res   router.Result
}

// Where a response stands.
const (
	respFirst  = iota // OK, ERR or a column count
	respCols          // column definitions
	respColEOF        // the EOF after them (without CLIENT_DEPRECATE_EOF)
	respRows          // rows up to the terminator
)

// newRouted builds the router from a vigil configuration file (its first
// server is the primary every statement goes to).
func newRouted(path string) (*routed, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	if len(cfg.Cluster.Servers) == 0 || len(cfg.Users) == 0 {
		return nil, fmt.Errorf("%s: needs a server and a user", path)
	}
	rc, err := router.FromConfig(cfg)
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	r, err := router.New(rc, reg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return nil, err
	}
	stmts := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "statements_total"}, []string{"route"})
	lat := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "statement_seconds",
		Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10)}, []string{"route"})
	reg.MustRegister(stmts, lat)
	db := cfg.Cluster.Servers[0]
	return &routed{
		r: r, user: cfg.Users[0].Name, conns: map[int]*mysqlPair{},
		snap: &topology.Snapshot{Epoch: 1, Version: 1, Primary: db.Name,
			Nodes: []topology.Node{{Name: db.Name, Address: db.Address, Role: topology.RolePrimary, Up: true}}},
		stmts: stmts.WithLabelValues("primary"), lat: lat.WithLabelValues("primary"),
	}, nil
}

func (w *routed) paired(cfd, bfd int) {
	p := &mysqlPair{cfd: cfd, rs: w.r.NewSession(w.user, "")}
	w.conns[cfd], w.conns[bfd] = p, p
}

func (w *routed) closed(fd, peer int) {
	delete(w.conns, fd)
	delete(w.conns, peer)
}

func (w *routed) relayed(fd int, data []byte) {
	p := w.conns[fd]
	if p == nil {
		return
	}
	if fd == p.cfd {
		packets(&p.cin, data, func(pk []byte) { w.fromClient(p, pk) })
		return
	}
	packets(&p.sin, data, func(pk []byte) { w.fromServer(p, pk) })
}

// packets calls f with the payload of every whole packet in the bytes
// kept in *in followed by data, and keeps what is left.
func packets(in *[]byte, data []byte, f func(payload []byte)) {
	b := data
	if len(*in) > 0 {
		*in = append(*in, data...)
		b = *in
	}
	for len(b) >= 4 {
		n := int(b[0]) | int(b[1])<<8 | int(b[2])<<16
		if len(b) < 4+n {
			break
		}
		f(b[4 : 4+n])
		b = b[4+n:]
	}
	*in = append((*in)[:0], b...)
}

func (w *routed) fromClient(p *mysqlPair, pk []byte) {
	if !p.handshake {
		p.handshake = true
		p.deprEOF = len(pk) >= 4 && binary.LittleEndian.Uint32(pk)&(1<<24) != 0
		return
	}
	if !p.authed || len(pk) == 0 || pk[0] != 0x03 { // COM_QUERY
		return
	}
	p.start = time.Now()
	p.rs.RouteQuery(pk[1:], w.snap, p.start)
	p.busy, p.st = true, respFirst
	p.res = router.Result{Target: router.TargetPrimary, Backend: w.snap.Primary}
}

func (w *routed) fromServer(p *mysqlPair, pk []byte) {
	if !p.authed {
		p.authed = p.handshake && len(pk) > 0 && pk[0] == 0x00
		return
	}
	if !p.busy || len(pk) == 0 || !p.track(pk) {
		return
	}
	p.busy = false
	p.res.Duration = time.Since(p.start)
	p.rs.Observe(p.res)
	w.stmts.Inc()
	w.lat.Observe(p.res.Duration.Seconds())
}

// track advances the response by one packet; true at its end.
func (p *mysqlPair) track(pk []byte) bool {
	switch p.st {
	case respFirst:
		switch pk[0] {
		case 0x00:
			return p.ok(pk[1:])
		case 0xFF:
			p.res.Err = true
			if len(pk) >= 3 {
				p.res.ErrCode = binary.LittleEndian.Uint16(pk[1:])
			}
			return true
		}
		p.cols, _ = lenenc(pk)
		p.st = respCols
	case respCols:
		if p.cols--; p.cols == 0 {
			p.st = respColEOF
			if p.deprEOF {
				p.st = respRows
			}
		}
	case respColEOF:
		p.st = respRows
	case respRows:
		switch {
		case pk[0] == 0xFF:
			p.res.Err = true
			return true
		case pk[0] == 0xFE && len(pk) < 0xFFFFFF && p.deprEOF:
			return p.ok(pk[1:])
		case pk[0] == 0xFE && len(pk) < 9:
			if len(pk) >= 5 {
				p.res.Status, p.res.StatusKnown = binary.LittleEndian.Uint16(pk[3:]), true
			}
			return p.ended()
		}
		p.res.Rows++
	}
	return false
}

// ok reads the status of an OK packet's body b.
func (p *mysqlPair) ok(b []byte) bool {
	_, n1 := lenenc(b)
	_, n2 := lenenc(b[n1:])
	if len(b) >= n1+n2+2 {
		p.res.Status, p.res.StatusKnown = binary.LittleEndian.Uint16(b[n1+n2:]), true
	}
	return p.ended()
}

// ended reports whether the response ends here (no more results follow).
func (p *mysqlPair) ended() bool {
	if p.res.Status&8 != 0 { // SERVER_MORE_RESULTS_EXISTS
		p.st = respFirst
		return false
	}
	return true
}

// lenenc decodes a length-encoded integer and returns its size.
func lenenc(b []byte) (uint64, int) {
	if len(b) == 0 {
		return 0, 0
	}
	switch b[0] {
	case 0xFC:
		if len(b) >= 3 {
			return uint64(binary.LittleEndian.Uint16(b[1:])), 3
		}
	case 0xFD:
		if len(b) >= 4 {
			return uint64(b[1]) | uint64(b[2])<<8 | uint64(b[3])<<16, 4
		}
	case 0xFE:
		if len(b) >= 9 {
			return binary.LittleEndian.Uint64(b[1:]), 9
		}
	default:
		return uint64(b[0]), 1
	}
	return 0, len(b)
}
