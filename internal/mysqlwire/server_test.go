package mysqlwire

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"sync"
	"testing"
	"time"
)

// testTLS is a throwaway server certificate.
func testTLS(t *testing.T) *tls.Config {
	t.Helper()
	cert, err := tls.X509KeyPair([]byte(testCert), []byte(testKey))
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}}
}

// testRSA is a throwaway 2048-bit RSA key, generated once.
var testRSA = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// clientLogin plays a client that starts with plugin and answers what the
// server asks (auth switch to native, caching_sha2 fast OK or full auth).
// full says what it sends for full authentication without TLS: "" asks
// for the public key and sends the RSA-encrypted password, "clear" the
// clear password, "garbage" a key-sized blob of random bytes.
func clientLogin(t *testing.T, nc net.Conn, user, password, plugin string, useTLS bool, full string) error {
	c := NewClientConn(nc)
	p, err := c.ReadPacket()
	if err != nil {
		return err
	}
	g, err := ParseGreeting(p)
	if err != nil {
		return err
	}
	caps := ClientCaps
	if useTLS {
		caps |= CapSSL
		req := HandshakeResponse{Caps: caps, MaxPacket: MaxPayload, Charset: 45}
		if err := c.writeFlush(req.AppendHandshakeResponse(nil)[:32]); err != nil {
			return err
		}
		tc := tls.Client(nc, &tls.Config{InsecureSkipVerify: true})
		if err := tc.Handshake(); err != nil {
			return err
		}
		c.nc, c.tls = tc, true
		c.br.Reset(tc)
		c.bw.Reset(tc)
	}
	token := NativeToken(Stage1(password), g.Salt)
	if plugin == CachingSHA2Password {
		token = SHA2Token(password, g.Salt)
	}
	resp := HandshakeResponse{Caps: caps, MaxPacket: MaxPayload, Charset: 45, User: user, AuthData: token, Plugin: plugin}
	if err := c.writeFlush(resp.AppendHandshakeResponse(nil)); err != nil {
		return err
	}
	for {
		p, err := c.ReadPacket()
		if err != nil {
			return err
		}
		switch {
		case p[0] == iOK:
			return nil
		case p[0] == iERR:
			e, _ := ParseERR(p)
			return e
		case p[0] == iEOF:
			_, salt, _ := ParseAuthSwitch(p)
			if err := c.writeFlush(NativeToken(Stage1(password), salt)); err != nil {
				return err
			}
		case bytes.Equal(p, []byte{1, sha2FastOK}):
		case bytes.Equal(p, []byte{1, sha2FullAuth}):
			if err := c.writeFlush(fullAuthAnswer(c.tls, password, full)); err != nil {
				return err
			}
		case p[0] == 1 && len(p) > 2: // the server's public key
			block, _ := pem.Decode(p[1:])
			if block == nil {
				t.Fatalf("public key packet without PEM: %q", p)
			}
			pub, err := x509.ParsePKIXPublicKey(block.Bytes)
			if err != nil {
				t.Fatalf("public key: %v", err)
			}
			enc, err := EncryptPassword(pub.(*rsa.PublicKey), g.Salt, password)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.writeFlush(enc); err != nil {
				return err
			}
		default:
			t.Fatalf("unexpected packet %x", p)
		}
	}
}

// fullAuthAnswer is a client's first packet of caching_sha2 full
// authentication (see clientLogin).
func fullAuthAnswer(useTLS bool, password, full string) []byte {
	switch {
	case useTLS || full == "clear":
		return append([]byte(password), 0)
	case full == "garbage":
		b := make([]byte, 256)
		_, _ = rand.Read(b)
		return b
	}
	return []byte{sha2RequestPublicKey}
}

func TestServerHandshake(t *testing.T) {
	const pw = "s3cret"
	clear, _ := CredentialsFor(pw)
	hashed, _ := CredentialsFor(FormatNativeHash(Stage2(Stage1(pw))))
	cases := []struct {
		name, plugin, password string
		cred                   Credentials
		tls, rsa, ok           bool
		full                   string
	}{
		{"native", NativePassword, pw, clear, false, false, true, ""},
		{"native, hash only", NativePassword, pw, hashed, false, false, true, ""},
		{"native, wrong password", NativePassword, "nope", clear, false, false, false, ""},
		{"native over TLS", NativePassword, pw, hashed, true, false, true, ""},
		{"caching_sha2 fast", CachingSHA2Password, pw, clear, false, false, true, ""},
		{"caching_sha2 fast with RSA key", CachingSHA2Password, pw, clear, false, true, true, ""},
		{"caching_sha2 wrong", CachingSHA2Password, "nope", clear, false, false, false, ""},
		{"caching_sha2 hash only: switched to native", CachingSHA2Password, pw, hashed, false, false, true, ""},
		{"caching_sha2 hash only over TLS: full auth", CachingSHA2Password, pw, hashed, true, false, true, ""},
		{"caching_sha2 hash only over TLS with RSA key: full auth", CachingSHA2Password, pw, hashed, true, true, true, ""},
		{"caching_sha2 full auth, wrong password", CachingSHA2Password, "nope", hashed, true, false, false, ""},
		{"caching_sha2 hash only: RSA full auth", CachingSHA2Password, pw, hashed, false, true, true, ""},
		{"caching_sha2 wrong fast token: RSA full auth", CachingSHA2Password, "nope", clear, false, true, false, ""},
		{"caching_sha2 RSA full auth, wrong password", CachingSHA2Password, "nope", hashed, false, true, false, ""},
		{"caching_sha2 clear password without TLS: refused", CachingSHA2Password, pw, hashed, false, true, false, "clear"},
		{"caching_sha2 garbage instead of RSA: refused", CachingSHA2Password, pw, hashed, false, true, false, "garbage"},
		{"other plugin: switched to native", "client_ed25519", pw, clear, false, true, true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, b := net.Pipe()
			defer a.Close()
			defer b.Close()
			_ = a.SetDeadline(time.Now().Add(5 * time.Second))
			_ = b.SetDeadline(time.Now().Add(5 * time.Second))
			cerr := make(chan error, 1)
			go func() { cerr <- clientLogin(t, b, "u", tc.password, tc.plugin, tc.tls, tc.full) }()
			srv := NewServerConn(a)
			salt, _ := NewSalt()
			g := &Greeting{ServerVersion: "5.5.5-10.11.19-MariaDB", ConnID: 1, Salt: salt[:], Caps: ProxyCaps, Charset: 45, Plugin: NativePassword}
			var tcfg *tls.Config
			if tc.tls {
				tcfg = testTLS(t)
			}
			auth := ServerAuth{TLS: tcfg, Lookup: func(string) (Credentials, bool) { return tc.cred, true }}
			if tc.rsa {
				auth.RSA = testRSA
			}
			login, err := srv.ServerHandshake(g, auth)
			if tc.ok {
				if err != nil {
					t.Fatalf("handshake: %v", err)
				}
				if !bytes.Equal(login.Stage1, Stage1(pw)) {
					t.Errorf("recovered stage1 %x, want SHA1(password)", login.Stage1)
				}
				if srv.TLS() != tc.tls {
					t.Errorf("TLS = %v, want %v", srv.TLS(), tc.tls)
				}
				_ = srv.WriteOK(login.Caps, OK{Status: StatusAutocommit})
				if err := <-cerr; err != nil {
					t.Errorf("client: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrAuthFailed) {
				t.Fatalf("handshake: got %v, want ErrAuthFailed", err)
			}
			_ = srv.WriteError(Errorf(ErAccessDenied, "28000", "denied"))
			if err := <-cerr; err == nil {
				t.Error("client logged in with a wrong password")
			}
		})
	}
}

// A self-signed test certificate for "localhost" (ECDSA P-256, not secret).
const testCert = `-----BEGIN CERTIFICATE-----
MIIBhTCCASugAwIBAgIQIRi6zePL6mKjOipn+dNuaTAKBggqhkjOPQQDAjASMRAw
DgYDVQQKEwdBY21lIENvMB4XDTE3MTAyMDE5NDMwNloXDTE4MTAyMDE5NDMwNlow
EjEQMA4GA1UEChMHQWNtZSBDbzBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABD0d
7VNhbWvZLWPuj/RtHFjvtJBEwOkhbN/BnnE8rnZR8+sbwnc/KhCk3FhnpHZnQz7B
5aETbbIgmuvewdjvSBSjYzBhMA4GA1UdDwEB/wQEAwICpDATBgNVHSUEDDAKBggr
BgEFBQcDATAPBgNVHRMBAf8EBTADAQH/MCkGA1UdEQQiMCCCDmxvY2FsaG9zdDo1
NDUzgg4xMjcuMC4wLjE6NTQ1MzAKBggqhkjOPQQDAgNIADBFAiEA2zpJEPQyz6/l
Wf86aX6PepsntZv2GYlA5UpabfT2EZICICpJ5h/iI+i341gBmLiAFQOyTDT+/wQc
6MF9+Yw1Yy0t
-----END CERTIFICATE-----`

const testKey = `-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIIrYSSNQFaA2Hwf1duRSxKtLYX5CB04fSeQ6tF1aY/PuoAoGCCqGSM49
AwEHoUQDQgAEPR3tU2Fta9ktY+6P9G0cWO+0kETA6SFs38GecTyudlHz6xvCdz8q
EKTcWGekdmdDPsHloRNtsiCa697B2O9IFA==
-----END EC PRIVATE KEY-----`
