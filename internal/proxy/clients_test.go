package proxy_test

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// cli runs the mariadb command-line client against addr and returns its
// output (stdout and stderr).
func cli(t *testing.T, addr, user, pass, db string, args ...string) (string, error) {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	base := []string{"--no-defaults", "-h", host, "-P", port, "-u", user, "-p" + pass, "--protocol=tcp", "--batch"}
	if db != "" {
		base = append(base, "-D", db)
	}
	cmd := exec.Command("mariadb", append(base, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s is not installed (scripts/deps installs it): %v", name, err)
	}
}

func TestMariaDBClient(t *testing.T) {
	needTool(t, "mariadb")
	h := newHarness(t, 1, nil)
	app := h.app()
	db := h.c.Database()
	direct := h.c.Node("db1").Addr
	dir := t.TempDir()

	script := `CREATE TABLE cli (id INT PRIMARY KEY, v VARCHAR(10), d DECIMAL(8,2), t DATETIME);
INSERT INTO cli VALUES (1,'a',1.50,'2020-01-01 10:00:00'),(2,NULL,-3.00,NULL);
SELECT * FROM cli ORDER BY id;
SELECT COUNT(*), SUM(d) FROM cli;
SHOW WARNINGS;
DROP TABLE cli;`
	t.Run("same output as the server", func(t *testing.T) {
		want, werr := cli(t, direct, app.User, app.Password, db, "-e", script)
		got, gerr := cli(t, h.addr, app.User, app.Password, db, "-e", script)
		if got != want || (werr == nil) != (gerr == nil) {
			t.Errorf("through the proxy (%v):\n%s\nwant (%v):\n%s", gerr, got, werr, want)
		}
	})
	t.Run("errors as the server", func(t *testing.T) {
		want, _ := cli(t, direct, app.User, app.Password, db, "-e", "SELECT * FROM nope")
		got, _ := cli(t, h.addr, app.User, app.Password, db, "-e", "SELECT * FROM nope")
		if got != want {
			t.Errorf("through the proxy:\n%s\nwant:\n%s", got, want)
		}
	})
	t.Run("source of a dump", func(t *testing.T) {
		needTool(t, "mariadb-dump")
		setup := `CREATE TABLE src (id INT PRIMARY KEY, b BLOB, s TEXT);
INSERT INTO src SELECT seq, REPEAT(CHAR(seq % 256), seq % 1000), CONCAT('row ', seq, ' ''quoted'' ; semi') FROM seq_1_to_5000;`
		if out, err := cli(t, direct, app.User, app.Password, db, "-e", setup); err != nil {
			t.Fatalf("setup: %v\n%s", err, out)
		}
		dump := filepath.Join(dir, "dump.sql")
		host, port, _ := net.SplitHostPort(direct)
		cmd := exec.Command("mariadb-dump", "--no-defaults", "-h", host, "-P", port, "-u", app.User, "-p"+app.Password,
			"--protocol=tcp", "--hex-blob", "--skip-lock-tables", db, "src", "-r", dump)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("mariadb-dump: %v\n%s", err, out)
		}
		if out, err := cli(t, direct, app.User, app.Password, "", "-e", "CREATE DATABASE restored"); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if out, err := cli(t, h.addr, app.User, app.Password, "restored", "-e", "source "+dump); err != nil {
			t.Fatalf("source through the proxy: %v\n%s", err, out)
		}
		sum := "CHECKSUM TABLE %s.src EXTENDED"
		a, _ := cli(t, direct, app.User, app.Password, "", "-N", "-e", fmt.Sprintf(sum, db))
		b, _ := cli(t, direct, app.User, app.Password, "", "-N", "-e", fmt.Sprintf(sum, "restored"))
		if strings.Fields(a)[1] != strings.Fields(b)[1] {
			t.Errorf("checksum of the restored table %q differs from the original %q", b, a)
		}
	})
	t.Run("LOAD DATA LOCAL INFILE", func(t *testing.T) {
		csv := filepath.Join(dir, "data.csv")
		var b strings.Builder
		for i := range 2000 {
			fmt.Fprintf(&b, "%d,value %d\n", i, i)
		}
		if err := os.WriteFile(csv, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		q := fmt.Sprintf("CREATE TABLE li (id INT PRIMARY KEY, v VARCHAR(20)); LOAD DATA LOCAL INFILE '%s' INTO TABLE li FIELDS TERMINATED BY ','; SELECT /* vigil:primary */ COUNT(*) FROM li", csv)
		out, err := cli(t, h.addr, app.User, app.Password, db, "--local-infile=1", "-N", "-e", q)
		if err != nil || strings.TrimSpace(out) != "2000" {
			t.Errorf("LOAD DATA LOCAL through the proxy: %v\n%s", err, out)
		}
	})
}

func TestPHPClients(t *testing.T) {
	needTool(t, "php")
	h := newHarness(t, 1, nil)
	app := h.app()
	script := `<?php
mysqli_report(MYSQLI_REPORT_OFF);
[$host, $port, $user, $pass, $db] = array_slice($argv, 1);
$m = new mysqli($host, $user, $pass, $db, (int)$port);
if ($m->connect_errno) { echo "connect: ", $m->connect_error, "\n"; exit(1); }
echo $m->server_info, "\n";
$m->query("CREATE TABLE IF NOT EXISTS php (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(20), d DECIMAL(6,2))");
$m->query("DELETE FROM php");
$m->query("INSERT INTO php (v, d) VALUES ('a', 1.25), (NULL, -2)");
echo "affected ", $m->affected_rows, " info ", $m->info, "\n";
$r = $m->query("SELECT v, d FROM php ORDER BY id");
while ($row = $r->fetch_row()) { echo json_encode($row), "\n"; }
$s = $m->prepare("SELECT v, d FROM php WHERE d > ?");
$x = 0.0; $s->bind_param("d", $x); $s->execute(); $s->bind_result($v, $d);
while ($s->fetch()) { echo "ps ", json_encode([$v, $d]), "\n"; }
$s->close();
$c = $m->prepare("SELECT id, v FROM php ORDER BY id");
$c->attr_set(MYSQLI_STMT_ATTR_CURSOR_TYPE, MYSQLI_CURSOR_TYPE_READ_ONLY);
$c->attr_set(MYSQLI_STMT_ATTR_PREFETCH_ROWS, 1);
$c->execute(); $c->bind_result($cid, $cv);
while ($c->fetch()) { echo "cursor ", json_encode([$cv]), "\n"; }
$c->close();
if (!$m->multi_query("SELECT 1; SELECT 2, 3")) { echo "multi_query error ", $m->errno, " ", $m->error, "\n"; }
do { if ($r = $m->store_result()) { echo json_encode($r->fetch_all()), "\n"; $r->free(); } } while ($m->next_result());
if (!$m->query("SELECT * FROM nope")) { echo "error ", $m->errno, " ", $m->error, "\n"; }
$m->begin_transaction(); $m->query("INSERT INTO php (v, d) VALUES ('tx', 9)"); $m->rollback();
echo "after rollback ", $m->query("SELECT COUNT(*) FROM php")->fetch_row()[0], "\n";
echo "change_user ", $m->change_user($user, $pass, $db) ? "ok" : $m->error, "\n";
echo "schema ", $m->query("SELECT DATABASE()")->fetch_row()[0], "\n";
$p = new PDO("mysql:host=$host;port=$port;dbname=$db", $user, $pass, [PDO::ATTR_ERRMODE => PDO::ERRMODE_SILENT]);
foreach ([false, true] as $emulate) {
  $p->setAttribute(PDO::ATTR_EMULATE_PREPARES, $emulate);
  $st = $p->prepare("SELECT v, d FROM php WHERE id > ? ORDER BY id"); $st->execute([0]);
  echo "pdo ", json_encode($st->fetchAll(PDO::FETCH_NUM)), "\n";
}
$st = $p->query("SELECT * FROM nope"); echo "pdo error ", json_encode($p->errorInfo()), "\n";
`
	file := filepath.Join(t.TempDir(), "t.php")
	if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(addr string) string {
		host, port, _ := net.SplitHostPort(addr)
		out, err := exec.Command("php", file, host, port, app.User, app.Password, h.c.Database()).CombinedOutput()
		if err != nil {
			t.Fatalf("php against %s: %v\n%s", addr, err, out)
		}
		return string(out)
	}
	want := run(h.c.Node("db1").Addr)
	got := run(h.addr)
	if !strings.Contains(got, "cursor [") {
		t.Errorf("no rows read through a server-side cursor:\n%s", got)
	}
	if got != want {
		t.Errorf("through the proxy:\n%s\nwant:\n%s", got, want)
	}
}
