package mysqlwire

import (
	"crypto/tls"
	"errors"
	"net"
	"testing"
	"time"
)

func TestParseTLSMode(t *testing.T) {
	for _, name := range []string{"off", "preferred", "required", "verify_ca", "verify_identity"} {
		m, err := ParseTLSMode(name)
		if err != nil || m.String() != name {
			t.Errorf("ParseTLSMode(%q) = %v, %v; want %s", name, m, err, name)
		}
	}
	if m, err := ParseTLSMode(""); err != nil || m != TLSOff {
		t.Errorf(`ParseTLSMode("") = %v, %v; want off`, m, err)
	}
	if _, err := ParseTLSMode("REQUIRED"); err == nil {
		t.Error(`ParseTLSMode("REQUIRED"): got nil error`)
	}
}

// TestClientTLS logs in with the client side (login) against this
// package's server side, with and without TLS offered.
func TestClientTLS(t *testing.T) {
	cases := []struct {
		name      string
		mode      TLSMode
		serverTLS bool
		wantTLS   bool
		wantErr   error // nil: the login works
	}{
		{"off, server with TLS", TLSOff, true, false, nil},
		{"preferred, server with TLS", TLSPreferred, true, true, nil},
		{"preferred, server without TLS: plain", TLSPreferred, false, false, nil},
		{"required", TLSRequired, true, true, nil},
		{"required, server without TLS", TLSRequired, false, false, ErrTLS},
		{"verify_ca, untrusted certificate", TLSVerifyCA, true, false, ErrTLS},
		{"verify_identity, untrusted certificate", TLSVerifyIdentity, true, false, ErrTLS},
	}
	const pw = "s3cret"
	cred, _ := CredentialsFor(pw)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, b := tcpPair(t) // not net.Pipe: TLS alerts need socket buffers
			_ = a.SetDeadline(time.Now().Add(5 * time.Second))
			_ = b.SetDeadline(time.Now().Add(5 * time.Second))
			serr := make(chan error, 1)
			go func() {
				srv := NewServerConn(a)
				salt, _ := NewSalt()
				g := &Greeting{ServerVersion: "5.5.5-10.11.19-MariaDB", ConnID: 1, Salt: salt[:], Caps: ProxyCaps, Charset: 45, Plugin: NativePassword}
				var tcfg *tls.Config
				if tc.serverTLS {
					tcfg = testTLS(t)
				}
				login, err := srv.ServerHandshake(g, ServerAuth{TLS: tcfg, Lookup: func(string) (Credentials, bool) { return cred, true }})
				if err == nil {
					err = srv.WriteOK(login.Caps, OK{Status: StatusAutocommit})
				}
				a.Close() // a failed client gets EOF, not a hang
				serr <- err
			}()
			c := NewClientConn(b)
			cc, err := login(c, DialConfig{Addr: "localhost:3306", User: "u", Password: pw, TLS: &ClientTLS{Mode: tc.mode}})
			if err != nil {
				c.Close() // as Dial does
			}
			<-serr
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("login: got %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("login: %v", err)
			}
			if c.TLS() != tc.wantTLS || cc.Caps&CapSSL != 0 {
				t.Errorf("TLS() = %v, caps %#x; want TLS %v and no CLIENT_SSL in the negotiated caps", c.TLS(), cc.Caps, tc.wantTLS)
			}
			if _, raw := c.NetConn().(*rawConn); tc.mode == TLSPreferred && !tc.wantTLS && !raw {
				t.Errorf("plain fallback on %T, want the raw I/O path", c.NetConn())
			}
		})
	}
}

// tcpPair returns the two ends of a loopback TCP connection, closed at
// the end of the test.
func tcpPair(t *testing.T) (net.Conn, net.Conn) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	b, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	a, err := l.Accept()
	if err != nil {
		b.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func TestTLSHandshakeErrorTransient(t *testing.T) {
	netErr := &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}
	if err := tlsHandshakeError(netErr); errors.Is(err, ErrTLS) {
		t.Errorf("network error %v marked ErrTLS", err)
	}
	alert := &net.OpError{Op: "remote error", Err: tls.AlertError(40)}
	if err := tlsHandshakeError(alert); !errors.Is(err, ErrTLS) {
		t.Errorf("server alert %v not marked ErrTLS", err)
	}
}
