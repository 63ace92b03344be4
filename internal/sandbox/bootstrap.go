package sandbox

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// bootstrap runs once on a freshly created cluster: the accounts are
// created on db1 with the binlog on, so they replicate and every server has
// the same history, then the replicas are pointed at db1 (GTID, heartbeat).
// The root sessions to the replicas are opened first: the replicated
// accounts change root's authentication. It returns when every replica has
// applied db1's binlog.
func (c *Cluster) bootstrap(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	primary := c.nodes[0]
	var replicas []*sql.DB
	defer func() {
		for _, db := range replicas {
			db.Close()
		}
	}()
	for _, n := range c.nodes[1:] {
		db := rootDB(n)
		replicas = append(replicas, db)
		if err := db.PingContext(ctx); err != nil {
			return fmt.Errorf("connect to %s as root: %w", n.Name, err)
		}
	}
	pdb := rootDB(primary)
	defer pdb.Close()
	if err := execAll(ctx, pdb, c.accountsSQL()...); err != nil {
		return fmt.Errorf("create accounts on %s: %w", primary.Name, err)
	}
	var pos string
	if err := pdb.QueryRowContext(ctx, "SELECT @@global.gtid_binlog_pos").Scan(&pos); err != nil {
		return fmt.Errorf("read gtid_binlog_pos on %s: %w", primary.Name, err)
	}
	for i, db := range replicas {
		n := c.nodes[i+1]
		if err := execAll(ctx, db, c.changeMasterSQL(primary)...); err != nil {
			return fmt.Errorf("set up replication on %s: %w", n.Name, err)
		}
	}
	for i, db := range replicas {
		if err := waitGTID(ctx, db, pos); err != nil {
			n := c.nodes[i+1]
			return fmt.Errorf("%s did not replicate from %s: %w (error log: %s)", n.Name, primary.Name, err, tailFile(n.ErrorLog, 3))
		}
	}
	return nil
}

// changeMasterSQL points a replica at primary with GTID auto-positioning.
func (c *Cluster) changeMasterSQL(primary *Node) []string {
	return []string{
		fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='%s', MASTER_PORT=%d, MASTER_USER='%s', MASTER_PASSWORD='%s', "+
			"MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1, MASTER_HEARTBEAT_PERIOD=1",
			primary.Host, primary.Port, c.st.Replication.User, c.st.Replication.Password),
		"START SLAVE",
	}
}

// accountsSQL creates the app, admin and replication accounts. The app user
// gets every privilege except SUPER and READ_ONLY ADMIN, so read_only=ON
// really stops its writes. root then only logs in over the unix socket as
// the OS root user.
func (c *Cluster) accountsSQL() []string {
	app, adm, repl := c.st.App, c.st.Admin, c.st.Replication
	var q []string
	for _, host := range []string{"127.0.0.1", "localhost"} {
		q = append(q,
			fmt.Sprintf("CREATE USER '%s'@'%s' IDENTIFIED BY '%s'", adm.User, host, adm.Password),
			fmt.Sprintf("GRANT ALL PRIVILEGES ON *.* TO '%s'@'%s' WITH GRANT OPTION", adm.User, host))
	}
	for _, host := range []string{"%", "localhost"} {
		q = append(q,
			fmt.Sprintf("CREATE USER '%s'@'%s' IDENTIFIED BY '%s'", app.User, host, app.Password),
			fmt.Sprintf("GRANT ALL PRIVILEGES ON *.* TO '%s'@'%s'", app.User, host),
			fmt.Sprintf("REVOKE SUPER, READ_ONLY ADMIN ON *.* FROM '%s'@'%s'", app.User, host))
	}
	q = append(q,
		fmt.Sprintf("CREATE USER '%s'@'127.0.0.1' IDENTIFIED BY '%s'", repl.User, repl.Password),
		fmt.Sprintf("GRANT REPLICATION SLAVE ON *.* TO '%s'@'127.0.0.1'", repl.User),
		"ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket",
		fmt.Sprintf("CREATE DATABASE IF NOT EXISTS `%s` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci", c.st.Database),
	)
	return q
}

func waitGTID(ctx context.Context, db *sql.DB, pos string) error {
	var res sql.NullInt64
	err := db.QueryRowContext(ctx, "SELECT MASTER_GTID_WAIT(?, 30)", pos).Scan(&res)
	if err != nil {
		return err
	}
	if !res.Valid || res.Int64 != 0 {
		return fmt.Errorf("timed out waiting for GTID %s", pos)
	}
	return nil
}

// rootDB connects as root without a password over the node's unix socket;
// only valid before bootstrap changes root's authentication. One connection,
// so session state carries between statements.
func rootDB(n *Node) *sql.DB {
	mc := mysql.NewConfig()
	mc.User, mc.Net, mc.Addr = "root", "unix", n.Socket
	mc.Timeout = 5 * time.Second
	connector, _ := mysql.NewConnector(mc)
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(1)
	return db
}

func execAll(ctx context.Context, db *sql.DB, stmts ...string) error {
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", redact(s), err)
		}
	}
	return nil
}

// redact cuts a statement before any password so errors never print one.
func redact(s string) string {
	for _, kw := range []string{"IDENTIFIED", "MASTER_PASSWORD"} {
		if i := strings.Index(s, kw); i >= 0 {
			return s[:i] + kw + " ..."
		}
	}
	return s
}

// exec runs statements as admin on the named server.
func (c *Cluster) exec(ctx context.Context, name string, stmts ...string) error {
	db, err := sql.Open("mysql", c.AdminDSN(name))
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if err := execAll(ctx, db, stmts...); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}
