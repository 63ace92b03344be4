package proxy_test

import (
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"vigil/internal/sandbox/sandboxtest"
)

// result is everything a query returned, for comparing a direct run with
// a proxied one.
type result struct {
	Sets [][][]any
	Cols [][]string
	Err  string
}

func collect(db *sql.DB, query string, args ...any) result {
	var r result
	rows, err := db.Query(query, args...)
	if err != nil {
		r.Err = errString(err)
		return r
	}
	defer rows.Close()
	for {
		cols, _ := rows.Columns()
		r.Cols = append(r.Cols, cols)
		var set [][]any
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				r.Err = errString(err)
				return r
			}
			for i, v := range vals {
				if b, ok := v.([]byte); ok {
					vals[i] = string(b)
				}
			}
			set = append(set, vals)
		}
		r.Sets = append(r.Sets, set)
		if !rows.NextResultSet() {
			break
		}
	}
	if err := rows.Err(); err != nil {
		r.Err = errString(err)
	}
	return r
}

func errString(err error) string {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return fmt.Sprintf("%d %s %s", me.Number, string(me.SQLState[:]), me.Message)
	}
	return err.Error()
}

// conformanceCases run the same way directly and through the proxy.
var conformanceCases = []struct {
	name  string
	query string
	args  []any
}{
	{"scalars", "SELECT 1, -2, 3.25, 'x', NULL, 0x00ff, CAST(12345678901234 AS DECIMAL(30,4)), 1e300", nil},
	{"time types", "SELECT CAST('2024-02-29 23:59:58.123456' AS DATETIME(6)), DATE '1999-12-31', TIME '-838:59:59', TIMESTAMP '2038-01-19 03:14:07', YEAR(20240101)", nil},
	{"table", "SELECT * FROM conf ORDER BY id", nil},
	{"args", "SELECT id, d, t, n FROM conf WHERE id > ? ORDER BY id", []any{1}},
	{"null args", "SELECT ? IS NULL, ?, ?", []any{nil, 3.5, "ü"}},
	{"large result", "SELECT seq, REPEAT('x', seq % 300) FROM seq_1_to_30000", nil},
	{"multi statements", "SELECT 1; SELECT 'a', 'b'; SELECT * FROM conf WHERE id = 1", nil},
	{"empty result", "SELECT * FROM conf WHERE id < 0", nil},
	{"syntax error", "SELEC 1", nil},
	{"unknown table", "SELECT * FROM nope", nil},
	{"error in multi", "SELECT 1; SELECT * FROM nope; SELECT 2", nil},
	{"show", "SHOW COLUMNS FROM conf", nil},
	{"warnings", "SELECT CAST('abc' AS SIGNED)", nil},
	{"unicode", "SELECT 'Grüße, 世界 🎉', CHAR_LENGTH('🎉')", nil},
}

func TestConformanceGoDriver(t *testing.T) {
	h := newHarness(t, 1, nil)
	app := h.app()
	h.admin("db1", "SET GLOBAL max_allowed_packet = 67108864")
	setup := h.open(h.directDSN("db1", app.User, app.Password, h.c.Database(), nil))
	for _, s := range []string{
		"CREATE TABLE conf (id INT PRIMARY KEY, d DECIMAL(20,6), t DATETIME(3), n VARCHAR(20) NULL, b LONGBLOB)",
		"INSERT INTO conf VALUES (1, 1.5, '2020-01-01 00:00:00.5', NULL, NULL), (2, -99999999.999999, '1970-01-01 00:00:01', 'two', 0x0102), (3, 0, NULL, '', '')",
	} {
		if _, err := setup.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	// The rows went to db1 directly; reads through the proxy may run on db2.
	sandboxtest.WaitReplicated(t, h.c, 30*time.Second, "db1", "db2")
	for _, mode := range []struct {
		name string
		edit func(*mysql.Config)
	}{
		{"text", func(c *mysql.Config) { c.InterpolateParams = true; c.MultiStatements = true }},
		{"binary", func(c *mysql.Config) { c.MultiStatements = true }},
		{"binary-noms", nil},
	} {
		direct := h.open(h.directDSN("db1", app.User, app.Password, h.c.Database(), mode.edit))
		proxied := h.open(h.dsn(app.User, app.Password, h.c.Database(), mode.edit))
		for _, tc := range conformanceCases {
			t.Run(mode.name+"/"+tc.name, func(t *testing.T) {
				want := collect(direct, tc.query, tc.args...)
				got := collect(proxied, tc.query, tc.args...)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("through the proxy:\n got %s\nwant %s", brief(got), brief(want))
				}
			})
		}
	}
}

func brief(r result) string {
	s := fmt.Sprintf("err=%q cols=%v", r.Err, r.Cols)
	for i, set := range r.Sets {
		s += fmt.Sprintf(" set%d=%d rows", i, len(set))
		if len(set) > 0 {
			s += fmt.Sprintf(" first=%v", set[0])
		}
	}
	return s
}

func TestLargeBlobs(t *testing.T) {
	h := newHarness(t, 1, nil)
	app := h.app()
	h.admin("db1", "SET GLOBAL max_allowed_packet = 67108864")
	db := h.open(h.dsn(app.User, app.Password, h.c.Database(), nil))
	if _, err := db.Exec("CREATE TABLE blobs (id INT PRIMARY KEY, b LONGBLOB)"); err != nil {
		t.Fatal(err)
	}
	blob := []byte(strings.Repeat("0123456789abcdef", 20<<20/16+7)) // 20 MiB + 112 bytes
	for i, proto := range []string{"binary", "text"} {
		dsn := h.dsn(app.User, app.Password, h.c.Database(), func(c *mysql.Config) { c.InterpolateParams = proto == "text" })
		pdb := h.open(dsn)
		if _, err := pdb.Exec("INSERT INTO blobs VALUES (?, ?)", i, blob); err != nil {
			t.Fatalf("%s insert of %d bytes: %v", proto, len(blob), err)
		}
		var got []byte
		if err := pdb.QueryRow("SELECT b FROM blobs WHERE id = ?", i).Scan(&got); err != nil {
			t.Fatalf("%s select: %v", proto, err)
		}
		if len(got) != len(blob) || string(got) != string(blob) {
			t.Errorf("%s: read back %d bytes, want the %d written", proto, len(got), len(blob))
		}
	}
}
