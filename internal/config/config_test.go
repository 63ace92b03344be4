package config

import (
	"os"
	"strings"
	"testing"
)

func TestParseRejectsUnknownKeyWithLine(t *testing.T) {
	_, err := Parse([]byte("cluster:\n  name: x\n  servrs: []\n"))
	if err == nil {
		t.Fatal("got nil error for unknown key, want one")
	}
	if !strings.Contains(err.Error(), "line 3") || !strings.Contains(err.Error(), "servrs") {
		t.Fatalf("got %q, want it to name line 3 and the key", err)
	}
}

func TestParseValidates(t *testing.T) {
	cases := map[string]string{
		"bad address":    "cluster:\n  servers:\n    - name: db1\n      address: nope\n",
		"duplicate name": "cluster:\n  servers:\n    - {name: a, address: '127.0.0.1:1'}\n    - {name: a, address: '127.0.0.1:2'}\n",
		"bad route":      "users:\n  - {name: u, default_route: sideways}\n",
		"bad hash":       "users:\n  - {name: u, password: '*abc'}\n",
		"bad flavor":     "cluster:\n  flavor: postgres\n",
		"bad plugin":     "proxy:\n  default_auth_plugin: sha256_password\n",
	}
	for name, doc := range cases {
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("%s: got nil error, want one", name)
		}
	}
}

func TestProxyAuthPlugin(t *testing.T) {
	base := "cluster:\n  servers:\n    - {name: db1, address: '127.0.0.1:3306'}\n"
	cfg, err := Parse([]byte(base))
	if err != nil || cfg.Proxy.DefaultAuthPlugin != "mysql_native_password" || cfg.Proxy.RSAPrivateKey != "" {
		t.Fatalf("defaults: %+v, %v; want mysql_native_password and no RSA key file", cfg.Proxy, err)
	}
	cfg, err = Parse([]byte(base + "proxy:\n  default_auth_plugin: caching_sha2_password\n  rsa_private_key: /etc/vigil/key.pem\n"))
	if err != nil || cfg.Proxy.DefaultAuthPlugin != "caching_sha2_password" || cfg.Proxy.RSAPrivateKey != "/etc/vigil/key.pem" {
		t.Fatalf("got %+v, %v", cfg.Proxy, err)
	}
}

func TestExampleFileLoads(t *testing.T) {
	cfg, err := Load("../../examples/vigil.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Cluster.Servers) != 3 || cfg.Users[0].Name != "moodle" {
		t.Fatalf("got %d servers and first user %q, want 3 and moodle", len(cfg.Cluster.Servers), cfg.Users[0].Name)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	data, err := os.ReadFile("../../examples/vigil.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Parse(out)
	if err != nil {
		t.Fatalf("re-parse of marshalled config: %v\n%s", err, out)
	}
	if again.Proxy.HoldTimeout != cfg.Proxy.HoldTimeout || again.Cluster.Servers[2].Address != cfg.Cluster.Servers[2].Address {
		t.Fatalf("round trip changed the config:\n%s", out)
	}
}
