package proxy_test

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"vigil/internal/mysqlwire"
)

// TestCachedMetadataThroughProxy: a MariaDB client that negotiates
// MARIADB_CLIENT_CACHE_METADATA with the proxy gets a prepared statement's
// column definitions with COM_STMT_PREPARE and then only when they change,
// as from the server itself, and the values every time.
func TestCachedMetadataThroughProxy(t *testing.T) {
	h := newHarness(t, 0, nil)
	app := h.app()
	h.admin("db1", "CREATE TABLE moodle.meta (a INT)", "INSERT INTO moodle.meta VALUES (42)")
	steps := []struct {
		alter    string
		wantMeta byte
		cols     int
	}{
		{"", 0, 1},
		{"", 0, 1},
		{"ALTER TABLE moodle.meta ADD b INT DEFAULT 7", 1, 2},
		{"", 0, 2},
	}
	for _, target := range []struct{ name, addr string }{{"direct", h.c.Node("db1").Addr}, {"proxy", h.addr}} {
		t.Run(target.name, func(t *testing.T) {
			h.admin("db1", "ALTER TABLE moodle.meta DROP COLUMN IF EXISTS b")
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := mysqlwire.Dial(ctx, mysqlwire.DialConfig{
				Addr: target.addr, User: app.User, Password: app.Password,
				Caps: mysqlwire.ClientCaps, ExtCaps: mysqlwire.ExtCacheMetadata,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if c.ExtCaps != mysqlwire.ExtCacheMetadata {
				t.Fatalf("negotiated extended caps %#x, want MARIADB_CLIENT_CACHE_METADATA", c.ExtCaps)
			}
			id, err := c.Prepare([]byte("SELECT * FROM moodle.meta"))
			if err != nil {
				t.Fatal(err)
			}
			for i, st := range steps {
				if st.alter != "" {
					h.admin("db1", st.alter)
				}
				packets := execute(t, c, id)
				if got := packets[0]; len(got) != 2 || got[0] != byte(st.cols) || got[1] != st.wantMeta {
					t.Fatalf("execute %d: column-count packet %x, want [%02x %02x]", i, got, st.cols, st.wantMeta)
				}
				want := 3 // column count, row, terminator (CLIENT_DEPRECATE_EOF)
				if st.wantMeta == 1 {
					want += st.cols
				}
				if len(packets) != want {
					t.Fatalf("execute %d: %d packets, want %d", i, len(packets), want)
				}
				// binary row: 0x00, NULL bitmap, INT 42 [, INT 7]
				row := packets[len(packets)-2]
				if row[0] != 0 || binary.LittleEndian.Uint32(row[2:]) != 42 || (st.cols == 2 && binary.LittleEndian.Uint32(row[6:]) != 7) {
					t.Fatalf("execute %d: row %x, want 42 (and 7)", i, row)
				}
			}
		})
	}
}

// execute runs statement id (no parameters) and returns the response's
// packets up to its terminator.
func execute(t *testing.T, c *mysqlwire.ClientConn, id uint32) [][]byte {
	t.Helper()
	cmd := []byte{mysqlwire.ComStmtExecute, 0, 0, 0, 0, 0, 1, 0, 0, 0}
	binary.LittleEndian.PutUint32(cmd[1:], id)
	if err := c.WriteCommand(cmd); err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for {
		p, err := c.ReadPacket()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, append([]byte(nil), p...))
		if p[0] == 0xff {
			t.Fatalf("server error: %x", p)
		}
		if len(out) > 1 && p[0] == 0xfe && len(p) < 0xffffff {
			return out
		}
	}
}
