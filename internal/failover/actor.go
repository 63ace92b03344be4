package failover

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"vigil/internal/mysqlwire"
	"vigil/internal/topology"
)

// actor runs the engine's SQL actions on the servers, each through a small
// pool of its own (separate from the monitor's probe connections, over TLS
// as Config.TLS says), with per-action deadlines. Safe for concurrent use.
type actor struct {
	cfg *Config
	mu  sync.Mutex
	dbs map[string]*sql.DB
}

func newActor(cfg *Config) *actor { return &actor{cfg: cfg, dbs: map[string]*sql.DB{}} }

func (a *actor) close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, db := range a.dbs {
		db.Close()
	}
}

func (a *actor) db(name string) (*sql.DB, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if db, ok := a.dbs[name]; ok {
		return db, nil
	}
	s, ok := a.cfg.server(name)
	if !ok {
		return nil, fmt.Errorf("no server %q", name)
	}
	db, err := topology.Open(a.cfg.Admin.User, a.cfg.Admin.Password, s.Address, a.cfg.ConnectTimeout, 0, a.cfg.TLS)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(2)
	db.SetConnMaxIdleTime(time.Minute)
	a.dbs[name] = db
	return db, nil
}

// exec runs queries in order on one connection of name, all bounded by
// the action timeout.
func (a *actor) exec(ctx context.Context, name string, queries ...string) error {
	return a.execT(ctx, name, a.cfg.ActionTimeout, queries...)
}

// netTimeout is the slave_net_timeout the engine sets on replicas: four
// heartbeat periods, at least one second.
func (a *actor) netTimeout() time.Duration {
	return max(time.Second, (4 * a.cfg.HeartbeatPeriod).Round(time.Second))
}

// stopTimeout bounds statements that stop a replication IO thread, which
// may wait until a hung primary's connection times out.
func (a *actor) stopTimeout() time.Duration {
	return a.cfg.ActionTimeout + a.netTimeout()
}

// execT is exec with an explicit timeout.
func (a *actor) execT(ctx context.Context, name string, timeout time.Duration, queries ...string) error {
	db, err := a.db(name)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("%s: connect: %w", name, err)
	}
	defer conn.Close()
	for _, q := range queries {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %s: %w", name, redact(q), err)
		}
	}
	return nil
}

func redact(q string) string {
	if i := strings.Index(q, "MASTER_PASSWORD"); i >= 0 {
		return q[:i] + "MASTER_PASSWORD=..."
	}
	return q
}

// read probes name afresh (all the monitor's queries).
func (a *actor) read(ctx context.Context, name string) (topology.Probe, error) {
	p := topology.Probe{Name: name, At: time.Now()}
	db, err := a.db(name)
	if err != nil {
		return p, err
	}
	ctx, cancel := context.WithTimeout(ctx, a.cfg.ActionTimeout)
	defer cancel()
	err = topology.ProbeServer(ctx, db, &p)
	if err != nil {
		p.Err = err.Error()
	}
	return p, err
}

// replicaState reads name as a promotion candidate.
func (a *actor) replicaState(ctx context.Context, name string) ReplicaState {
	p, err := a.read(ctx, name)
	if err != nil {
		return ReplicaState{Name: name, Err: err.Error()}
	}
	rs := ReplicaState{Name: name, LogBin: p.LogBin, Lag: -1}
	rs.Executed, _ = topology.ParseGTIDPos(p.GTIDCurrentPos)
	rs.Received = rs.Executed
	if p.Replica != nil {
		io, _ := topology.ParseGTIDPos(p.Replica.GTIDIOPos)
		rs.Received = MergePos(io, rs.Executed)
		rs.SQLErrno, rs.SQLError, rs.Lag = p.Replica.LastSQLErrno, p.Replica.LastSQLError, p.Replica.Lag
	}
	return rs
}

// clientThreads lists name's client connections (not replication threads,
// not system threads, not this one) from SHOW FULL PROCESSLIST, which,
// unlike information_schema, needs no temporary table. active counts those
// running a statement.
func (a *actor) clientThreads(ctx context.Context, name string) (ids []int64, active int, err error) {
	db, err := a.db(name)
	if err != nil {
		return nil, 0, err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: connect: %w", name, err)
	}
	defer conn.Close()
	var self int64
	if err := conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&self); err != nil {
		return nil, 0, fmt.Errorf("%s: %w", name, err)
	}
	rows, err := conn.QueryContext(ctx, "SHOW FULL PROCESSLIST")
	if err != nil {
		return nil, 0, fmt.Errorf("%s: list connections: %w", name, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, 0, err
		}
		m := map[string]string{}
		for i, c := range cols {
			m[c] = vals[i].String
		}
		id, _ := strconv.ParseInt(m["Id"], 10, 64)
		switch {
		case id == self, m["User"] == "system user", m["User"] == "event_scheduler",
			strings.HasPrefix(m["Command"], "Binlog Dump"), m["Command"] == "Daemon",
			strings.HasPrefix(m["Command"], "Slave_"):
			continue
		}
		ids = append(ids, id)
		if m["Command"] == "Query" || m["Command"] == "Execute" {
			active++
		}
	}
	return ids, active, rows.Err()
}

// killClients kills every client connection on name except replication
// threads and its own.
func (a *actor) killClients(ctx context.Context, name string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.ActionTimeout)
	defer cancel()
	ids, _, err := a.clientThreads(ctx, name)
	if err != nil {
		return 0, err
	}
	db, err := a.db(name)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		if _, err := db.ExecContext(ctx, "KILL CONNECTION "+strconv.FormatInt(id, 10)); err == nil {
			n++
		} else if !isUnknownThread(err) {
			return n, fmt.Errorf("%s: kill %d: %w", name, id, err)
		}
	}
	return n, nil
}

func isUnknownThread(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1094
}

// fence makes name read-only and kills its client connections, best effort:
// it returns the first error but tries every step.
func (a *actor) fence(ctx context.Context, name string) error {
	_, err1 := a.killClients(ctx, name)
	err2 := a.exec(ctx, name, "SET GLOBAL read_only=ON")
	_, err3 := a.killClients(ctx, name)
	return errors.Join(err1, err2, err3)
}

// waitApplied waits until name has applied pos; false on timeout.
func (a *actor) waitApplied(ctx context.Context, name, pos string, timeout time.Duration) (bool, error) {
	if pos == "" {
		return true, nil
	}
	db, err := a.db(name)
	if err != nil {
		return false, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout+a.cfg.ActionTimeout)
	defer cancel()
	var res sql.NullInt64
	err = db.QueryRowContext(ctx, "SELECT MASTER_GTID_WAIT(?, ?)", pos, timeout.Seconds()).Scan(&res)
	if err != nil {
		return false, fmt.Errorf("%s: MASTER_GTID_WAIT: %w", name, err)
	}
	return res.Valid && res.Int64 == 0, nil
}

// detach stops and removes name's replication and turns on the primary
// side of semi-sync; it returns name's GTID position (the fork point for
// the old primary). name stays read-only: the caller re-points the other
// replicas at it first, then opens it for writes.
func (a *actor) detach(ctx context.Context, name string, semiSync bool) (string, error) {
	qs := []string{"STOP SLAVE", "RESET SLAVE ALL"}
	if semiSync {
		qs = append(qs,
			"SET GLOBAL rpl_semi_sync_master_wait_point=AFTER_SYNC",
			fmt.Sprintf("SET GLOBAL rpl_semi_sync_master_timeout=%d", a.cfg.SemiSyncTimeout.Milliseconds()),
			"SET GLOBAL rpl_semi_sync_master_enabled=ON")
	}
	if err := a.execT(ctx, name, a.stopTimeout(), qs...); err != nil {
		return "", err
	}
	return a.gtidCurrent(ctx, name)
}

func (a *actor) gtidCurrent(ctx context.Context, name string) (string, error) {
	db, err := a.db(name)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, a.cfg.ActionTimeout)
	defer cancel()
	var pos string
	if err := db.QueryRowContext(ctx, "SELECT @@gtid_current_pos").Scan(&pos); err != nil {
		return "", fmt.Errorf("%s: read gtid_current_pos: %w", name, err)
	}
	return pos, nil
}

// pointTo makes name a read-only replica of primary. demote (for a former
// primary) merges its own binlog position into gtid_slave_pos first
// (MASTER_DEMOTE_TO_SLAVE).
func (a *actor) pointTo(ctx context.Context, name string, primary topology.Server, demote, semiSync bool) error {
	host, port, err := net.SplitHostPort(primary.Address)
	if err != nil {
		return err
	}
	cm := fmt.Sprintf("CHANGE MASTER TO MASTER_HOST=%s, MASTER_PORT=%s, MASTER_USER=%s, MASTER_USE_GTID=slave_pos, "+
		"MASTER_CONNECT_RETRY=1, MASTER_HEARTBEAT_PERIOD=%.3f", quote(host), port, quote(a.cfg.Repl.User),
		a.cfg.HeartbeatPeriod.Seconds())
	if demote {
		cm += ", MASTER_DEMOTE_TO_SLAVE=1"
	}
	if a.replicationTLS() {
		cm += ", MASTER_SSL=1"
	}
	cm += ", MASTER_PASSWORD=" + quote(a.cfg.Repl.Password)
	qs := []string{"STOP SLAVE", "SET GLOBAL read_only=ON",
		fmt.Sprintf("SET GLOBAL slave_net_timeout=%d", int(a.netTimeout().Seconds()))}
	if semiSync {
		qs = append(qs, "SET GLOBAL rpl_semi_sync_master_enabled=OFF", "SET GLOBAL rpl_semi_sync_slave_enabled=ON")
	}
	qs = append(qs, cm, "START SLAVE")
	return a.execT(ctx, name, a.stopTimeout(), qs...)
}

// replicationTLS reports whether replicas are pointed at their primary
// with MASTER_SSL=1: when the manager itself must use TLS (cluster.tls
// required or stricter), the servers presumably refuse plain connections
// too. The replica encrypts without checking the primary's certificate:
// verifying needs a CA file on each server's host, which vigil does not
// manage. In preferred mode replication stays as it was.
func (a *actor) replicationTLS() bool {
	return a.cfg.TLS != nil && a.cfg.TLS.Mode != mysqlwire.TLSOff && a.cfg.TLS.Mode != mysqlwire.TLSPreferred
}

// quote renders s as a single-quoted SQL string literal.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\x00", `\0`)
	return "'" + r.Replace(s) + "'"
}
