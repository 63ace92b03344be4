package cli

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"vigil/internal/config"
	"vigil/internal/sandbox"
	"vigil/internal/sandbox/sandboxtest"
)

// TestProxyCommand runs `vigil proxy --config` in process in standalone
// mode against a real cluster: it finds the writer by itself, splits reads,
// reloads users on SIGHUP without dropping sessions, and drains on exit.
func TestProxyCommand(t *testing.T) {
	c := sandboxtest.New(t, sandbox.Options{Replicas: 1, PrimaryWritable: true})
	cfg := c.Config()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Proxy.Listen = l.Addr().String()
	l.Close()
	cfg.Proxy.ManagerURL = ""
	path := filepath.Join(t.TempDir(), "vigil.yaml")
	write := func() { sandboxtest.WriteConfig(t, path, cfg) }
	write()
	startProxy(t, path, slog.New(slog.DiscardHandler))

	app := c.App()
	dsn := func(user, pass string) string {
		mc := mysql.NewConfig()
		mc.User, mc.Passwd, mc.Net, mc.Addr, mc.DBName = user, pass, "tcp", cfg.Proxy.Listen, c.Database()
		return mc.FormatDSN()
	}
	db, err := sql.Open("mysql", dsn(app.User, app.Password))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err = db.Exec("CREATE TABLE IF NOT EXISTS cmd (id INT PRIMARY KEY)")
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("write through the standalone proxy: %v", err)
	}
	var primaryID, readID int
	if err := db.QueryRow("SELECT /* vigil:primary */ @@server_id").Scan(&primaryID); err != nil {
		t.Fatal(err)
	}
	for time.Now().Before(deadline) { // the replica's lag must be known before it serves reads
		if err := db.QueryRow("SELECT @@server_id").Scan(&readID); err == nil && readID != primaryID {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if readID == primaryID {
		t.Errorf("reads still run on the primary (server %d)", primaryID)
	}

	// SIGHUP: a new user becomes valid, the open session survives.
	admin, err := sql.Open("mysql", c.AdminDSN("db1"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	for _, host := range []string{"%", "localhost"} {
		for _, q := range []string{"CREATE USER 'late'@'%s' IDENTIFIED BY 'pw'", "GRANT ALL ON *.* TO 'late'@'%s'"} {
			if _, err := admin.Exec(fmt.Sprintf(q, host)); err != nil {
				t.Fatal(err)
			}
		}
	}
	late, err := sql.Open("mysql", dsn("late", "pw"))
	if err != nil {
		t.Fatal(err)
	}
	defer late.Close()
	if err := late.Ping(); err == nil {
		t.Fatal("unknown user logged in before the reload")
	}
	cfg.Users = append(cfg.Users, config.User{Name: "late", Password: "pw"})
	write()
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; {
		if err = late.Ping(); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("user added by SIGHUP reload: %v", err)
	}
	if _, err := db.Exec("INSERT INTO cmd VALUES (1)"); err != nil {
		t.Errorf("session opened before the reload: %v", err)
	}
}

// startProxy runs `vigil proxy --config path` in this process until the
// test ends, and fails the test if it then returns an error or does not
// stop.
func startProxy(t *testing.T, path string, log *slog.Logger) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runProxy(ctx, proxyFlags{path: path}, log) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("vigil proxy returned %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("vigil proxy did not stop")
		}
	})
}
