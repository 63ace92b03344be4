// Package sandbox runs a real, replicated MariaDB cluster on one machine:
// N+1 servers db1..dbN+1 on loopback ports, each with its own datadir,
// my.cnf, socket, error log and pid file under one directory, GTID
// replication from db1, and Vigil's accounts created. It is the code behind
// `vigil sandbox` and behind the end-to-end test helper
// (package sandboxtest); both use the same code path.
//
// Speed: mariadb-install-db runs once per mariadbd version into a template
// datadir cached on disk (guarded by a lock file so parallel test binaries
// do not race); every server's datadir is a copy of it.
//
// Ownership: files stay owned by the invoking user. When that user is root,
// mariadbd is started with --user=root (it refuses root otherwise); this
// keeps working in root-owned 0700 directories such as t.TempDir() without a
// chown dance, and it is only ever used on loopback sandboxes.
//
// Processes: servers run in their own process group with their pid recorded
// in DIR/<node>/mariadbd.pid and in DIR/sandbox.json, so another `vigil`
// process can find, stop or kill them later. A process is only ever treated
// as ours if /proc/PID/cmdline names this cluster's config file.
package sandbox
