package proxy_test

import (
	"context"
	"strings"
	"testing"

	"vigil/internal/config"
	"vigil/internal/mysqlwire"
	"vigil/internal/proxy"
)

func TestImportUsers(t *testing.T) {
	h := newHarness(t, 0, nil)
	app := h.app()
	h.admin("db1",
		"CREATE USER reader@'%' IDENTIFIED BY 'r1'", "CREATE USER reader@localhost IDENTIFIED BY 'r1'",
		"CREATE USER split@'%' IDENTIFIED BY 'a'", "CREATE USER split@localhost IDENTIFIED BY 'b'",
		"CREATE USER nopw@'%'")
	got, err := proxy.ImportUsers(context.Background(), h.c.Node("db1").Addr, h.cfg)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]config.User{}
	for _, u := range got.Users {
		byName[u.Name] = u
	}
	want := map[string]string{
		app.User: mysqlwire.FormatNativeHash(mysqlwire.Stage2(mysqlwire.Stage1(app.Password))),
		"reader": mysqlwire.FormatNativeHash(mysqlwire.Stage2(mysqlwire.Stage1("r1"))),
		"nopw":   "",
	}
	for name, hash := range want {
		if u, ok := byName[name]; !ok || u.Password != hash {
			t.Errorf("imported %s = %+v, want password %q", name, u, hash)
		}
	}
	if _, ok := byName["split"]; ok || !strings.Contains(strings.Join(got.Skipped, ";"), "split") {
		t.Errorf("user with different passwords per host: imported=%v skipped=%v", ok, got.Skipped)
	}
	for _, own := range []string{h.cfg.Accounts.Admin.User, h.cfg.Accounts.Replication.User, "root"} {
		if _, ok := byName[own]; ok {
			t.Errorf("imported internal account %s", own)
		}
	}
}
