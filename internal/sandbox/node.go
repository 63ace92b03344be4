package sandbox

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Node is one MariaDB server of a sandbox cluster. Its fields are fixed once
// the cluster is created (ports never change between restarts).
type Node struct {
	// Name is db1, db2, ...; db1 is the first primary.
	Name string
	// ServerID is the server_id in its my.cnf (1 for db1).
	ServerID int
	// Host is always 127.0.0.1.
	Host string
	// Port is the TCP port on Host.
	Port int
	// Addr is Host:Port.
	Addr string
	// Socket is the unix socket path.
	Socket string
	// Dir is the node's directory (config, logs, pid file, datadir).
	Dir string
	// DataDir is the server's datadir.
	DataDir string
	// ConfigFile is the node's my.cnf (passed as --defaults-file).
	ConfigFile string
	// ErrorLog is the server's error log.
	ErrorLog string
	// PIDFile is the pid file mariadbd writes.
	PIDFile string
}

func newNode(dir string, index, port int) *Node {
	name := fmt.Sprintf("db%d", index)
	nd := filepath.Join(dir, name)
	return &Node{
		Name:       name,
		ServerID:   index,
		Host:       "127.0.0.1",
		Port:       port,
		Addr:       net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Socket:     socketPath(dir, name),
		Dir:        nd,
		DataDir:    filepath.Join(nd, "data"),
		ConfigFile: filepath.Join(nd, "my.cnf"),
		ErrorLog:   filepath.Join(nd, "error.log"),
		PIDFile:    filepath.Join(nd, "mariadbd.pid"),
	}
}

// socketPath keeps unix socket paths under the 107-byte limit: inside the
// node directory when short enough, else in a /tmp directory named after a
// hash of the cluster directory (deterministic, so a reopened cluster finds it).
func socketPath(dir, name string) string {
	p := filepath.Join(dir, name, "mariadbd.sock")
	if len(p) <= 100 {
		return p
	}
	return filepath.Join(shortSocketDir(dir), name+".sock")
}

func shortSocketDir(dir string) string {
	sum := sha256.Sum256([]byte(dir))
	return filepath.Join(os.TempDir(), "vigil-"+hex.EncodeToString(sum[:6]))
}

// myCnf renders the node's server configuration. Every server starts with
// read_only=ON: only the manager (or the test helper's PrimaryWritable)
// turns it off, on the one primary.
func (n *Node) myCnf(semiSync bool) string {
	var b strings.Builder
	w := func(k, v string) { fmt.Fprintf(&b, "%s = %s\n", k, v) }
	b.WriteString("# Written by vigil sandbox. Read by mariadbd as --defaults-file.\n[mariadbd]\n")
	// log-basename first: it resets the other log paths given before it.
	w("log-basename", n.Name)
	w("datadir", n.DataDir)
	w("socket", n.Socket)
	w("pid-file", n.PIDFile)
	w("log-error", n.ErrorLog)
	w("bind-address", n.Host)
	w("port", strconv.Itoa(n.Port))
	w("server-id", strconv.Itoa(n.ServerID))
	w("log-bin", n.Name+"-bin")
	w("log-slave-updates", "ON")
	w("binlog-format", "ROW")
	w("gtid-strict-mode", "ON")
	w("read-only", "ON")
	w("skip-name-resolve", "ON")
	w("slave-net-timeout", "4")
	w("max-allowed-packet", "256M")
	w("character-set-server", "utf8mb4")
	w("collation-server", "utf8mb4_unicode_ci")
	w("session-track-system-variables", "autocommit,character_set_client,character_set_connection,character_set_results,time_zone,last_gtid")
	w("max-connections", "500")
	w("max-connect-errors", "1000000")
	w("innodb-buffer-pool-size", "32M")
	w("innodb-log-file-size", "16M")
	// A killed mariadbd loses nothing with these (the OS still holds the
	// writes); only an OS crash could. The sandbox is about process failures.
	w("innodb-flush-log-at-trx-commit", "2")
	w("sync-binlog", "0")
	w("performance-schema", "OFF")
	if semiSync {
		// The master side is OFF in every config, like read_only=ON: it is
		// switched on at runtime on the one primary (by the sandbox at
		// bootstrap and on up, later by the manager when it promotes). A
		// replica with it ON would block its own applier waiting for acks.
		w("rpl-semi-sync-master-enabled", "OFF")
		w("rpl-semi-sync-slave-enabled", "ON")
		w("rpl-semi-sync-master-wait-point", "AFTER_SYNC")
		w("rpl-semi-sync-master-timeout", "3600000")
		// After a crash, recover as a replica: binlog transactions that no
		// replica acknowledged (never confirmed to a client under
		// AFTER_SYNC) are truncated, so the old primary can rejoin.
		w("init-rpl-role", "SLAVE")
	}
	return b.String()
}

// marker is the exact argument (NUL-delimited in /proc/PID/cmdline) that
// identifies this node's mariadbd process.
func (n *Node) marker() string { return "\x00--defaults-file=" + n.ConfigFile + "\x00" }
