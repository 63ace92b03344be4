package proxy_test

import (
	"database/sql"
	"strconv"
	"testing"
	"time"

	"vigil/internal/proxy/proxytest"
	"vigil/internal/sandbox"
	"vigil/internal/sandbox/sandboxtest"
	"vigil/internal/topology"
)

// newWarmHarness is newHarness with the pool's background loop running
// and proxy.pool_min_idle set to minIdle.
func newWarmHarness(t *testing.T, replicas, minIdle int) *harness {
	t.Helper()
	c := sandboxtest.New(t, sandbox.Options{Replicas: replicas, PrimaryWritable: true})
	h := &harness{t: t, c: c, cfg: c.Config()}
	h.cfg.Proxy.HoldTimeout = 3 * time.Second
	h.cfg.Proxy.PoolMinIdle = &minIdle
	h.pub = topology.NewPublisher(nil)
	h.publish("db1")
	px := proxytest.Start(t, h.cfg, h.pub, proxytest.Options{RunPool: true})
	h.srv, h.reg, h.pool, h.addr = px.Server, px.Registry, px.Pool, px.Addr
	return h
}

// warmIDs are the thread ids of node's idle connections logged in as the
// admin account (the warm-up account), other than the asking one. It reads
// SHOW PROCESSLIST, not information_schema (see topology.ProbeServer).
func (h *harness) warmIDs(node string) map[int64]bool {
	h.t.Helper()
	db := sandboxtest.OpenDB(h.t, h.c.AdminDSN(node))
	defer db.Close()
	db.SetMaxOpenConns(1)
	var self int64
	if err := db.QueryRow("SELECT CONNECTION_ID()").Scan(&self); err != nil {
		h.t.Fatal(err)
	}
	rows, err := db.Query("SHOW PROCESSLIST")
	if err != nil {
		h.t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		h.t.Fatal(err)
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	ids := map[int64]bool{}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			h.t.Fatal(err)
		}
		row := map[string]string{}
		for i, c := range cols {
			row[c] = vals[i].String
		}
		id, _ := strconv.ParseInt(row["Id"], 10, 64)
		// db "mysql": the proxy's short read of the stored functions.
		if row["User"] == h.c.Admin().User && row["Command"] == "Sleep" && id != self && row["db"] != "mysql" {
			ids[id] = true
		}
	}
	if err := rows.Err(); err != nil {
		h.t.Fatal(err)
	}
	return ids
}

// waitWarm waits until node has at least n warm idle connections, by the
// pool's counts and by the server's process list, and returns their ids.
func (h *harness) waitWarm(node string, n int) map[int64]bool {
	h.t.Helper()
	addr := h.c.Node(node).Addr
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := h.pool.Stats()[addr]
		ids := h.warmIDs(node)
		if st.Idle >= n && len(ids) >= n {
			return ids
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%s: pool %+v, %d warm connections in the process list; want %d warm idle", node, st, len(ids), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// dials is the number of connections the pool opened on sessions' paths.
func (h *harness) dials() uint64 {
	var n uint64
	for _, st := range h.pool.Stats() {
		n += st.Dials
	}
	return n
}

// primaryConnID runs SELECT CONNECTION_ID() in a transaction (so on the
// primary) in a new single-connection client session.
func (h *harness) primaryConnID(t *testing.T) int64 {
	t.Helper()
	app := h.app()
	db := h.open(h.dsn(app.User, app.Password, h.c.Database(), nil))
	db.SetMaxOpenConns(1)
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck
	var id int64
	var user string
	if err := tx.QueryRow("SELECT CONNECTION_ID(), CURRENT_USER()").Scan(&id, &user); err != nil {
		t.Fatal(err)
	}
	if want := app.User + "@"; len(user) < len(want) || user[:len(want)] != want {
		t.Errorf("warm connection runs as %q, want the session's user %s", user, app.User)
	}
	return id
}

func TestWarmUp(t *testing.T) {
	h := newWarmHarness(t, 1, 2)
	app := h.app()

	if st := h.pool.Stats(); len(h.warmIDs("db1")) != 0 || st[h.c.Node("db1").Addr].Warmed != 0 {
		t.Fatalf("warm connections before any client profile was seen: %+v", st)
	}
	first := h.open(h.dsn(app.User, app.Password, h.c.Database(), nil))
	first.SetMaxOpenConns(1)
	sandboxtest.Exec(t, first, "CREATE TABLE w (id INT PRIMARY KEY)", "INSERT INTO w VALUES (1)")
	var one int
	if err := first.QueryRow("SELECT 1").Scan(&one); err != nil {
		t.Fatal(err)
	}

	t.Run("primary and replica are warmed for the profile seen", func(t *testing.T) {
		h.waitWarm("db1", 2)
		h.waitWarm("db2", 2)
	})
	t.Run("a new session gets a warm connection", func(t *testing.T) {
		ids := h.waitWarm("db1", 2)
		before := h.dials()
		id := h.primaryConnID(t)
		if !ids[id] {
			t.Errorf("the session's primary connection %d is not one of the warm ones %v", id, ids)
		}
		if got := h.dials(); got != before {
			t.Errorf("pool dialled %d connections for the new session, want 0", got-before)
		}
	})
	t.Run("a killed idle connection is not handed out", func(t *testing.T) {
		ids := h.waitWarm("db1", 2)
		var kills []string
		for id := range ids {
			kills = append(kills, "KILL "+strconv.FormatInt(id, 10))
		}
		h.admin("db1", kills...)
		time.Sleep(100 * time.Millisecond) // let the server close them
		broken := h.pool.Stats()[h.c.Node("db1").Addr].Broken
		id := h.primaryConnID(t)
		if ids[id] {
			t.Errorf("the session got killed connection %d", id)
		}
		if got := h.pool.Stats()[h.c.Node("db1").Addr].Broken; got < broken+1 {
			t.Errorf("broken count %d after Get met killed connections, want more than %d", got, broken)
		}
		h.waitWarm("db1", 2) // refilled
	})
	t.Run("the new primary is warmed after a failover", func(t *testing.T) {
		db1, db2 := h.c.Node("db1").Addr, h.c.Node("db2").Addr
		// db2 leaves routing (down) and loses its idle connections.
		h.publishNodes("db1", topology.Node{Name: "db1", Address: db1, Role: topology.RolePrimary, Up: true},
			topology.Node{Name: "db2", Address: db2, Role: topology.RoleUnknown, ReadOnly: true})
		h.pool.CloseIdle(db2)
		deadline := time.Now().Add(5 * time.Second)
		for len(h.warmIDs("db2")) != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("db2 still has warm connections after it left routing: %v", h.warmIDs("db2"))
			}
			time.Sleep(50 * time.Millisecond)
		}
		warmed := h.pool.Stats()[db2].Warmed
		// Failover: db2 comes back as the writable primary, db1 is gone.
		h.admin("db2", "STOP SLAVE", "SET GLOBAL read_only = 0")
		h.publishNodes("db2", topology.Node{Name: "db1", Address: db1, Role: topology.RoleUnknown, ReadOnly: true},
			topology.Node{Name: "db2", Address: db2, Role: topology.RolePrimary, Up: true})
		ids := h.waitWarm("db2", 2)
		if got := h.pool.Stats()[db2].Warmed; got < warmed+2 {
			t.Errorf("warmed %d connections on the new primary, want 2", got-warmed)
		}
		before := h.dials()
		if id := h.primaryConnID(t); !ids[id] {
			t.Errorf("first session on the new primary got connection %d, not a warm one %v", id, ids)
		}
		if got := h.dials(); got != before {
			t.Errorf("pool dialled %d connections for the first session on the new primary, want 0", got-before)
		}
	})
}

// publishNodes publishes nodes with primary under a new epoch.
func (h *harness) publishNodes(primary string, nodes ...topology.Node) {
	h.ver++
	for i := range nodes {
		nodes[i].Weight = 1
	}
	h.pub.Publish(&topology.Snapshot{Epoch: h.ver, Version: h.ver, Primary: primary, Nodes: nodes})
}

func TestWarmUpOff(t *testing.T) {
	h := newWarmHarness(t, 0, 0)
	app := h.app()
	db := h.open(h.dsn(app.User, app.Password, h.c.Database(), nil))
	sandboxtest.Exec(t, db, "DO 1")
	time.Sleep(300 * time.Millisecond)
	if st := h.pool.Stats()[h.c.Node("db1").Addr]; st.Warmed != 0 || len(h.warmIDs("db1")) != 0 {
		t.Errorf("pool_min_idle 0: %+v, want no warm connections", st)
	}
}
