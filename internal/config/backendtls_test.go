package config

import (
	"strings"
	"testing"
)

func TestBackendTLSValidate(t *testing.T) {
	cases := []struct {
		doc     string
		wantErr string // "" for valid
	}{
		{"proxy: {}", ""},
		{"proxy: {backend_tls: {mode: \"off\"}}", ""},
		{"proxy: {backend_tls: {mode: preferred}}", ""},
		{"proxy: {backend_tls: {mode: required}}", ""},
		{"proxy: {backend_tls: {mode: verify_ca, ca: /etc/ca.pem}}", ""},
		{"proxy: {backend_tls: {mode: verify_identity}}", ""},
		{"proxy: {backend_tls: {mode: verify_ca, ca: /ca.pem, cert: /c.pem, key: /k.pem}}", ""},
		{"proxy: {backend_tls: {mode: require}}", `mode "require"`},
		{"proxy: {backend_tls: {mode: REQUIRED}}", `mode "REQUIRED"`},
		{"proxy: {backend_tls: {mode: required, cert: /c.pem}}", "cert and key must be set together"},
		{"proxy: {backend_tls: {ca: /ca.pem}}", "with mode off"},
		{"proxy: {backend_tls: {mode: required, ca: /ca.pem}}", "does not check certificates"},
		{"proxy: {backend_tls: {mode: required, capath: /x}}", "capath"},
	}
	for _, c := range cases {
		cfg, err := Parse([]byte(c.doc))
		switch {
		case c.wantErr == "" && err != nil:
			t.Errorf("%s: got error %v, want none", c.doc, err)
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("%s: got error %v, want one containing %q", c.doc, err, c.wantErr)
		case c.wantErr != "" && !strings.Contains(err.Error(), "capath") && !strings.Contains(err.Error(), "proxy: backend_tls: "):
			t.Errorf("%s: got error %q, want it to name proxy: backend_tls", c.doc, err)
		case c.wantErr == "" && cfg.Proxy.BackendTLS.Enabled() != (strings.Contains(c.doc, "mode: ") && !strings.Contains(c.doc, `"off"`)):
			t.Errorf("%s: Enabled() = %v", c.doc, cfg.Proxy.BackendTLS.Enabled())
		}
	}
}
