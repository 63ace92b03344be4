package proxy

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"vigil/internal/config"
	"vigil/internal/mysqlwire"
)

// ImportedUsers is what ImportUsers found.
type ImportedUsers struct {
	// Users are application accounts with a mysql_native_password hash,
	// ready for the configuration's users list.
	Users []config.User
	// Skipped explains accounts that were left out (other plugins,
	// different passwords on different hosts).
	Skipped []string
}

// systemUsers are never imported.
var systemUsers = map[string]bool{"root": true, "mariadb.sys": true, "mysql.sys": true,
	"mysql.session": true, "mysql.infoschema": true, "PUBLIC": true, "": true}

// ImportUsers reads the accounts of the server at addr (as cfg's admin
// account, over TLS as proxy.backend_tls says) and returns those the proxy
// can serve: every user whose password is a mysql_native_password hash,
// with that hash, so that no clear-text password is needed in the
// configuration. Vigil's own accounts (admin, replication) are left out.
func ImportUsers(ctx context.Context, addr string, cfg *config.Config) (ImportedUsers, error) {
	acc := cfg.Accounts
	t, err := backendTLS(cfg.Proxy.BackendTLS)
	if err != nil {
		return ImportedUsers{}, err
	}
	c, err := mysqlwire.Dial(ctx, mysqlwire.DialConfig{Addr: addr, User: acc.Admin.User, Password: acc.Admin.Password, TLS: t})
	if err != nil {
		return ImportedUsers{}, err
	}
	defer c.Close()
	rows, err := c.Query("SELECT User, Host, plugin, authentication_string FROM mysql.user ORDER BY User, Host")
	if err != nil {
		return ImportedUsers{}, fmt.Errorf("read mysql.user on %s: %w", addr, err)
	}
	var out ImportedUsers
	hashes := map[string]map[string]bool{}
	for _, r := range rows {
		user, host, plugin, hash := r[0].String, r[1].String, r[2].String, r[3].String
		if systemUsers[user] || user == acc.Admin.User || user == acc.Replication.User {
			continue
		}
		if (plugin != "" && plugin != mysqlwire.NativePassword) || (hash != "" && !config.IsNativeHash(hash)) {
			out.Skipped = append(out.Skipped, fmt.Sprintf("%s@%s: plugin %s is not mysql_native_password", user, host, plugin))
			continue
		}
		if hashes[user] == nil {
			hashes[user] = map[string]bool{}
		}
		hashes[user][strings.ToUpper(hash)] = true
	}
	names := make([]string, 0, len(hashes))
	for n := range hashes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if len(hashes[n]) != 1 {
			out.Skipped = append(out.Skipped, fmt.Sprintf("%s: different passwords on different hosts", n))
			continue
		}
		for h := range hashes[n] {
			out.Users = append(out.Users, config.User{Name: n, Password: h, DefaultRoute: "auto"})
		}
	}
	return out, nil
}
