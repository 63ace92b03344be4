package sandbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"vigil/internal/config"
)

// Status is what `vigil sandbox status --json` prints (documented in
// the README's sandbox section; keep the two in step).
type Status struct {
	Dir     string         `json:"dir"`
	Servers []ServerStatus `json:"servers"`
	Manager RoleStatus     `json:"manager"`
	Proxy   RoleStatus     `json:"proxy"`
}

// ServerStatus is one server as seen by the admin account.
type ServerStatus struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	PID     int    `json:"pid"`
	Up      bool   `json:"up"`
	// Role is "primary" (no replication configured), "replica", or "" when down.
	Role           string             `json:"role"`
	ReadOnly       bool               `json:"read_only"`
	GTIDCurrentPos string             `json:"gtid_current_pos"`
	GTIDSlavePos   string             `json:"gtid_slave_pos"`
	GTIDBinlogPos  string             `json:"gtid_binlog_pos"`
	Replication    *ReplicationStatus `json:"replication"`
	// Error is why the server could not be queried ("" when fine).
	Error string `json:"error,omitempty"`
}

// ReplicationStatus is the replica side, from SHOW SLAVE STATUS.
type ReplicationStatus struct {
	Source       string `json:"source"`
	IORunning    string `json:"io_running"`
	SQLRunning   string `json:"sql_running"`
	LastIOError  string `json:"last_io_error"`
	LastSQLError string `json:"last_sql_error"`
	// LagSeconds is Seconds_Behind_Master; null when unknown (threads stopped).
	LagSeconds *int64 `json:"lag_seconds"`
}

// RoleStatus is a background role process and, if reachable, its health.
type RoleStatus struct {
	Running bool   `json:"running"`
	PID     int    `json:"pid"`
	Listen  string `json:"listen,omitempty"`
	URL     string `json:"url,omitempty"`
	// HTTPStatus is the status code of its health endpoint (0: unreachable).
	HTTPStatus int `json:"http_status"`
	// Health is the endpoint's JSON body (or the text as a JSON string).
	Health json.RawMessage `json:"health,omitempty"`
	Log    string          `json:"log"`
}

// Status queries every server and role in parallel (bounded by ctx).
func (c *Cluster) Status(ctx context.Context) *Status {
	st := &Status{Dir: c.Dir, Servers: make([]ServerStatus, len(c.nodes))}
	var wg sync.WaitGroup
	for i, n := range c.nodes {
		wg.Add(1)
		go func() { defer wg.Done(); st.Servers[i] = c.serverStatus(ctx, n) }()
	}
	cfg, _ := config.Load(c.ConfigPath())
	wg.Add(2)
	go func() { defer wg.Done(); st.Manager = c.roleStatus(ctx, RoleManager, cfg) }()
	go func() { defer wg.Done(); st.Proxy = c.roleStatus(ctx, RoleProxy, cfg) }()
	wg.Wait()
	return st
}

func (c *Cluster) serverStatus(ctx context.Context, n *Node) ServerStatus {
	s := ServerStatus{Name: n.Name, Address: n.Addr, PID: c.PID(n.Name)}
	if s.PID == 0 {
		return s
	}
	db, err := sql.Open("mysql", c.AdminDSN(n.Name))
	if err != nil {
		s.Error = err.Error()
		return s
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	err = db.QueryRowContext(ctx, "SELECT @@global.read_only, @@global.gtid_current_pos, @@global.gtid_slave_pos, @@global.gtid_binlog_pos").
		Scan(&s.ReadOnly, &s.GTIDCurrentPos, &s.GTIDSlavePos, &s.GTIDBinlogPos)
	if err != nil {
		s.Error = err.Error()
		return s
	}
	s.Up = true
	s.Replication, err = slaveStatus(ctx, db)
	if err != nil {
		s.Error = err.Error()
	}
	s.Role = "primary"
	if s.Replication != nil {
		s.Role = "replica"
	}
	return s
}

// slaveStatus reads SHOW SLAVE STATUS by column name; nil when the server
// has no replication configured.
func slaveStatus(ctx context.Context, db *sql.DB) (*ReplicationStatus, error) {
	rows, err := db.QueryContext(ctx, "SHOW SLAVE STATUS")
	if err != nil {
		return nil, fmt.Errorf("show slave status: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil || !rows.Next() {
		return nil, rows.Err()
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, fmt.Errorf("show slave status: %w", err)
	}
	m := map[string]sql.NullString{}
	for i, col := range cols {
		m[col] = vals[i]
	}
	if m["Master_Host"].String == "" {
		return nil, nil
	}
	r := &ReplicationStatus{
		Source:       m["Master_Host"].String + ":" + m["Master_Port"].String,
		IORunning:    m["Slave_IO_Running"].String,
		SQLRunning:   m["Slave_SQL_Running"].String,
		LastIOError:  m["Last_IO_Error"].String,
		LastSQLError: m["Last_SQL_Error"].String,
	}
	if v := m["Seconds_Behind_Master"]; v.Valid {
		var lag int64
		if _, err := fmt.Sscan(v.String, &lag); err == nil {
			r.LagSeconds = &lag
		}
	}
	return r, nil
}

func (c *Cluster) roleStatus(ctx context.Context, role string, cfg *config.Config) RoleStatus {
	r := RoleStatus{PID: c.RolePID(role), Log: c.LogPath(role)}
	r.Running = r.PID != 0
	if cfg == nil {
		return r
	}
	switch role {
	case RoleManager:
		r.Listen = cfg.Manager.Listen
		r.URL = "http://" + cfg.Manager.Listen + "/api/v1/topology"
	case RoleProxy:
		r.Listen = cfg.Proxy.Listen
		if cfg.Proxy.HTTPListen != "" {
			r.URL = "http://" + cfg.Proxy.HTTPListen + "/health"
		}
	}
	if r.Running && r.URL != "" {
		r.HTTPStatus, r.Health = httpHealth(ctx, r.URL)
	}
	return r
}

func httpHealth(ctx context.Context, url string) (int, json.RawMessage) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if json.Valid(body) {
		return resp.StatusCode, body
	}
	text, _ := json.Marshal(strings.TrimSpace(string(body)))
	return resp.StatusCode, text
}

// WriteText prints the status as a short table for people.
func (s *Status) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "sandbox %s\n", s.Dir)
	fmt.Fprintf(&b, "%-5s %-16s %-8s %-5s %-9s %-8s %-8s %-5s %s\n", "NODE", "ADDRESS", "ROLE", "UP", "READ_ONLY", "IO", "SQL", "LAG", "GTID_CURRENT_POS")
	for _, sv := range s.Servers {
		ioT, sqlT, lag := "-", "-", "-"
		if r := sv.Replication; r != nil {
			ioT, sqlT = r.IORunning, r.SQLRunning
			if r.LagSeconds != nil {
				lag = fmt.Sprintf("%ds", *r.LagSeconds)
			}
		}
		fmt.Fprintf(&b, "%-5s %-16s %-8s %-5s %-9s %-8s %-8s %-5s %s\n", sv.Name, sv.Address, orDash(sv.Role),
			yesNo(sv.Up), yesNo(sv.ReadOnly && sv.Up), ioT, sqlT, lag, orDash(sv.GTIDCurrentPos))
		if sv.Error != "" {
			fmt.Fprintf(&b, "      error: %s\n", sv.Error)
		}
		if r := sv.Replication; r != nil && (r.LastIOError != "" || r.LastSQLError != "") {
			fmt.Fprintf(&b, "      replication error: %s %s\n", r.LastIOError, r.LastSQLError)
		}
	}
	for _, r := range []struct {
		name string
		st   RoleStatus
	}{{"manager", s.Manager}, {"proxy", s.Proxy}} {
		state := "stopped"
		if r.st.Running {
			state = fmt.Sprintf("running (pid %d)", r.st.PID)
		}
		health := "unreachable"
		if r.st.HTTPStatus != 0 {
			health = fmt.Sprintf("HTTP %d", r.st.HTTPStatus)
		}
		fmt.Fprintf(&b, "%-7s %s on %s, health %s: %s; log %s\n", r.name, state, orDash(r.st.Listen), orDash(r.st.URL), health, r.st.Log)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func yesNo(v bool) string {
	if v {
		return "yes"
	}
	return "no"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
