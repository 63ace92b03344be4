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

// TestClusterTLS checks that cluster.tls is validated as
// proxy.backend_tls is, and that proxy.backend_tls, when entirely unset,
// takes it while an explicit proxy.backend_tls (even mode off) wins.
func TestClusterTLS(t *testing.T) {
	const ca = "cluster: {tls: {mode: verify_ca, ca: /ca.pem}}\n"
	cases := []struct {
		doc           string
		cluster, prox BackendTLS
	}{
		{"proxy: {}", BackendTLS{}, BackendTLS{}},
		{ca, BackendTLS{Mode: "verify_ca", CA: "/ca.pem"}, BackendTLS{Mode: "verify_ca", CA: "/ca.pem"}},
		{ca + "proxy: {backend_tls: {}}", BackendTLS{Mode: "verify_ca", CA: "/ca.pem"}, BackendTLS{Mode: "verify_ca", CA: "/ca.pem"}},
		{ca + "proxy: {backend_tls: {mode: required}}", BackendTLS{Mode: "verify_ca", CA: "/ca.pem"}, BackendTLS{Mode: "required"}},
		{ca + "proxy: {backend_tls: {mode: \"off\"}}", BackendTLS{Mode: "verify_ca", CA: "/ca.pem"}, BackendTLS{Mode: "off"}},
		{"proxy: {backend_tls: {mode: preferred}}", BackendTLS{}, BackendTLS{Mode: "preferred"}},
	}
	for _, c := range cases {
		cfg, err := Parse([]byte(c.doc))
		if err != nil {
			t.Errorf("%q: %v", c.doc, err)
			continue
		}
		if cfg.Cluster.TLS != c.cluster || cfg.Proxy.BackendTLS != c.prox {
			t.Errorf("%q: cluster.tls %+v, proxy.backend_tls %+v; want %+v, %+v", c.doc, cfg.Cluster.TLS, cfg.Proxy.BackendTLS, c.cluster, c.prox)
		}
	}
	for doc, want := range map[string]string{
		"cluster: {tls: {mode: require}}":                `cluster: tls: mode "require"`,
		"cluster: {tls: {ca: /ca.pem}}":                  "cluster: tls: ca, cert or key given with mode off",
		"cluster: {tls: {mode: required, ca: /ca.pem}}":  "cluster: tls: ca given with mode required",
		"cluster: {tls: {mode: verify_ca, key: /k.pem}}": "cluster: tls: cert and key must be set together",
		"cluster: {tls: {mode: verify_ca, capath: /x}}":  "capath",
	} {
		if _, err := Parse([]byte(doc)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got error %v, want one containing %q", doc, err, want)
		}
	}
}
