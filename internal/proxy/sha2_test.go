package proxy_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"database/sql"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"vigil/internal/config"
	"vigil/internal/mysqlwire"
	"vigil/internal/proxy"
)

// TestCachingSHA2RSA: with caching_sha2_password proposed in the greeting,
// a hash-only user needs full authentication, which go-sql-driver does on
// plain TCP by asking for the proxy's RSA public key (or with a key it
// already has); wrong passwords and anything but an RSA-encrypted password
// get the server's own 1045.
func TestCachingSHA2RSA(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "private_key.pem")
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, 0, func(c *config.Config) {
		c.Proxy.DefaultAuthPlugin = mysqlwire.CachingSHA2Password
		c.Proxy.RSAPrivateKey = keyFile
		c.Users = append(c.Users, config.User{Name: "hashed",
			Password: mysqlwire.FormatNativeHash(mysqlwire.Stage2(mysqlwire.Stage1(c.Users[0].Password)))})
	})
	app := h.app()
	h.admin("db1",
		fmt.Sprintf("CREATE USER hashed@'%%' IDENTIFIED BY '%s'", app.Password),
		fmt.Sprintf("CREATE USER hashed@localhost IDENTIFIED BY '%s'", app.Password),
		"GRANT ALL ON *.* TO hashed@'%'", "GRANT ALL ON *.* TO hashed@localhost")
	mysql.RegisterServerPubKey("vigil-test", &key.PublicKey)
	t.Cleanup(func() { mysql.DeregisterServerPubKey("vigil-test") })
	withKey := func(c *mysql.Config) { c.ServerPubKey = "vigil-test" }

	currentUser := func(t *testing.T, dsn string) string {
		t.Helper()
		db, err := sql.Open("mysql", dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var user string
		if err := db.QueryRow("SELECT /* vigil:primary */ CURRENT_USER()").Scan(&user); err != nil {
			t.Fatalf("login and query: %v", err)
		}
		return user
	}
	for _, tc := range []struct {
		name, user string
		edit       func(*mysql.Config)
	}{
		{"hash-only user, public key requested", "hashed", nil},
		{"hash-only user, public key known to the client", "hashed", withKey},
		{"clear-text user (fast authentication)", app.User, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if u := currentUser(t, h.dsn(tc.user, app.Password, h.c.Database(), tc.edit)); !strings.HasPrefix(u, tc.user+"@") {
				t.Errorf("backend user = %q, want %s", u, tc.user)
			}
		})
	}
	for _, tc := range []struct {
		name, user string
		edit       func(*mysql.Config)
	}{
		{"hash-only user, wrong password", "hashed", nil},
		{"hash-only user, wrong password, known key", "hashed", withKey},
		{"clear-text user, wrong password (full authentication after fast)", app.User, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := pingErr(h.directDSN("db1", tc.user, "wrong", "", nil))
			got := pingErr(h.dsn(tc.user, "wrong", "", tc.edit))
			if mysqlErrNo(got) != 1045 || want == nil || got.Error() != want.Error() {
				t.Errorf("through the proxy: %v\nwant (as the server): %v", got, want)
			}
		})
	}
	t.Run("not an RSA-encrypted password: 1045", func(t *testing.T) {
		for _, a := range hostileFullAuth() {
			msg, err := rawFullAuth(t, h.addr, "hashed", a.packets)
			if err != nil {
				t.Fatalf("%s: %v", a.name, err)
			}
			if msg.Number != mysqlwire.ErAccessDenied || !strings.HasPrefix(msg.Message, "Access denied for user 'hashed'@") {
				t.Errorf("%s: got %v, want 1045", a.name, msg)
			}
		}
		if u := currentUser(t, h.dsn("hashed", app.Password, "", nil)); !strings.HasPrefix(u, "hashed@") {
			t.Errorf("after hostile clients: backend user %q", u)
		}
	})
	t.Run("generated key when none is configured", func(t *testing.T) {
		h.cfg.Proxy.RSAPrivateKey = ""
		pcfg, err := proxy.ConfigFrom(h.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.srv.Reload(pcfg); err != nil {
			t.Fatal(err)
		}
		if u := currentUser(t, h.dsn("hashed", app.Password, "", nil)); !strings.HasPrefix(u, "hashed@") {
			t.Errorf("backend user = %q, want hashed", u)
		}
		// The client's copy of the configured key no longer matches.
		if err := pingErr(h.dsn("hashed", app.Password, "", withKey)); mysqlErrNo(err) != 1045 {
			t.Errorf("password encrypted with a stale key: got %v, want 1045", err)
		}
	})
}

// TestCachingSHA2MariaDBClient: the mariadb CLI (Connector/C's
// caching_sha2_password plugin, built with OpenSSL) asks for the public
// key by itself on plain TCP, but only with --skip-ssl: with its default
// ssl=TRUE and a proxy that offers no TLS it takes the connection for a
// secure one and sends the clear password, which is refused as MySQL 8
// refuses it.
func TestCachingSHA2MariaDBClient(t *testing.T) {
	needTool(t, "mariadb")
	h := newHarness(t, 0, func(c *config.Config) {
		c.Proxy.DefaultAuthPlugin = mysqlwire.CachingSHA2Password
		c.Users = append(c.Users, config.User{Name: "hashed",
			Password: mysqlwire.FormatNativeHash(mysqlwire.Stage2(mysqlwire.Stage1(c.Users[0].Password)))})
	})
	app := h.app()
	h.admin("db1",
		fmt.Sprintf("CREATE USER hashed@'%%' IDENTIFIED BY '%s'", app.Password),
		fmt.Sprintf("CREATE USER hashed@localhost IDENTIFIED BY '%s'", app.Password),
		"GRANT ALL ON *.* TO hashed@'%'", "GRANT ALL ON *.* TO hashed@localhost")
	sha2 := []string{"--default-auth=caching_sha2_password", "-N", "-e", "SELECT 7"}
	out, err := cli(t, h.addr, "hashed", app.Password, "", append([]string{"--skip-ssl"}, sha2...)...)
	if err != nil || strings.TrimSpace(out) != "7" {
		t.Errorf("mariadb --skip-ssl with caching_sha2_password (RSA) through the proxy: %v\n%s", err, out)
	}
	const denied = "ERROR 1045 (28000): Access denied for user 'hashed'@"
	out, err = cli(t, h.addr, "hashed", "wrong", "", append([]string{"--skip-ssl"}, sha2...)...)
	if err == nil || !strings.Contains(out, denied) {
		t.Errorf("wrong password: %v\n%s", err, out)
	}
	out, err = cli(t, h.addr, "hashed", app.Password, "", sha2...)
	if err == nil || !strings.Contains(out, denied) {
		t.Errorf("clear password on a plain connection: got %v\n%s\nwant 1045", err, out)
	}
}

func pingErr(dsn string) error {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.Ping()
}

// fullAuthAttempt is what a hand-made client sends after the proxy asks
// for full authentication: packets, each one answered by the proxy with a
// public key (after a key request) or its verdict.
type fullAuthAttempt struct {
	name    string
	packets [][]byte
}

func hostileFullAuth() []fullAuthAttempt {
	junk := func(n int) []byte {
		b := make([]byte, n)
		_, _ = rand.Read(b)
		return b
	}
	return []fullAuthAttempt{
		{"clear-text password", [][]byte{[]byte("wrong\x00")}},
		{"empty packet", [][]byte{{}}},
		{"garbage of the key's size", [][]byte{junk(256)}},
		{"garbage after a key request", [][]byte{{2}, junk(256)}},
		{"short garbage after a key request", [][]byte{{2}, junk(17)}},
		{"two key requests", [][]byte{{2}, {2}}},
		{"oversized garbage", [][]byte{junk(70000)}},
	}
}

// rawFullAuth logs in as user with caching_sha2_password and a wrong fast
// token, sends a's packets after the proxy asks for full authentication
// and returns the proxy's error.
func rawFullAuth(t *testing.T, addr, user string, packets [][]byte) (*mysqlwire.SQLError, error) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	c := mysqlwire.NewClientConn(nc)
	p, err := c.ReadPacket()
	if err != nil {
		return nil, err
	}
	g, err := mysqlwire.ParseGreeting(p)
	if err != nil {
		return nil, err
	}
	resp := mysqlwire.HandshakeResponse{Caps: mysqlwire.ClientCaps | mysqlwire.CapPluginAuth, MaxPacket: mysqlwire.MaxPayload,
		Charset: 45, User: user, AuthData: mysqlwire.SHA2Token("not it", g.Salt), Plugin: mysqlwire.CachingSHA2Password}
	send := func(b []byte) error {
		if err := c.WritePacket(b); err != nil {
			return err
		}
		return c.Flush()
	}
	if err := send(resp.AppendHandshakeResponse(nil)); err != nil {
		return nil, err
	}
	for _, out := range append([][]byte{nil}, packets...) {
		if out != nil {
			if err := send(out); err != nil {
				return nil, err
			}
		}
		p, err := c.ReadPacket()
		if err != nil {
			return nil, fmt.Errorf("no answer: %w", err)
		}
		if p[0] == 0xff {
			return mysqlwire.ParseERR(p)
		}
		if p[0] != 1 {
			return nil, fmt.Errorf("unexpected packet %x", p)
		}
	}
	return nil, fmt.Errorf("no verdict after %d packets", len(packets))
}
