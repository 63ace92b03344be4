package cli

import (
	"os"
	"path/filepath"
	"testing"
)

func TestProxyHTTPURL(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "vigil.yaml")
	body := "cluster: {name: c, servers: [{name: db1, address: '127.0.0.1:3306'}]}\nproxy: {http_listen: '0.0.0.0:6034'}\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	noHTTP := filepath.Join(dir, "nohttp.yaml")
	if err := os.WriteFile(noHTTP, []byte("cluster: {name: c, servers: [{name: db1, address: '127.0.0.1:3306'}]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		addr, cfg, want string
		wantErr         bool
	}{
		{addr: "127.0.0.1:7000", want: "http://127.0.0.1:7000"},
		{addr: "https://proxy.example:7000", want: "https://proxy.example:7000"},
		{cfg: cfg, want: "http://127.0.0.1:6034"},
		{cfg: noHTTP, wantErr: true},
		{cfg: filepath.Join(dir, "missing.yaml"), wantErr: true},
	}
	for _, tt := range tests {
		got, err := proxyHTTPURL(tt.addr, tt.cfg)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("proxyHTTPURL(%q, %q) = %q, %v; want %q (error %v)", tt.addr, tt.cfg, got, err, tt.want, tt.wantErr)
		}
	}
}
