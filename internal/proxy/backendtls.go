package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"vigil/internal/config"
	"vigil/internal/mysqlwire"
	"vigil/internal/topology"
)

// backendTLS builds the TLS settings of the connections to the servers
// from proxy.backend_tls, loading its files; nil when the mode is off.
func backendTLS(b config.BackendTLS) (*mysqlwire.ClientTLS, error) {
	mode, err := mysqlwire.ParseTLSMode(b.Mode)
	if err != nil || mode == mysqlwire.TLSOff {
		return nil, err
	}
	t := &mysqlwire.ClientTLS{Mode: mode}
	if b.CA != "" {
		pem, err := os.ReadFile(b.CA)
		if err != nil {
			return nil, fmt.Errorf("proxy backend_tls ca: %w", err)
		}
		t.Roots = x509.NewCertPool()
		if !t.Roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("proxy backend_tls ca %s: no PEM certificate found", b.CA)
		}
	}
	if b.Cert != "" {
		cert, err := tls.LoadX509KeyPair(b.Cert, b.Key)
		if err != nil {
			return nil, fmt.Errorf("proxy backend_tls cert: %w", err)
		}
		t.Certificates = []tls.Certificate{cert}
	}
	return t, nil
}

// tlsError turns a TLS failure of a connection to node (mysqlwire.ErrTLS:
// no TLS offered, untrusted certificate) into the error the client gets,
// error 2026 as the MySQL client reports its own TLS failures; other
// errors are returned unchanged. Retrying would not help, so the session
// does not hold for it.
func (s *session) tlsError(node topology.Node, err error) error {
	if !errors.Is(err, mysqlwire.ErrTLS) {
		return err
	}
	return mysqlwire.Errorf(mysqlwire.CrSSLConnectionError, "HY000",
		"vigil: TLS to server %s failed (proxy.backend_tls mode %s): %v", node.Name, s.srv.pool.TLS().Mode, err)
}
