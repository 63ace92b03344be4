package mysqlwire

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
)

// TLSMode is how a client connection uses TLS, in the vocabulary of the
// MySQL client's --ssl-mode.
type TLSMode uint8

const (
	// TLSOff never asks for TLS (the default).
	TLSOff TLSMode = iota
	// TLSPreferred uses TLS when the server offers it, without checking
	// the server's certificate, and plain TCP otherwise.
	TLSPreferred
	// TLSRequired needs TLS but does not check the server's certificate.
	TLSRequired
	// TLSVerifyCA needs TLS and a server certificate signed by a trusted CA.
	TLSVerifyCA
	// TLSVerifyIdentity is TLSVerifyCA plus a certificate naming the host
	// that was dialled (DNS name or IP address).
	TLSVerifyIdentity
)

var tlsModeNames = [...]string{"off", "preferred", "required", "verify_ca", "verify_identity"}

func (m TLSMode) String() string {
	if int(m) < len(tlsModeNames) {
		return tlsModeNames[m]
	}
	return fmt.Sprintf("TLSMode(%d)", m)
}

// ParseTLSMode parses a mode name ("" is off).
func ParseTLSMode(s string) (TLSMode, error) {
	if s == "" {
		return TLSOff, nil
	}
	for i, n := range tlsModeNames {
		if s == n {
			return TLSMode(i), nil
		}
	}
	return TLSOff, fmt.Errorf("TLS mode %q: want off, preferred, required, verify_ca or verify_identity", s)
}

// ClientTLS says how Dial secures a connection. It is read-only once in use.
type ClientTLS struct {
	Mode TLSMode
	// Roots are the CAs verify_ca and verify_identity trust (nil: the
	// system's).
	Roots *x509.CertPool
	// Certificates are offered to servers that ask for a client certificate.
	Certificates []tls.Certificate
}

// LoadClientTLS builds the TLS settings of mode (ParseTLSMode's names)
// with its files: caFile, PEM CAs trusted by verify_ca and verify_identity
// ("" for the system's), and certFile and keyFile, a PEM client
// certificate and key for servers that ask for one ("" for none). It
// returns nil when the mode is off.
func LoadClientTLS(mode, caFile, certFile, keyFile string) (*ClientTLS, error) {
	m, err := ParseTLSMode(mode)
	if err != nil || m == TLSOff {
		return nil, err
	}
	t := &ClientTLS{Mode: m}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("TLS CA: %w", err)
		}
		t.Roots = x509.NewCertPool()
		if !t.Roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("TLS CA %s: no PEM certificate found", caFile)
		}
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("TLS client certificate: %w", err)
		}
		t.Certificates = []tls.Certificate{cert}
	}
	return t, nil
}

// ErrTLS marks a TLS failure that retrying will not fix: the server offers
// no TLS while the mode requires it, or its certificate is not trusted, or
// the TLS handshake was refused. Network errors during the handshake are
// not marked.
var ErrTLS = errors.New("TLS failure")

// tlsFailure is an error that matches ErrTLS without repeating its text.
type tlsFailure struct{ err error }

func (e tlsFailure) Error() string        { return e.err.Error() }
func (e tlsFailure) Unwrap() error        { return e.err }
func (e tlsFailure) Is(target error) bool { return target == ErrTLS }

// enabled reports whether t asks for TLS at all.
func (t *ClientTLS) enabled() bool { return t != nil && t.Mode != TLSOff }

// Config returns the crypto/tls configuration of a connection to addr
// (host:port) in t's mode, for Dial and for other clients of the same
// servers (go-sql-driver's Config.TLS): preferred and required check no
// certificate, verify_ca checks the chain against Roots but not the name,
// verify_identity checks both (the name against addr's host). Falling back
// to plain TCP in preferred mode is the client's part: Dial does it, and
// go-sql-driver does it with Config.AllowFallbackToPlaintext. Config must
// not be called with t off or nil.
func (t *ClientTLS) Config(addr string) *tls.Config {
	c := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: t.Certificates, RootCAs: t.Roots}
	switch t.Mode {
	case TLSVerifyIdentity:
		c.ServerName, _, _ = net.SplitHostPort(addr)
	case TLSVerifyCA:
		c.InsecureSkipVerify = true // the chain is checked below, the name is not
		c.VerifyConnection = func(cs tls.ConnectionState) error { return verifyChain(cs, t.Roots) }
	default:
		c.InsecureSkipVerify = true
	}
	return c
}

// verifyChain checks that the server's certificate chains to roots.
func verifyChain(cs tls.ConnectionState, roots *x509.CertPool) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("server sent no certificate")
	}
	opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
	for _, c := range cs.PeerCertificates[1:] {
		opts.Intermediates.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(opts)
	return err
}

// startTLS runs the client side of the TLS upgrade after the greeting g:
// it sends the SSL request with caps and charset and replaces c's
// connection by the TLS one. It does nothing when t is off. When the
// server offers no TLS, TLSPreferred continues in plain TCP (on the raw
// I/O path, Direct) and the other modes fail with ErrTLS.
func (c *Conn) startTLS(t *ClientTLS, addr string, g *Greeting, caps, ext uint32, charset byte) error {
	if !t.enabled() {
		return nil
	}
	if g.Caps&CapSSL == 0 {
		if t.Mode == TLSPreferred {
			c.rebind(Direct(c.nc))
			return nil
		}
		return tlsFailure{fmt.Errorf("server offers no TLS, which TLS mode %s needs (the server needs ssl_cert and ssl_key)", t.Mode)}
	}
	hr := HandshakeResponse{Caps: caps | CapSSL, MaxPacket: MaxPayload, Charset: charset, ExtCaps: ext}
	req := hr.appendFixed(make([]byte, 0, 32))
	if err := c.WritePacket(req); err != nil {
		return err
	}
	if err := c.Flush(); err != nil {
		return err
	}
	if c.br.Buffered() > 0 {
		return fmt.Errorf("server sent data after its greeting: %w", ErrMalformed)
	}
	tc := tls.Client(c.nc, t.Config(addr))
	if err := tc.Handshake(); err != nil {
		return tlsHandshakeError(err)
	}
	c.rebind(tc)
	c.tls = true
	return nil
}

// tlsHandshakeError marks err with ErrTLS unless it is a network error
// (an alert from the server is not one: the server refused).
func tlsHandshakeError(err error) error {
	var ne net.Error
	var ae tls.AlertError
	transient := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.As(err, &ne) && !errors.As(err, &ae)
	if transient {
		return fmt.Errorf("TLS handshake: %w", err)
	}
	return tlsFailure{fmt.Errorf("TLS handshake: %w", err)}
}

// rebind makes c read and write through nc, which must carry on the same
// byte stream where the buffers stopped (both are empty between the
// greeting and the handshake response).
func (c *Conn) rebind(nc net.Conn) {
	c.nc = nc
	c.br.Reset(nc)
	c.bw.Reset(nc)
}
