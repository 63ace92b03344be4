package manager

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"vigil/internal/topology"
)

// Client talks to a manager's API (used by `vigil status`, `switchover`,
// `failover` and `ack`).
type Client struct {
	// Base is the API root, e.g. http://127.0.0.1:6035.
	Base string
	HTTP *http.Client
}

// NewClient returns a client for base (a URL, or host:port).
func NewClient(base string) *Client {
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	return &Client{Base: strings.TrimRight(base, "/"), HTTP: &http.Client{Timeout: 2 * time.Minute}}
}

// ListenURL turns a listen address into a URL a local client can use
// (0.0.0.0 and :: become 127.0.0.1).
func ListenURL(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "http://" + listen
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// Status fetches GET /api/v1/status.
func (c *Client) Status(ctx context.Context) (topology.Status, error) {
	var st topology.Status
	return st, c.do(ctx, http.MethodGet, "/api/v1/status", nil, &st)
}

// Events fetches GET /api/v1/events?after=after.
func (c *Client) Events(ctx context.Context, after uint64) ([]topology.Event, error) {
	var evs []topology.Event
	return evs, c.do(ctx, http.MethodGet, "/api/v1/events", url.Values{"after": {fmt.Sprint(after)}}, &evs)
}

// Switchover runs POST /api/v1/switchover.
func (c *Client) Switchover(ctx context.Context, to string) (topology.OpResult, error) {
	var res topology.OpResult
	q := url.Values{}
	if to != "" {
		q.Set("to", to)
	}
	return res, c.do(ctx, http.MethodPost, "/api/v1/switchover", q, &res)
}

// Failover runs POST /api/v1/failover?force=1.
func (c *Client) Failover(ctx context.Context, to string) (topology.OpResult, error) {
	var res topology.OpResult
	q := url.Values{"force": {"1"}}
	if to != "" {
		q.Set("to", to)
	}
	return res, c.do(ctx, http.MethodPost, "/api/v1/failover", q, &res)
}

// Ack runs POST /api/v1/ack.
func (c *Client) Ack(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/api/v1/ack", nil, nil)
}

func (c *Client) do(ctx context.Context, method, path string, q url.Values, out any) error {
	u := c.Base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("manager %s: %w", c.Base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("manager %s: %w", c.Base, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			return fmt.Errorf("manager: %s", e.Error)
		}
		return fmt.Errorf("manager: HTTP %s", resp.Status)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("manager: decode answer: %w", err)
	}
	return nil
}

// WriteStatus prints st as a tree: the primary, its replicas under it, then
// everything else.
func WriteStatus(w io.Writer, st topology.Status) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "cluster %s  epoch %d  primary %s  health %s  semisync %v  auto-failover %v\n",
		st.Cluster, st.Epoch, orNone(st.Primary), st.Health, onOff(st.SemiSync), onOff(st.AutoFailover))
	if st.Operation != "" {
		fmt.Fprintf(b, "operation in progress: %s (writes held)\n", st.Operation)
	}
	if !st.BlockedUntil.IsZero() {
		fmt.Fprintf(b, "automatic failover blocked until %s (vigil ack to clear)\n", st.BlockedUntil.Format(time.RFC3339))
	}
	children := map[string][]topology.NodeStatus{}
	var roots []topology.NodeStatus
	for _, n := range st.Nodes {
		if n.Source != "" && n.Source == st.Primary && n.Name != st.Primary {
			children[n.Source] = append(children[n.Source], n)
		} else {
			roots = append(roots, n)
		}
	}
	sort.SliceStable(roots, func(i, j int) bool { return roots[i].Name == st.Primary && roots[j].Name != st.Primary })
	for _, n := range roots {
		fmt.Fprintf(b, "%s\n", nodeLine(n))
		kids := children[n.Name]
		for i, k := range kids {
			branch := "├─ "
			if i == len(kids)-1 {
				branch = "└─ "
			}
			fmt.Fprintf(b, "%s%s\n", branch, nodeLine(k))
		}
	}
	for _, f := range st.Followers {
		state := "following (long poll open)"
		if !f.Polling {
			state = fmt.Sprintf("not polling, last seen %s", f.LastSeen.Format(time.RFC3339))
		}
		fmt.Fprintf(b, "proxy %s  %s  acknowledged version %d\n", f.ID, state, f.Acked)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteEvents prints events one a line: time, milliseconds since the start
// of the operation they belong to, kind, node and message.
func WriteEvents(w io.Writer, evs []topology.Event) error {
	b := &strings.Builder{}
	for _, e := range evs {
		since := ""
		if e.Since > 0 {
			since = fmt.Sprintf("+%dms", e.Since.Milliseconds())
		}
		fmt.Fprintf(b, "%s %8s %-16s %-5s %s\n", e.Time.Format("15:04:05.000"), since, e.Kind, e.Node, e.Message)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func nodeLine(n topology.NodeStatus) string {
	health := "up"
	if !n.Up {
		health = "DOWN"
	}
	rw := "ro"
	if !n.ReadOnly {
		rw = "rw"
	}
	s := fmt.Sprintf("%-6s %-11s %-4s %s  %s", n.Name, n.Role, health, rw, n.Address)
	if n.Source != "" {
		lag := "?"
		if n.Lag >= 0 {
			lag = n.Lag.String()
		}
		s += fmt.Sprintf("  from %s io=%s sql=%v lag=%s", n.Source, n.IORunning, n.SQLRunning, lag)
	}
	if n.GTIDCurrent != "" {
		s += "  gtid " + n.GTIDCurrent
	}
	if n.LastError != "" {
		s += "  error: " + n.LastError
	}
	if n.Note != "" {
		s += "  (" + n.Note + ")"
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
