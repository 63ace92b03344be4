package mysqlwire

import (
	"bufio"
	"bytes"
	"crypto/rsa"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
)

// Credentials are what a front end knows about a user's password.
type Credentials struct {
	// Stage2 is SHA1(SHA1(password)); empty for an empty password.
	Stage2 []byte
	// Stage1 is SHA1(password) when the clear text is configured; nil when
	// only the hash is known (then it is recovered at login).
	Stage1 []byte
	// Clear is the clear-text password when configured (needed to verify
	// caching_sha2_password fast authentication).
	Clear string
}

// CredentialsFor turns a configured password (clear text, or a "*HASH"
// copied from mysql.user) into Credentials.
func CredentialsFor(password string) (Credentials, error) {
	if password == "" {
		return Credentials{}, nil
	}
	if password[0] == '*' && len(password) == 41 {
		s2, err := ParseNativeHash(password)
		if err == nil {
			return Credentials{Stage2: s2}, nil
		}
	}
	s1 := Stage1(password)
	return Credentials{Stage1: s1, Stage2: Stage2(s1), Clear: password}, nil
}

// Login is the outcome of a successful front-end handshake.
type Login struct {
	// Response is the client's handshake response (user, schema, caps...).
	Response *HandshakeResponse
	// Caps are the negotiated capabilities (client's & offered).
	Caps uint32
	// ExtCaps are the negotiated MariaDB extended capabilities.
	ExtCaps uint32
	// Stage1 is SHA1(password), recovered from the client's proof (nil for
	// an empty password).
	Stage1 []byte
}

// ErrAuthFailed is returned (wrapped) by ServerHandshake when the password
// is wrong or the user is unknown; the caller answers with 1045.
var ErrAuthFailed = errors.New("authentication failed")

// ServerAuth is what ServerHandshake needs to authenticate a client.
type ServerAuth struct {
	// TLS, when set, is offered to the client.
	TLS *tls.Config
	// RSA, when set, returns the key of caching_sha2_password full
	// authentication on a plain connection; it is called only when such an
	// authentication starts (so a generated key can be made on first use).
	// Without it, or when it returns nil, such a client is switched to
	// mysql_native_password instead.
	RSA func() *rsa.PrivateKey
	// Lookup returns a user's credentials, and false for an unknown user.
	Lookup func(user string) (Credentials, bool)
}

// ServerHandshake runs the server side of the handshake on a fresh client
// connection: it sends g (whose Salt must be 20 bytes and Plugin
// mysql_native_password or caching_sha2_password), reads the response,
// upgrades to TLS when the client asks for it and auth.TLS is set, and
// authenticates: with mysql_native_password, or with
// caching_sha2_password (fast authentication when the clear password is
// configured, else full authentication over TLS or with auth.RSA, as
// MySQL 8 does); a client that starts with any other plugin, or needs full
// caching_sha2 authentication without TLS nor RSA key, is switched to
// mysql_native_password. It does not send the final OK or ERR: on success
// the caller sends OK with Conn.WriteOK, on failure an ERR. On
// ErrAuthFailed the returned Login still carries the response (for the
// error message).
func (c *Conn) ServerHandshake(g *Greeting, auth ServerAuth) (*Login, error) {
	c.ResetSeq()
	if auth.TLS != nil {
		g.Caps |= CapSSL
	}
	if err := c.WritePacket(g.AppendGreeting(make([]byte, 0, 128))); err != nil {
		return nil, err
	}
	if err := c.Flush(); err != nil {
		return nil, err
	}
	resp, err := c.readHandshakeResponse(auth.TLS)
	if err != nil {
		return nil, err
	}
	login := &Login{Response: resp, Caps: resp.Caps & g.Caps &^ CapSSL, ExtCaps: resp.ExtCaps & extCaps(g.Caps, g.ExtCaps)}
	cred, found := auth.Lookup(resp.User)
	var stage1 []byte
	var ok bool
	if resp.Caps&CapPluginAuth != 0 && resp.Plugin == CachingSHA2Password {
		stage1, ok, err = c.cachingSHA2(cred, g.Salt, resp.AuthData, auth.RSA)
	} else {
		token := resp.AuthData
		if resp.Caps&CapPluginAuth != 0 && resp.Plugin != NativePassword {
			token, err = c.switchToNative(g.Salt)
		}
		if err == nil {
			stage1, ok = VerifyNative(cred.Stage2, g.Salt, token)
		}
	}
	if err != nil {
		return nil, err
	}
	if !found || !ok {
		return login, fmt.Errorf("user %q: %w", resp.User, ErrAuthFailed)
	}
	login.Stage1 = stage1
	return login, nil
}

// readHandshakeResponse reads the client's answer to the greeting,
// upgrading the connection to TLS first if the client sends an SSL request.
func (c *Conn) readHandshakeResponse(tlsConfig *tls.Config) (*HandshakeResponse, error) {
	p, err := c.ReadPacket()
	if err != nil {
		return nil, err
	}
	resp, err := ParseHandshakeResponse(p)
	if err != nil {
		return nil, err
	}
	if !resp.SSLRequest {
		return resp, nil
	}
	if tlsConfig == nil {
		return nil, fmt.Errorf("client asked for TLS, which is not offered: %w", ErrMalformed)
	}
	// The client may send its TLS hello right behind the SSL request: TLS
	// reads through the old buffer first.
	tc := tls.Server(bufferedConn{c.nc, c.br}, tlsConfig)
	if err := tc.Handshake(); err != nil {
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	c.nc, c.tls = tc, true
	c.br = bufio.NewReaderSize(tc, serverReadBuffer)
	if p, err = c.ReadPacket(); err != nil {
		return nil, err
	}
	if resp, err = ParseHandshakeResponse(p); err != nil {
		return nil, err
	}
	if resp.SSLRequest {
		return nil, fmt.Errorf("second SSL request: %w", ErrMalformed)
	}
	return resp, nil
}

// bufferedConn is a connection whose reads go through a buffer that may
// already hold data.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (b bufferedConn) Read(p []byte) (int, error) { return b.r.Read(p) }

// TLS reports whether the connection was upgraded to TLS.
func (c *Conn) TLS() bool { return c.tls }

// switchToNative asks the client to answer with mysql_native_password over
// salt and returns its answer.
func (c *Conn) switchToNative(salt []byte) ([]byte, error) {
	if err := c.WritePacket(AppendAuthSwitch(nil, NativePassword, salt)); err != nil {
		return nil, err
	}
	if err := c.Flush(); err != nil {
		return nil, err
	}
	p, err := c.ReadPacket()
	if err != nil {
		return nil, err
	}
	return bytes.Clone(p), nil
}

// ReauthNative re-authenticates a client for COM_CHANGE_USER: it sends an
// auth switch with a fresh salt and verifies the answer against cred. The
// sequence number must be the one after the COM_CHANGE_USER packet.
func (c *Conn) ReauthNative(cred Credentials) (stage1 []byte, err error) {
	salt, err := NewSalt()
	if err != nil {
		return nil, err
	}
	token, err := c.switchToNative(salt[:])
	if err != nil {
		return nil, err
	}
	s1, ok := VerifyNative(cred.Stage2, salt[:], token)
	if !ok {
		return nil, ErrAuthFailed
	}
	return s1, nil
}
