package config

import "fmt"

// BackendTLS secures Vigil's connections to the servers (cluster.tls for
// the manager and by default the proxy, proxy.backend_tls for the proxy
// alone). Its modes are those of the MySQL client's --ssl-mode.
type BackendTLS struct {
	// Mode is off (the default: plain TCP), preferred (TLS when the server
	// offers it, certificate not checked), required (TLS, certificate not
	// checked), verify_ca (TLS, certificate signed by CA) or
	// verify_identity (verify_ca, and the certificate names the host of the
	// server's address).
	Mode string `yaml:"mode,omitempty"`
	// CA is a PEM file of the CAs that verify_ca and verify_identity trust
	// (empty: the system's).
	CA string `yaml:"ca,omitempty"`
	// Cert and Key are a PEM client certificate and key, for servers that
	// ask for one (REQUIRE X509); optional, set together.
	Cert string `yaml:"cert,omitempty"`
	Key  string `yaml:"key,omitempty"`
}

// backendTLSModes are the accepted modes ("" is off).
var backendTLSModes = map[string]bool{"": true, "off": true, "preferred": true, "required": true,
	"verify_ca": true, "verify_identity": true}

// Enabled reports whether connections ask the servers for TLS.
func (b BackendTLS) Enabled() bool { return b.Mode != "" && b.Mode != "off" }

// Validate checks the mode and that files go with a mode that uses them.
func (b BackendTLS) Validate() error {
	if !backendTLSModes[b.Mode] {
		return fmt.Errorf("mode %q: want off, preferred, required, verify_ca or verify_identity", b.Mode)
	}
	if (b.Cert == "") != (b.Key == "") {
		return fmt.Errorf("cert and key must be set together")
	}
	if !b.Enabled() && (b.CA != "" || b.Cert != "") {
		return fmt.Errorf("ca, cert or key given with mode off: set mode (preferred, required, verify_ca or verify_identity)")
	}
	if b.CA != "" && (b.Mode == "preferred" || b.Mode == "required") {
		return fmt.Errorf("ca given with mode %s, which does not check certificates: use verify_ca or verify_identity", b.Mode)
	}
	return nil
}
