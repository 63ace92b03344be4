package proxy_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"vigil/internal/mysqlwire"
	"vigil/internal/sandbox/sandboxtest"
)

// switchover makes to (a replica of db1) the primary and db1 its replica,
// as a manager's switchover would, and publishes it.
func (h *harness) switchover(to string) {
	h.t.Helper()
	h.admin("db1", "SET GLOBAL read_only = 1")
	h.catchUp(to)
	h.admin(to, "STOP SLAVE", "RESET SLAVE ALL", "SET GLOBAL read_only = 0")
	repl, n := h.c.Replication(), h.c.Node(to)
	h.admin("db1", fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='%s', MASTER_PORT=%d, MASTER_USER='%s', MASTER_PASSWORD='%s', "+
		"MASTER_USE_GTID=current_pos, MASTER_CONNECT_RETRY=1", n.Host, n.Port, repl.User, repl.Password), "START SLAVE")
	h.publish(to)
}

// rawStmt is a statement prepared through the proxy by a raw protocol
// client that, like libmariadb and mysqlnd, sends parameter types only
// when asked to (new_params_bound_flag 0 otherwise).
type rawStmt struct {
	t  *testing.T
	cc *mysqlwire.ClientConn
	id uint32
}

func rawPrepare(t *testing.T, cc *mysqlwire.ClientConn, query string) *rawStmt {
	t.Helper()
	id, err := cc.Prepare([]byte(query))
	if err != nil {
		t.Fatalf("prepare %q: %v", query, err)
	}
	return &rawStmt{t: t, cc: cc, id: id}
}

// exec runs the statement with an int and a string parameter (BIGINT and
// VAR_STRING, none NULL), sending their types if types, and returns the
// rows (every column a string) or the error.
func (st *rawStmt) exec(types bool, n int64, s string) ([][]string, error) {
	p := binary.LittleEndian.AppendUint32([]byte{mysqlwire.ComStmtExecute}, st.id)
	p = append(p, 0, 1, 0, 0, 0) // no cursor, iteration count 1
	p = append(p, 0)             // NULL bitmap of 2 parameters
	if types {
		p = append(p, 1, 0x08, 0x00, 0xfd, 0x00)
	} else {
		p = append(p, 0)
	}
	p = binary.LittleEndian.AppendUint64(p, uint64(n))
	p = append(p, byte(len(s)))
	p = append(p, s...)
	if err := st.cc.WriteCommand(p); err != nil {
		st.t.Fatal(err)
	}
	return st.readResult()
}

// readResult reads an EXECUTE's answer: an OK (no rows), an ERR, or a
// binary result set of short string columns.
func (st *rawStmt) readResult() ([][]string, error) {
	t, cc := st.t, st.cc
	t.Helper()
	next := func() []byte {
		p, err := cc.ReadPacket()
		if err != nil || len(p) == 0 {
			t.Fatalf("reading the EXECUTE's answer: %q, %v", p, err)
		}
		return p
	}
	p := next()
	switch p[0] {
	case 0xff:
		e, err := mysqlwire.ParseERR(p)
		if err != nil {
			t.Fatal(err)
		}
		return nil, e
	case 0x00:
		return nil, nil
	}
	cols := int(p[0])
	for range cols {
		next()
	}
	if cc.Caps&mysqlwire.CapDeprecateEOF == 0 {
		next()
	}
	var rows [][]string
	for {
		p := next()
		if p[0] == 0xfe && len(p) < 9 {
			return rows, nil
		}
		if p[0] != 0 {
			t.Fatalf("binary row starts with 0x%02x", p[0])
		}
		p = p[1+(cols+7+2)/8:] // header, NULL bitmap (no NULLs expected)
		var row []string
		for range cols {
			if len(p) == 0 || p[0] >= 251 || len(p) < 1+int(p[0]) {
				t.Fatalf("unexpected value in a binary row: %x", p)
			}
			row = append(row, string(p[1:1+p[0]]))
			p = p[1+p[0]:]
		}
		rows = append(rows, row)
	}
}

// TestPreparedExecuteWithoutTypesAfterSwitchover checks that a prepared
// statement whose EXECUTEs stop sending parameter types once sent (as
// libmariadb and mysqlnd do) keeps working on a backend that never saw
// them: a new primary after a switchover, and a replica.
func TestPreparedExecuteWithoutTypesAfterSwitchover(t *testing.T) {
	h := newHarness(t, 1, nil)
	app := h.app()
	db1ID, db2ID := h.nodeID("db1"), h.nodeID("db2")
	db := h.open(h.dsn(app.User, app.Password, h.c.Database(), nil))
	db.SetMaxOpenConns(1)
	sandboxtest.Exec(t, db, "CREATE TABLE pt (id BIGINT PRIMARY KEY, v VARCHAR(20))")

	// go-sql-driver/mysql sends the types with every EXECUTE.
	ins, err := db.Prepare("INSERT INTO pt VALUES (?, ?)")
	if err != nil {
		t.Fatal(err)
	}
	defer ins.Close()
	sel, err := db.Prepare("SELECT v FROM pt WHERE id = ? OR v = ?")
	if err != nil {
		t.Fatal(err)
	}
	defer sel.Close()
	goSQL := func(id int64) {
		t.Helper()
		want := "go" + strconv.FormatInt(id, 10)
		if _, err := ins.Exec(id, want); err != nil {
			t.Fatalf("go-sql-driver prepared INSERT %d: %v", id, err)
		}
		var v string
		if err := sel.QueryRow(id, "-").Scan(&v); err != nil || v != want {
			t.Fatalf("go-sql-driver prepared SELECT %d: %q (%v), want %q", id, v, err, want)
		}
	}

	cc, err := mysqlwire.Dial(context.Background(), mysqlwire.DialConfig{Addr: h.addr, User: app.User, Password: app.Password, DB: h.c.Database()})
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	rins := rawPrepare(t, cc, "INSERT INTO pt VALUES (?, ?)")
	rsel := rawPrepare(t, cc, "SELECT v, CAST(@@server_id AS CHAR) FROM pt WHERE id = ? OR v = ? ORDER BY id")
	raw := func(types bool, id int64) (server int) { // ids from 100, go-sql-driver's below
		t.Helper()
		want := "raw" + strconv.FormatInt(id, 10)
		if _, err := rins.exec(types, id, want); err != nil {
			t.Fatalf("raw INSERT %d (types sent: %v): %v", id, types, err)
		}
		rows, err := rsel.exec(types, id, "-")
		if err != nil || len(rows) != 1 || rows[0][0] != want {
			t.Fatalf("raw SELECT %d (types sent: %v): %q (%v), want %q", id, types, rows, err, want)
		}
		server, _ = strconv.Atoi(rows[0][1])
		return server
	}

	for i := range int64(3) {
		goSQL(i + 1)
		raw(i == 0, i+101) // types with the first EXECUTE only
	}
	// A statement whose types were never sent cannot run anywhere new.
	rnone := rawPrepare(t, cc, "SELECT v FROM pt WHERE id = ? OR v = ?")

	h.switchover("db2")

	for i := range int64(3) {
		goSQL(i + 11)
		raw(false, i+111)
	}
	// The old rows, read through the same statements on the new topology.
	rows, err := rsel.exec(false, 101, "go2")
	if err != nil || len(rows) != 2 || rows[0][0] != "go2" || rows[1][0] != "raw101" {
		t.Fatalf("raw SELECT of rows written before the switchover: %q (%v), want go2 and raw101", rows, err)
	}
	var se *mysqlwire.SQLError
	if _, err := rnone.exec(false, 1, "-"); !errors.As(err, &se) || se.Number != 1243 {
		t.Errorf("EXECUTE without types of a statement never given any: %v, want error 1243", err)
	}

	// Reads go to the replica (db1 now) at their next EXECUTE, without
	// types, once it has caught up.
	sandboxtest.WaitReplicated(t, h.c, 10*time.Second, "db2", "db1")
	rows, err = rsel.exec(false, 112, "-")
	if err != nil || len(rows) != 1 || rows[0][0] != "raw112" {
		t.Fatalf("raw SELECT on the replica: %q (%v), want raw112", rows, err)
	}
	if got := rows[0][1]; got != strconv.Itoa(db1ID) {
		t.Errorf("EXECUTE without types ran on server %s, want the replica %d (primary %d)", got, db1ID, db2ID)
	}
}
