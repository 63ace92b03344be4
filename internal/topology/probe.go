package topology

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Probe is what one probe of one server observed. A failed probe has Err set
// and only Name, Address, At, Took, Err and Failures are meaningful.
type Probe struct {
	Name    string        `json:"name"`
	Address string        `json:"address"`
	At      time.Time     `json:"at"`
	Took    time.Duration `json:"took_ns"`
	// Err is why the server could not be probed ("" when it could).
	Err string `json:"error,omitempty"`
	// Failures counts consecutive failed probes (0 after a success).
	Failures int `json:"failures"`
	// LastOK is when the server last answered a probe (zero: never).
	LastOK time.Time `json:"last_ok"`

	ServerID       uint32 `json:"server_id"`
	Version        string `json:"version"`
	ReadOnly       bool   `json:"read_only"`
	LogBin         bool   `json:"log_bin"`
	GTIDStrictMode bool   `json:"gtid_strict_mode"`
	GTIDBinlogPos  string `json:"gtid_binlog_pos"`
	GTIDSlavePos   string `json:"gtid_slave_pos"`
	GTIDCurrentPos string `json:"gtid_current_pos"`

	SemiSyncMasterEnabled bool `json:"semisync_master_enabled"`
	SemiSyncSlaveEnabled  bool `json:"semisync_slave_enabled"`

	// Replica is the default replication connection; nil when the server
	// does not replicate.
	Replica *ReplicaStatus `json:"replica,omitempty"`
}

// OK reports whether the probe reached the server.
func (p Probe) OK() bool { return p.Err == "" }

// ReplicaStatus is the part of SHOW SLAVE STATUS the manager uses.
type ReplicaStatus struct {
	SourceHost   string `json:"source_host"`
	SourcePort   int    `json:"source_port"`
	IOState      string `json:"io_state"`
	IORunning    string `json:"io_running"` // Yes, No or Connecting
	SQLRunning   bool   `json:"sql_running"`
	LastIOErrno  int    `json:"last_io_errno"`
	LastIOError  string `json:"last_io_error,omitempty"`
	LastSQLErrno int    `json:"last_sql_errno"`
	LastSQLError string `json:"last_sql_error,omitempty"`
	// Lag is Seconds_Behind_Master; -1 when NULL (SQL or IO thread stopped).
	Lag time.Duration `json:"lag_ns"`
	// GTIDIOPos is the received position (Gtid_IO_Pos).
	GTIDIOPos string `json:"gtid_io_pos"`
	UsingGTID string `json:"using_gtid"`
	// Heartbeats is Slave_received_heartbeats; HeartbeatPeriod its period.
	Heartbeats      uint64        `json:"heartbeats"`
	HeartbeatPeriod time.Duration `json:"heartbeat_period_ns"`
	// ReadSourceLogPos is Read_Master_Log_Pos (moves with every event read).
	ReadSourceLogPos  uint64 `json:"read_source_log_pos"`
	ReadSourceLogFile string `json:"read_source_log_file"`
}

// Source returns host:port of the server this replica replicates from.
func (r *ReplicaStatus) Source() string {
	return fmt.Sprintf("%s:%d", r.SourceHost, r.SourcePort)
}

// IOConnected reports whether the IO thread is connected to its source
// (Slave_IO_Running=Yes and not in a reconnect state).
func (r *ReplicaStatus) IOConnected() bool {
	if r.IORunning != "Yes" {
		return false
	}
	s := strings.ToLower(r.IOState)
	return !strings.Contains(s, "reconnecting") && !strings.Contains(s, "connecting to master")
}

// Querier is the SQL seam a probe needs; *sql.DB and *sql.Conn satisfy it.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

const probeVarsSQL = `SELECT @@server_id, @@version, @@read_only, @@log_bin, @@gtid_strict_mode,
 @@gtid_binlog_pos, @@gtid_slave_pos, @@gtid_current_pos,
 @@rpl_semi_sync_master_enabled, @@rpl_semi_sync_slave_enabled`

// ProbeServer runs the probe queries against q and fills p (whose Name,
// Address and At the caller sets). It returns the first error.
//
// The probe reads only system variables and SHOW ALL SLAVES STATUS: no
// information_schema tables and no SHOW STATUS, which materialise
// temporary tables. A probe with an information_schema.PROCESSLIST
// subquery crashed MariaDB 10.11.19 (signal 11 in ha_maria::drop_table)
// once, right after startup, during a benchmark run.
func ProbeServer(ctx context.Context, q Querier, p *Probe) error {
	rows, err := q.QueryContext(ctx, probeVarsSQL)
	if err != nil {
		return fmt.Errorf("probe variables: %w", err)
	}
	var ro, logBin, strict, ssm, sss int
	if rows.Next() {
		err = rows.Scan(&p.ServerID, &p.Version, &ro, &logBin, &strict, &p.GTIDBinlogPos,
			&p.GTIDSlavePos, &p.GTIDCurrentPos, &ssm, &sss)
	}
	if cerr := closeRows(rows); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("probe variables: %w", err)
	}
	p.ReadOnly, p.LogBin, p.GTIDStrictMode = ro != 0, logBin != 0, strict != 0
	p.SemiSyncMasterEnabled, p.SemiSyncSlaveEnabled = ssm != 0, sss != 0
	rs, err := probeReplica(ctx, q)
	if err != nil {
		return err
	}
	p.Replica = rs
	return nil
}

func closeRows(rows *sql.Rows) error {
	err := rows.Err()
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	return err
}

// probeReplica reads the default connection's row of SHOW ALL SLAVES
// STATUS (which, unlike SHOW SLAVE STATUS, includes the heartbeat columns)
// by column name. It returns nil when the server is not a replica.
func probeReplica(ctx context.Context, q Querier) (*ReplicaStatus, error) {
	row, err := queryRowMap(ctx, q, "SHOW ALL SLAVES STATUS", func(m map[string]string) bool { return m["Connection_name"] == "" })
	if err != nil {
		return nil, fmt.Errorf("probe replica status: %w", err)
	}
	if row == nil {
		return nil, nil
	}
	return replicaFromRow(row), nil
}

// maxLagSeconds caps a reported lag (a year) so it fits a time.Duration.
const maxLagSeconds = 365 * 24 * 3600

func replicaFromRow(row map[string]string) *ReplicaStatus {
	num := func(k string) uint64 { n, _ := strconv.ParseUint(row[k], 10, 64); return n }
	rs := &ReplicaStatus{
		SourceHost:        row["Master_Host"],
		SourcePort:        int(num("Master_Port")),
		IOState:           row["Slave_IO_State"],
		IORunning:         row["Slave_IO_Running"],
		SQLRunning:        row["Slave_SQL_Running"] == "Yes",
		LastIOErrno:       int(num("Last_IO_Errno")),
		LastIOError:       row["Last_IO_Error"],
		LastSQLErrno:      int(num("Last_SQL_Errno")),
		LastSQLError:      row["Last_SQL_Error"],
		Lag:               -1,
		GTIDIOPos:         row["Gtid_IO_Pos"],
		UsingGTID:         row["Using_Gtid"],
		Heartbeats:        num("Slave_received_heartbeats"),
		ReadSourceLogPos:  num("Read_Master_Log_Pos"),
		ReadSourceLogFile: row["Master_Log_File"],
	}
	if v, ok := row["Seconds_Behind_Master"]; ok && v != "" {
		if s, err := strconv.ParseInt(v, 10, 64); err == nil {
			// Negative (clock skew) counts as 0; absurd values are capped.
			rs.Lag = time.Duration(min(max(s, 0), maxLagSeconds)) * time.Second
		}
	}
	if f, err := strconv.ParseFloat(row["Slave_heartbeat_period"], 64); err == nil {
		rs.HeartbeatPeriod = time.Duration(f * float64(time.Second))
	}
	return rs
}

// queryRowMap returns the first row of query accepted by pick as column
// name -> value (NULL as ""), or nil when there is none.
func queryRowMap(ctx context.Context, q Querier, query string, pick func(map[string]string) bool) (map[string]string, error) {
	rows, err := q.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	cols, err := rows.Columns()
	if err != nil {
		rows.Close()
		return nil, err
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			rows.Close()
			return nil, err
		}
		m := make(map[string]string, len(cols))
		for i, c := range cols {
			m[c] = vals[i].String
		}
		if pick(m) {
			return m, closeRows(rows)
		}
	}
	return nil, closeRows(rows)
}
