package mysqlwire

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
)

// caching_sha2_password protocol bytes (after the 0x01 "more data" marker).
const (
	sha2FastOK   byte = 3
	sha2FullAuth byte = 4
)

// SHA2Token computes a client's caching_sha2_password fast-authentication
// response: SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) + salt).
func SHA2Token(password string, salt []byte) []byte {
	if password == "" {
		return nil
	}
	h1 := sha256.Sum256([]byte(password))
	h2 := sha256.Sum256(h1[:])
	h := sha256.New()
	h.Write(h2[:])
	h.Write(salt)
	out := h.Sum(nil)
	for i := range out {
		out[i] ^= h1[i]
	}
	return out
}

// cachingSHA2 authenticates a client that started with
// caching_sha2_password. Fast authentication needs the clear password in
// the configuration; otherwise full authentication (the clear password)
// runs over TLS, and without TLS the client is switched to
// mysql_native_password. It returns SHA1(password) on success.
func (c *Conn) cachingSHA2(cred Credentials, salt, token []byte) ([]byte, bool, error) {
	if len(cred.Stage2) == 0 {
		if len(token) == 0 || (len(token) == 1 && token[0] == 0) {
			return nil, true, nil
		}
		return nil, false, nil
	}
	if cred.Clear != "" && len(token) == sha256.Size {
		if subtle.ConstantTimeCompare(token, SHA2Token(cred.Clear, salt)) == 1 {
			if err := c.writeFlush([]byte{0x01, sha2FastOK}); err != nil {
				return nil, false, err
			}
			return cred.Stage1, true, nil
		}
		if !c.tls {
			return nil, false, nil
		}
	}
	if !c.tls {
		tok, err := c.switchToNative(salt)
		if err != nil {
			return nil, false, err
		}
		s1, ok := VerifyNative(cred.Stage2, salt, tok)
		return s1, ok, nil
	}
	if err := c.writeFlush([]byte{0x01, sha2FullAuth}); err != nil {
		return nil, false, err
	}
	p, err := c.ReadPacket()
	if err != nil {
		return nil, false, err
	}
	pw := bytes.TrimRight(p, "\x00")
	s1 := Stage1(string(pw))
	if subtle.ConstantTimeCompare(Stage2(s1), cred.Stage2) != 1 {
		return nil, false, nil
	}
	return s1, true, nil
}

func (c *Conn) writeFlush(payload []byte) error {
	if err := c.WritePacket(payload); err != nil {
		return err
	}
	return c.Flush()
}
