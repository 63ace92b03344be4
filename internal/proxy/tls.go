package proxy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"os"
	"time"

	"vigil/internal/config"
	"vigil/internal/mysqlwire"
)

// tlsConfig builds the front end's TLS configuration: from the configured
// files, or a self-signed certificate generated now, or nil (no TLS).
func tlsConfig(p config.Proxy) (*tls.Config, error) {
	var cert tls.Certificate
	var err error
	switch {
	case p.TLSCert != "":
		cert, err = tls.LoadX509KeyPair(p.TLSCert, p.TLSKey)
	case p.TLSSelfSigned:
		cert, err = selfSigned()
	default:
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("proxy TLS certificate: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// rsaKey loads the configured RSA private key of caching_sha2_password
// full authentication without TLS, or returns nil when none is configured
// (the server then generates one).
func rsaKey(p config.Proxy) (*rsa.PrivateKey, error) {
	if p.RSAPrivateKey == "" {
		return nil, nil
	}
	data, err := os.ReadFile(p.RSAPrivateKey)
	if err != nil {
		return nil, fmt.Errorf("proxy rsa_private_key: %w", err)
	}
	k, err := mysqlwire.ParsePrivateKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("proxy rsa_private_key %s: %w", p.RSAPrivateKey, err)
	}
	return k, nil
}

// generatedRSABits is the size of the key generated when none is configured.
const generatedRSABits = 2048

// selfSigned generates an ECDSA P-256 certificate for "vigil proxy",
// valid for ten years.
func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "vigil proxy"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
