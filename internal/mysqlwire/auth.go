package mysqlwire

import (
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"strings"
)

// Authentication plugin names.
const (
	NativePassword      = "mysql_native_password"
	CachingSHA2Password = "caching_sha2_password"
)

// NewSalt returns a 20-byte scramble of printable, non-NUL bytes, as the
// server sends in its greeting.
func NewSalt() ([20]byte, error) {
	var s [20]byte
	if _, err := rand.Read(s[:]); err != nil {
		return s, fmt.Errorf("salt: %w", err)
	}
	for i := range s {
		s[i] = s[i]&0x7f | 0x01
		if s[i] == '$' { // keep clear of the mysql.user hash marker
			s[i] = '%'
		}
	}
	return s, nil
}

// Stage1 returns SHA1(password), what a client proves knowledge of with
// mysql_native_password and what Vigil needs to log into a server as that
// user.
func Stage1(password string) []byte {
	h := sha1.Sum([]byte(password))
	return h[:]
}

// Stage2 returns SHA1(SHA1(password)), the value stored in mysql.user.
func Stage2(stage1 []byte) []byte {
	h := sha1.Sum(stage1)
	return h[:]
}

// ParseNativeHash decodes a "*"+40 hex digit mysql_native_password hash into
// its 20-byte stage-2 form.
func ParseNativeHash(s string) ([]byte, error) {
	if len(s) != 41 || s[0] != '*' {
		return nil, fmt.Errorf("native password hash %q: want * and 40 hex digits", s)
	}
	b, err := hex.DecodeString(s[1:])
	if err != nil {
		return nil, fmt.Errorf("native password hash: %w", err)
	}
	return b, nil
}

// FormatNativeHash encodes a stage-2 hash as mysql.user shows it.
func FormatNativeHash(stage2 []byte) string {
	return "*" + strings.ToUpper(hex.EncodeToString(stage2))
}

// NativeToken computes the client's mysql_native_password response to salt
// from stage1 = SHA1(password): stage1 XOR SHA1(salt + SHA1(stage1)).
func NativeToken(stage1, salt []byte) []byte {
	if len(stage1) == 0 {
		return nil
	}
	h := sha1.New()
	h.Write(salt)
	h.Write(Stage2(stage1))
	mix := h.Sum(nil)
	for i := range mix {
		mix[i] ^= stage1[i]
	}
	return mix
}

// VerifyNative checks a client's mysql_native_password response against the
// stored stage-2 hash (nil or empty for an empty password). On success it
// returns the recovered stage-1 hash SHA1(password), which Vigil uses to log
// into servers as the same user.
func VerifyNative(stage2, salt, token []byte) ([]byte, bool) {
	if len(stage2) == 0 {
		return nil, len(token) == 0
	}
	if len(token) != sha1.Size || len(stage2) != sha1.Size {
		return nil, false
	}
	h := sha1.New()
	h.Write(salt)
	h.Write(stage2)
	stage1 := h.Sum(nil)
	for i := range stage1 {
		stage1[i] ^= token[i]
	}
	got := sha1.Sum(stage1)
	if subtle.ConstantTimeCompare(got[:], stage2) != 1 {
		return nil, false
	}
	return stage1, true
}
