package mysqlwire

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"testing"
)

func TestDecryptPassword(t *testing.T) {
	key := testRSA()
	salt, _ := NewSalt()
	for _, pw := range []string{"", "s3cret", "a password longer than the twenty-byte scramble, twice over"} {
		enc, err := EncryptPassword(&key.PublicKey, salt[:], pw)
		if err != nil {
			t.Fatal(err)
		}
		if got := DecryptPassword(key, salt[:], enc); got == nil || string(got) != pw {
			t.Errorf("DecryptPassword = %q, want %q", got, pw)
		}
		other, _ := NewSalt()
		if got := DecryptPassword(key, other[:], enc); got != nil && string(got) == pw {
			t.Errorf("decrypted %q with the wrong scramble", got)
		}
	}
	for _, bad := range [][]byte{nil, []byte("s3cret\x00"), make([]byte, key.Size()), bytes.Repeat([]byte{0xff}, key.Size())} {
		if got := DecryptPassword(key, salt[:], bad); got != nil {
			t.Errorf("DecryptPassword(%x...) = %q, want nil", bad[:min(len(bad), 8)], got)
		}
	}
}

func TestParsePrivateKeyPEM(t *testing.T) {
	key := testRSA()
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for name, block := range map[string]*pem.Block{
		"PKCS #1": {Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)},
		"PKCS #8": {Type: "PRIVATE KEY", Bytes: pkcs8},
	} {
		got, err := ParsePrivateKeyPEM(pem.EncodeToMemory(block))
		if err != nil || !got.Equal(key) {
			t.Errorf("%s: got %v, want the key back", name, err)
		}
	}
	if _, err := ParsePrivateKeyPEM([]byte(testKey)); err == nil {
		t.Error("an ECDSA key was accepted as RSA")
	}
	if _, err := ParsePrivateKeyPEM([]byte("not PEM")); err == nil {
		t.Error("garbage was accepted as a key")
	}
	pub, err := PublicKeyPEM(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(pub)
	if block == nil || block.Type != "PUBLIC KEY" {
		t.Fatalf("PublicKeyPEM = %q, want a PUBLIC KEY block", pub)
	}
	if k, err := x509.ParsePKIXPublicKey(block.Bytes); err != nil || !key.PublicKey.Equal(k) {
		t.Errorf("public key does not parse back: %v", err)
	}
}

// FuzzDecryptPassword: whatever a client sends instead of the encrypted
// password gives nil or a password, never a panic.
func FuzzDecryptPassword(f *testing.F) {
	key := testRSA()
	salt, _ := NewSalt()
	enc, _ := EncryptPassword(&key.PublicKey, salt[:], "s3cret")
	f.Add(enc, salt[:])
	f.Add([]byte{2}, salt[:])
	f.Add([]byte("s3cret\x00"), []byte{})
	junk := make([]byte, key.Size())
	_, _ = rand.Read(junk)
	f.Add(junk, salt[:])
	f.Fuzz(func(t *testing.T, cipher, salt []byte) {
		_ = DecryptPassword(key, salt, cipher)
	})
}
