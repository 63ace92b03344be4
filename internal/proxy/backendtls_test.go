package proxy_test

import (
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"vigil/internal/config"
	"vigil/internal/mysqlwire"
	"vigil/internal/proxy/proxytest"
	"vigil/internal/sandbox"
	"vigil/internal/sandbox/sandboxtest"
	"vigil/internal/topology"
)

// tlsCluster is a one-server cluster (with or without TLS) that each
// subtest puts its own in-process proxy in front of.
type tlsCluster struct {
	c   *sandbox.Cluster
	pub *topology.Publisher
}

func newTLSCluster(t *testing.T, withTLS bool) *tlsCluster {
	c := sandboxtest.New(t, sandbox.Options{PrimaryWritable: true, TLS: withTLS})
	h := &harness{t: t, c: c, pub: topology.NewPublisher(nil)}
	h.publish("db1")
	return &tlsCluster{c: c, pub: h.pub}
}

// proxy starts a proxy with proxy.backend_tls set to b (and pool_min_idle
// minIdle, with the pool's warm-up running) and returns an app handle
// through it that opens a new client session for every statement.
func (tc *tlsCluster) proxy(t *testing.T, b config.BackendTLS, minIdle int) (*proxytest.Proxy, *sql.DB) {
	cfg := tc.c.Config()
	cfg.Proxy.HoldTimeout = 3 * time.Second
	cfg.Proxy.BackendTLS = b
	cfg.Proxy.PoolMinIdle = &minIdle
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	px := proxytest.Start(t, cfg, tc.pub, proxytest.Options{RunPool: minIdle > 0})
	app := tc.c.App()
	db := sandboxtest.OpenDB(t, tcpDSN(px.Addr, app.User, app.Password, tc.c.Database(), nil))
	db.SetMaxIdleConns(0)
	return px, db
}

// sslCipher is the session's Ssl_cipher as the backend reports it ("" on
// a plain connection).
func sslCipher(t *testing.T, db *sql.DB) (string, error) {
	var name, cipher string
	err := db.QueryRow("SHOW SESSION STATUS LIKE 'Ssl_cipher'").Scan(&name, &cipher)
	return cipher, err
}

func TestBackendTLS(t *testing.T) {
	tc := newTLSCluster(t, true)
	for _, b := range []config.BackendTLS{
		{Mode: "preferred"},
		{Mode: "required"},
		{Mode: "verify_ca", CA: tc.c.CAFile()},
		{Mode: "verify_identity", CA: tc.c.CAFile()},
	} {
		t.Run(b.Mode, func(t *testing.T) {
			px, db := tc.proxy(t, b, 2)
			addr := tc.c.Node("db1").Addr
			for i := range 6 { // new client sessions on dialled, reused (COM_CHANGE_USER) and warm connections
				cipher, err := sslCipher(t, db)
				if err != nil || cipher == "" {
					t.Fatalf("session %d: Ssl_cipher = %q, %v; want a cipher", i, cipher, err)
				}
				if i == 0 { // the first session taught the pool its profile: let warm-up run
					deadline := time.Now().Add(10 * time.Second)
					for px.Pool.Stats()[addr].Warmed == 0 && time.Now().Before(deadline) {
						time.Sleep(20 * time.Millisecond)
					}
				}
			}
			var big string // over 16 MiB: continuation packets through the TLS relay
			if err := db.QueryRow("SELECT REPEAT('x', 17 << 20)").Scan(&big); err != nil || len(big) != 17<<20 {
				t.Fatalf("17 MiB value: got %d bytes, %v", len(big), err)
			}
			st := px.Pool.Stats()[addr]
			if st.Warmed == 0 || st.Reuses == 0 {
				t.Errorf("pool stats %+v: want warmed and reused connections", st)
			}
		})
	}
	t.Run("verify_ca with another CA", func(t *testing.T) {
		_, db := tc.proxy(t, config.BackendTLS{Mode: "verify_ca", CA: sandboxtest.ForeignCA(t)}, 0)
		start := time.Now()
		_, err := sslCipher(t, db)
		wantTLSError(t, err, "certificate")
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("error after %v, want it at once (no hold)", d)
		}
	})
}

func TestBackendTLSServerWithout(t *testing.T) {
	tc := newTLSCluster(t, false)
	t.Run("required", func(t *testing.T) {
		_, db := tc.proxy(t, config.BackendTLS{Mode: "required"}, 0)
		_, err := sslCipher(t, db)
		wantTLSError(t, err, "offers no TLS")
	})
	t.Run("preferred", func(t *testing.T) {
		_, db := tc.proxy(t, config.BackendTLS{Mode: "preferred"}, 0)
		for range 3 {
			if cipher, err := sslCipher(t, db); err != nil || cipher != "" {
				t.Fatalf("Ssl_cipher = %q, %v; want a plain connection", cipher, err)
			}
		}
	})
}

// wantTLSError checks that err is the proxy's error packet for a failed
// backend TLS connection, mentioning detail.
func wantTLSError(t *testing.T, err error, detail string) {
	t.Helper()
	var me *mysql.MySQLError
	if !errors.As(err, &me) || me.Number != mysqlwire.CrSSLConnectionError || !strings.Contains(me.Message, detail) {
		t.Fatalf("got %v, want MySQL error %d mentioning %q", err, mysqlwire.CrSSLConnectionError, detail)
	}
	t.Logf("client got: %v", err)
}
