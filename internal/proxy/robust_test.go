package proxy_test

import (
	"context"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"vigil/internal/mysqlwire"
)

// busyBackends is the number of backend connections lent to sessions.
func (h *harness) busyBackends() int {
	n := -int(metricValue(h.t, h.reg, "vigil_proxy_pipelines")) // the loops' own
	for _, st := range h.pool.Stats() {
		n += st.Open - st.Idle
	}
	return n
}

func (h *harness) waitNoBusyBackends(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for h.busyBackends() != 0 || h.srv.Sessions() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d backend connections still lent, %d sessions open after every client left", h.busyBackends(), h.srv.Sessions())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func frame(seq byte, payload []byte) []byte {
	n := len(payload)
	return append([]byte{byte(n), byte(n >> 8), byte(n >> 16), seq}, payload...)
}

func TestHostileClients(t *testing.T) {
	h := newHarness(t, 0, nil)
	app := h.app()
	rng := rand.New(rand.NewPCG(1, 2))
	raw := func() net.Conn {
		c, err := net.DialTimeout("tcp", h.addr, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		return c
	}
	login := func() *mysqlwire.ClientConn {
		c, err := mysqlwire.Dial(context.Background(), mysqlwire.DialConfig{Addr: h.addr, User: app.User, Password: app.Password, DB: h.c.Database()})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	garbage := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}

	t.Run("garbage instead of a handshake response", func(t *testing.T) {
		for i := range 20 {
			c := raw()
			_, _ = io.ReadFull(c, make([]byte, 4)) // greeting header
			_, _ = c.Write(frame(1, garbage(1+i*7)))
			_, _ = io.Copy(io.Discard, c)
			c.Close()
		}
	})
	t.Run("truncated and oversized packets", func(t *testing.T) {
		c := raw()
		_, _ = c.Write([]byte{0xff, 0xff, 0xff, 1, 1, 2}) // 16 MiB declared, 2 bytes sent
		c.Close()
		lc := login()
		hdr := binary.LittleEndian.AppendUint32(nil, 200<<20)
		_, _ = lc.NetConn().Write(append(hdr[:3], 0, mysqlwire.ComQuery))
		lc.Close()
	})
	t.Run("garbage commands after login", func(t *testing.T) {
		lc := login()
		for i := range 50 {
			_ = lc.WriteCommand(garbage(1 + i))
			_ = lc.NetConn().SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			_, _ = lc.ReadPacket()
		}
		lc.Close()
	})
	t.Run("client that leaves during a large result", func(t *testing.T) {
		lc := login()
		_ = lc.WriteCommand(append([]byte{mysqlwire.ComQuery}, "SELECT /* vigil:primary */ seq, REPEAT('x', 1000) FROM seq_1_to_20000"...))
		time.Sleep(200 * time.Millisecond) // the proxy blocks writing to us
		lc.Close()
	})
	t.Run("client that leaves mid-transaction", func(t *testing.T) {
		lc := login()
		if _, err := lc.Exec("BEGIN"); err != nil {
			t.Fatal(err)
		}
		if _, err := lc.Exec("SELECT 1"); err != nil {
			t.Fatal(err)
		}
		lc.Close()
	})
	h.waitNoBusyBackends(t)
	// The proxy still serves.
	lc := login()
	defer lc.Close()
	if rows, err := lc.Query("SELECT 42"); err != nil || rows[0][0].String != "42" {
		t.Fatalf("after hostile clients: %v %v", rows, err)
	}
}
