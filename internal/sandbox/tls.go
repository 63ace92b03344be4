package sandbox

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// tlsFiles are the PEM files of a sandbox created with Options.TLS, under
// DIR/tls: the CA certificate, and the servers' certificate and key.
func tlsFiles(dir string) (ca, cert, key string) {
	d := filepath.Join(dir, "tls")
	return filepath.Join(d, "ca.pem"), filepath.Join(d, "server-cert.pem"), filepath.Join(d, "server-key.pem")
}

// CAFile returns the PEM file of the CA that signed the servers' TLS
// certificate, or "" when the sandbox was created without Options.TLS.
func (c *Cluster) CAFile() string {
	if !c.st.TLS {
		return ""
	}
	ca, _, _ := tlsFiles(c.Dir)
	return ca
}

// tlsCnf returns the my.cnf lines that turn TLS on ("" without TLS).
func (c *Cluster) tlsCnf() string {
	if !c.st.TLS {
		return ""
	}
	ca, cert, key := tlsFiles(c.Dir)
	return fmt.Sprintf("ssl-ca = %s\nssl-cert = %s\nssl-key = %s\n", ca, cert, key)
}

// writeTLSFiles generates a CA and a server certificate it signs, valid
// for 127.0.0.1 and localhost for ten years (ECDSA P-256), and writes
// them where tlsFiles says.
func writeTLSFiles(dir string) error {
	caFile, certFile, keyFile := tlsFiles(dir)
	if err := os.MkdirAll(filepath.Dir(caFile), 0o700); err != nil {
		return fmt.Errorf("create TLS dir: %w", err)
	}
	caKey, caDER, err := newCert(nil, nil, &x509.Certificate{
		Subject: pkix.Name{CommonName: "vigil sandbox CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	})
	if err != nil {
		return err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	key, der, err := newCert(ca, caKey, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "vigil sandbox server"},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	})
	if err != nil {
		return err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	for path, block := range map[string]*pem.Block{
		caFile:   {Type: "CERTIFICATE", Bytes: caDER},
		certFile: {Type: "CERTIFICATE", Bytes: der},
		keyFile:  {Type: "PRIVATE KEY", Bytes: pkcs8},
	} {
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	return nil
}

// newCert generates a key and a certificate for it from tmpl, signed by
// parent with parentKey (nil: self-signed).
func newCert(parent *x509.Certificate, parentKey *ecdsa.PrivateKey, tmpl *x509.Certificate) (*ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	if tmpl.SerialNumber, err = rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120)); err != nil {
		return nil, nil, err
	}
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().AddDate(10, 0, 0)
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, nil, fmt.Errorf("create certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	return key, der, nil
}
