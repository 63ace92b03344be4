package proxy

import (
	"errors"
	"fmt"

	"vigil/internal/config"
	"vigil/internal/mysqlwire"
	"vigil/internal/topology"
)

// backendTLS builds the TLS settings of the connections to the servers
// from proxy.backend_tls, loading its files; nil when the mode is off.
func backendTLS(b config.BackendTLS) (*mysqlwire.ClientTLS, error) {
	t, err := mysqlwire.LoadClientTLS(b.Mode, b.CA, b.Cert, b.Key)
	if err != nil {
		return nil, fmt.Errorf("proxy backend_tls: %w", err)
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
		"vigil: TLS to server %s failed (TLS mode %s, from proxy.backend_tls or cluster.tls): %v", node.Name, s.srv.pool.TLS().Mode, err)
}
