package mysqlwire

import (
	"bytes"
	"errors"
	"fmt"
)

// Credentials are what a front end knows about a user's password.
type Credentials struct {
	// Stage2 is SHA1(SHA1(password)); empty for an empty password.
	Stage2 []byte
	// Stage1 is SHA1(password) when the clear text is configured; nil when
	// only the hash is known (then it is recovered at login).
	Stage1 []byte
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
	return Credentials{Stage1: s1, Stage2: Stage2(s1)}, nil
}

// Login is the outcome of a successful front-end handshake.
type Login struct {
	// Response is the client's handshake response (user, schema, caps...).
	Response *HandshakeResponse
	// Caps are the negotiated capabilities (client's & offered).
	Caps uint32
	// Stage1 is SHA1(password), recovered from the client's proof (nil for
	// an empty password).
	Stage1 []byte
}

// ErrAuthFailed is returned (wrapped) by ServerHandshake when the password
// is wrong or the user is unknown; the caller answers with 1045.
var ErrAuthFailed = errors.New("authentication failed")

// ServerHandshake runs the server side of the handshake on a fresh client
// connection: it sends g (whose Salt must be 20 bytes and Plugin
// mysql_native_password), reads the response, switches the client to
// mysql_native_password if it started with another plugin, and verifies
// the proof with lookup. It does not send the final OK or ERR: on success
// the caller sends OK with Conn.WriteOK, on failure an ERR. On
// ErrAuthFailed the returned Login still carries the response (for the
// error message).
func (c *Conn) ServerHandshake(g *Greeting, lookup func(user string) (Credentials, bool)) (*Login, error) {
	c.ResetSeq()
	if err := c.WritePacket(g.AppendGreeting(make([]byte, 0, 128))); err != nil {
		return nil, err
	}
	if err := c.Flush(); err != nil {
		return nil, err
	}
	p, err := c.ReadPacket()
	if err != nil {
		return nil, err
	}
	resp, err := ParseHandshakeResponse(p)
	if err != nil {
		return nil, err
	}
	if resp.SSLRequest {
		return nil, fmt.Errorf("client asked for TLS, which is not offered: %w", ErrMalformed)
	}
	login := &Login{Response: resp, Caps: resp.Caps & g.Caps}
	token := resp.AuthData
	if resp.Caps&CapPluginAuth != 0 && resp.Plugin != NativePassword {
		if token, err = c.switchToNative(g.Salt); err != nil {
			return nil, err
		}
	}
	cred, found := lookup(resp.User)
	stage1, ok := VerifyNative(cred.Stage2, g.Salt, token)
	if !found || !ok {
		return login, fmt.Errorf("user %q: %w", resp.User, ErrAuthFailed)
	}
	login.Stage1 = stage1
	return login, nil
}

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
