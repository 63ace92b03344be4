package sandbox

import (
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"strings"
)

// Options describe a sandbox cluster to create (or reopen).
type Options struct {
	// Dir holds everything: datadirs, configs, sockets, logs, state.
	Dir string
	// Replicas is the number of replicas (servers are db1..dbReplicas+1).
	Replicas int
	// BasePort is db1's port; dbN listens on BasePort+N-1. 0 picks free ports.
	BasePort int
	// SemiSync enables semi-synchronous replication (AFTER_SYNC, large timeout).
	SemiSync bool
	// AppUser and AppPassword are the application account (default moodle/moodle).
	AppUser, AppPassword string
	// Database is created at bootstrap (utf8mb4_unicode_ci; default moodle).
	Database string
	// PrimaryWritable sets read_only=OFF at runtime on the primary (the one
	// running server that replicates from no one: db1 unless the roles were
	// changed) once it is up; for tests that run without a manager. Every
	// server's my.cnf keeps read_only=ON.
	PrimaryWritable bool
	// TLS generates a CA and a server certificate (DIR/tls, see
	// Cluster.CAFile) and starts every server with ssl_ca, ssl_cert and
	// ssl_key, so that clients may use TLS (replication stays plain).
	// Off by default: MariaDB 10.11 then offers no TLS.
	TLS bool

	// KillWithParent makes servers die with the process that started them
	// (Linux parent-death signal). The test helper sets it; the CLI does not.
	KillWithParent bool
	// LookPath finds executables (default exec.LookPath plus /usr/sbin and
	// /usr/libexec); tests override it to simulate a missing MariaDB.
	LookPath func(file string) (string, error)
	// CacheDir holds the template datadir (default: the user cache dir,
	// e.g. ~/.cache/vigil).
	CacheDir string
	// Logger receives progress logs (default: discard).
	Logger *slog.Logger
}

// ErrMariaDBMissing is returned when mariadbd or mariadb-install-db cannot be found.
var ErrMariaDBMissing = errors.New("MariaDB is not installed: install the Debian packages mariadb-server and mariadb-client (apt-get install mariadb-server mariadb-client)")

func (o *Options) setDefaults() {
	if o.AppUser == "" {
		o.AppUser = "moodle"
	}
	if o.AppPassword == "" {
		o.AppPassword = "moodle"
	}
	if o.Database == "" {
		o.Database = "moodle"
	}
	if o.LookPath == nil {
		o.LookPath = lookPath
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate checks the options.
func (o *Options) Validate() error {
	if o.Dir == "" {
		return errors.New("sandbox dir is empty")
	}
	if o.Replicas < 0 || o.Replicas > 9 {
		return fmt.Errorf("replicas %d: want 0..9", o.Replicas)
	}
	for what, v := range map[string]string{"app user": o.AppUser, "app password": o.AppPassword, "database": o.Database} {
		if strings.ContainsAny(v, "'\"\\`\x00") {
			return fmt.Errorf("%s %q: quotes, backslashes and NUL are not allowed", what, v)
		}
	}
	if o.BasePort < 0 || o.BasePort+o.Replicas > 65535 {
		return fmt.Errorf("base port %d: want 1..%d, or 0 for free ports", o.BasePort, 65535-o.Replicas)
	}
	return nil
}

// lookPath is exec.LookPath that also searches the sbin/libexec directories
// a non-root PATH often lacks.
func lookPath(file string) (string, error) {
	if p, err := exec.LookPath(file); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/usr/libexec", "/usr/local/mysql/bin"} {
		if p, err := exec.LookPath(dir + "/" + file); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: %w", file, exec.ErrNotFound)
}
