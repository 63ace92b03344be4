package mysqlwire

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/pem"
	"fmt"
)

// caching_sha2_password protocol bytes: the client's public key request,
// and the server's answers after the 0x01 "more data" marker.
const (
	sha2RequestPublicKey byte = 2
	sha2FastOK           byte = 3
	sha2FullAuth         byte = 4
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
// the configuration; otherwise, or when the fast token is wrong, full
// authentication runs (as MySQL 8 does): the clear password over TLS, or
// RSA-encrypted with rsaKey's key on a plain connection. Without TLS and
// without a key the client is switched to mysql_native_password instead. It returns
// SHA1(password) on success.
func (c *Conn) cachingSHA2(cred Credentials, salt, token []byte, rsaKey func() *rsa.PrivateKey) ([]byte, bool, error) {
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
	}
	var key *rsa.PrivateKey
	if !c.tls && rsaKey != nil {
		key = rsaKey()
	}
	if !c.tls && key == nil && cred.Clear != "" && len(token) == sha256.Size {
		return nil, false, nil // wrong fast token, and no way to full authentication
	}
	if !c.tls && key == nil {
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
	pw, err := c.fullAuthPassword(salt, key)
	if err != nil || pw == nil {
		return nil, false, err
	}
	s1 := Stage1(string(pw))
	if subtle.ConstantTimeCompare(Stage2(s1), cred.Stage2) != 1 {
		return nil, false, nil
	}
	return s1, true, nil
}

// fullAuthPassword reads the clear password of caching_sha2_password full
// authentication: as sent over TLS; on a plain connection the client may
// first ask for the public key of key (answered in PEM), then must send
// the NUL-terminated password XOR the salt, encrypted with RSA-OAEP
// (SHA-1). Anything else there (a clear-text password, garbage) gives a
// nil password, which fails authentication, as with MySQL.
func (c *Conn) fullAuthPassword(salt []byte, key *rsa.PrivateKey) ([]byte, error) {
	p, err := c.ReadPacket()
	if err != nil {
		return nil, err
	}
	if c.tls {
		return bytes.TrimRight(p, "\x00"), nil
	}
	if len(p) == 1 && p[0] == sha2RequestPublicKey {
		pub, err := PublicKeyPEM(&key.PublicKey)
		if err != nil {
			return nil, err
		}
		if err := c.writeFlush(append([]byte{0x01}, pub...)); err != nil {
			return nil, err
		}
		if p, err = c.ReadPacket(); err != nil {
			return nil, err
		}
	}
	return DecryptPassword(key, salt, p), nil
}

// DecryptPassword recovers the password a caching_sha2_password client
// sent RSA-encrypted on a plain connection: RSA-OAEP (SHA-1) over the
// NUL-terminated password XOR salt (repeated). It returns nil when cipher
// is not such a message (wrong length, bad padding, no NUL).
func DecryptPassword(key *rsa.PrivateKey, salt, cipher []byte) []byte {
	if len(cipher) != key.Size() || len(salt) == 0 {
		return nil
	}
	plain, err := rsa.DecryptOAEP(sha1.New(), nil, key, cipher, nil)
	if err != nil || len(plain) == 0 {
		return nil
	}
	for i := range plain {
		plain[i] ^= salt[i%len(salt)]
	}
	if plain[len(plain)-1] != 0 {
		return nil
	}
	return plain[:len(plain)-1]
}

// EncryptPassword is the client's side of DecryptPassword.
func EncryptPassword(pub *rsa.PublicKey, salt []byte, password string) ([]byte, error) {
	plain := append([]byte(password), 0)
	for i := range plain {
		plain[i] ^= salt[i%len(salt)]
	}
	return rsa.EncryptOAEP(sha1.New(), rand.Reader, pub, plain, nil)
}

// PublicKeyPEM encodes pub as a PEM "PUBLIC KEY" block (PKIX), the form
// MySQL sends to clients that ask for its key.
func PublicKeyPEM(pub *rsa.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ParsePrivateKeyPEM decodes an RSA private key in PEM, PKCS #1 ("RSA
// PRIVATE KEY", as MySQL's private_key.pem) or PKCS #8 ("PRIVATE KEY").
func ParsePrivateKeyPEM(data []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("RSA private key: no PEM block")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("RSA private key: %w", err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("RSA private key: the PEM holds a %T, not an RSA key", k)
	}
	return rk, nil
}

func (c *Conn) writeFlush(payload []byte) error {
	if err := c.WritePacket(payload); err != nil {
		return err
	}
	return c.Flush()
}
