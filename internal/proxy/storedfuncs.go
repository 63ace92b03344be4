package proxy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"vigil/internal/mysqlwire"
	"vigil/internal/topology"
)

// storedFuncRefresh is how often the stored function names are read again.
const storedFuncRefresh = 30 * time.Second

// Stored function names, read from the server's own table: an
// information_schema query once crashed MariaDB 10.11.19 (see the
// topology probe). MySQL 8 has no mysql.proc.
const (
	storedFuncsMariaDB = "SELECT name FROM mysql.proc WHERE type = 'FUNCTION'"
	storedFuncsMySQL   = "SELECT ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_TYPE = 'FUNCTION'"
)

// followStoredFunctions keeps the router's stored function set
// (router.SetStoredFunctions) fresh until ctx ends: read from the primary
// at start (as soon as a snapshot names one), every storedFuncRefresh, and
// whenever the primary changes. A failed read keeps the previous set.
func (s *Server) followStoredFunctions(ctx context.Context) {
	tick := time.NewTicker(storedFuncRefresh)
	defer tick.Stop()
	last, due, failing := "", true, false
	for {
		snap, changed := s.src.Current()
		addr := primaryAddr(snap)
		if addr != "" && (due || addr != last) {
			last, due = addr, false
			err := s.RefreshStoredFunctions(ctx)
			switch {
			case err == nil:
				failing = false
			case ctx.Err() != nil:
				return
			case !failing:
				failing = true
				s.log.Warn("cannot read the stored functions; keeping the known ones", "addr", addr, "err", err)
			default:
				s.log.Debug("cannot read the stored functions", "addr", addr, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-tick.C:
			due = true
		}
	}
}

// RefreshStoredFunctions reads the names of the stored functions from the
// primary, logged in as the admin account, and gives them to the router:
// a read that calls one runs on the primary (the function may write).
// Without a router it does nothing. On error the router keeps its set.
// The proxy does it by itself at start, every 30 s and after a change of
// primary (Run); call it to apply a CREATE FUNCTION at once.
func (s *Server) RefreshStoredFunctions(ctx context.Context) error {
	if s.router == nil {
		return nil
	}
	snap, _ := s.src.Current()
	addr := primaryAddr(snap)
	if addr == "" {
		return errors.New("no primary known")
	}
	cfg := s.config()
	c, err := mysqlwire.Dial(ctx, mysqlwire.DialConfig{
		Addr: addr, User: cfg.Admin.User, Password: cfg.Admin.Password, Timeout: cfg.ConnectTimeout,
		TLS: s.pool.TLS(), DB: "mysql", // tells it apart from warm connections in the process list
	})
	if err != nil {
		return err
	}
	defer c.Close()
	timeout := cfg.ConnectTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	_ = c.SetDeadline(time.Now().Add(timeout))
	q := storedFuncsMariaDB
	if cfg.Flavor == "mysql" {
		q = storedFuncsMySQL
	}
	rows, err := c.Query(q)
	if err != nil {
		return fmt.Errorf("read stored functions on %s: %w", addr, err)
	}
	_ = c.WriteCommand([]byte{mysqlwire.ComQuit})
	names := make([]string, 0, len(rows))
	for _, r := range rows {
		if len(r) > 0 && r[0].Valid {
			names = append(names, r[0].String)
		}
	}
	before := s.router.StoredFunctions()
	s.router.SetStoredFunctions(names)
	if after := s.router.StoredFunctions(); after != before {
		s.log.Info("stored functions: reads that call one run on the primary", "functions", after, "addr", addr)
	}
	return nil
}

// primaryAddr is the address of snap's primary, "" if none.
func primaryAddr(snap *topology.Snapshot) string {
	if snap == nil {
		return ""
	}
	if n, ok := snap.PrimaryNode(); ok {
		return n.Address
	}
	return ""
}
