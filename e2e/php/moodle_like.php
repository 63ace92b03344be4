<?php
// moodle_like.php: a client that talks to the database the way Moodle's
// mysqli driver does, through the Vigil proxy, and counts errors and stale
// reads. Used by e2e/routing_php_test.go; runnable by hand:
//
//   VIGIL_HOST=127.0.0.1 VIGIL_PORT=6033 VIGIL_USER=moodle VIGIL_PASS=moodle \
//   VIGIL_DB=moodle VIGIL_SECONDS=10 php e2e/php/moodle_like.php
//
// Scenarios, repeated until the time is up:
//   lock      the lock factory: SELECT GET_LOCK(sha1, 0) contended from two
//             connections; only one may hold it; RELEASE_LOCK on the holder.
//   temp      temporary tables: create, fill, count, join, drop.
//   trans     nested delegated transactions (only the outermost runs SQL),
//             committed and rolled back, then read back outside.
//   raw       read-after-write on one connection (insert, read, update, read).
//   redirect  write, close the connection, read on a new one (POST then
//             redirect to a page that shows the data).
// Prints one JSON object; exits 1 if any error or stale read happened.

mysqli_report(MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT);

$cfg = [
    'host' => getenv('VIGIL_HOST') ?: '127.0.0.1',
    'port' => (int)(getenv('VIGIL_PORT') ?: 6033),
    'user' => getenv('VIGIL_USER') ?: 'moodle',
    'pass' => getenv('VIGIL_PASS') ?: 'moodle',
    'db'   => getenv('VIGIL_DB') ?: 'moodle',
    'secs' => (float)(getenv('VIGIL_SECONDS') ?: 10),
];

$report = ['ops' => [], 'errors' => [], 'stale' => [], 'connections' => 0];

function db_connect(array $cfg, array &$report): mysqli {
    $m = new mysqli($cfg['host'], $cfg['user'], $cfg['pass'], $cfg['db'], $cfg['port']);
    $report['connections']++;
    // What mysqli_native_moodle_database::connect() does.
    $m->set_charset('utf8mb4');
    $m->query("SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO'");
    $m->query("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
    return $m;
}

function one(mysqli $m, string $sql) {
    $r = $m->query($sql);
    $row = $r->fetch_row();
    $r->free();
    return $row === null ? null : $row[0];
}

function check(array &$report, string $kind, bool $ok, string $what): void {
    if (!$ok) {
        $report[$kind][] = $what;
    }
}

// Moodle's delegated transactions: only the outermost level talks SQL.
final class Delegated {
    private int $depth = 0;
    public function __construct(private mysqli $m) {}
    public function start(): void { if ($this->depth++ === 0) { $this->m->begin_transaction(); } }
    public function commit(): void { if (--$this->depth === 0) { $this->m->commit(); } }
    public function rollback(): void { $this->depth = 0; $this->m->rollback(); }
}

function scenario_lock(mysqli $a, mysqli $b, int $i, array &$r): void {
    $key = sha1("vigil-cron-$i");
    check($r, 'errors', one($a, "SELECT GET_LOCK('$key', 0)") == 1, "lock $i: first GET_LOCK failed");
    check($r, 'errors', one($b, "SELECT GET_LOCK('$key', 0)") == 0, "lock $i: second connection got a held lock");
    check($r, 'errors', one($b, "SELECT IS_USED_LOCK('$key')") !== null, "lock $i: IS_USED_LOCK says free");
    check($r, 'errors', one($a, "SELECT RELEASE_LOCK('$key')") == 1, "lock $i: RELEASE_LOCK by holder failed");
    check($r, 'errors', one($b, "SELECT GET_LOCK('$key', 0)") == 1, "lock $i: GET_LOCK after release failed");
    check($r, 'errors', one($b, "SELECT RELEASE_LOCK('$key')") == 1, "lock $i: second RELEASE_LOCK failed");
}

function scenario_temp(mysqli $m, int $i, array &$r): void {
    $t = "mdl_temp_backup_$i";
    $m->query("CREATE TEMPORARY TABLE $t (id BIGINT NOT NULL, itemname VARCHAR(100), PRIMARY KEY (id))");
    $m->query("INSERT INTO $t (id, itemname) VALUES (1, 'a'), (2, 'b'), (3, 'c')");
    check($r, 'errors', one($m, "SELECT COUNT(*) FROM $t") == 3, "temp $i: count");
    $m->query("SELECT t.id FROM $t t LEFT JOIN mdl_vigil_test v ON v.id = t.id")->free();
    $m->query("UPDATE $t SET itemname = 'z' WHERE id = 2");
    check($r, 'errors', one($m, "SELECT itemname FROM $t WHERE id = 2") === 'z', "temp $i: update not visible");
    $m->query("DROP TEMPORARY TABLE $t");
}

function scenario_trans(mysqli $m, int $i, array &$r): void {
    $tx = new Delegated($m);
    $name = "trans-$i-" . bin2hex(random_bytes(4));
    $tx->start();
    $m->query("INSERT INTO mdl_vigil_test (name, val, timecreated) VALUES ('$name', 1, UNIX_TIMESTAMP())");
    $tx->start(); // a nested API call starts its own delegated transaction
    $m->query("INSERT INTO mdl_vigil_test (name, val, timecreated) VALUES ('$name', 2, UNIX_TIMESTAMP())");
    check($r, 'stale', one($m, "SELECT COUNT(*) FROM mdl_vigil_test WHERE name = '$name'") == 2, "trans $i: rows not visible inside");
    $tx->commit();
    $tx->commit();
    check($r, 'stale', one($m, "SELECT COUNT(*) FROM mdl_vigil_test WHERE name = '$name'") == 2, "trans $i: committed rows not visible");
    $gone = "rolled-$name";
    $tx->start();
    $m->query("INSERT INTO mdl_vigil_test (name, val, timecreated) VALUES ('$gone', 1, UNIX_TIMESTAMP())");
    $tx->start();
    $tx->rollback(); // an exception in the nested call rolls everything back
    check($r, 'errors', one($m, "SELECT COUNT(*) FROM mdl_vigil_test WHERE name = '$gone'") == 0, "trans $i: rolled back row visible");
}

function scenario_raw(mysqli $m, int $i, array &$r): void {
    $name = "raw-$i-" . bin2hex(random_bytes(4));
    $m->query("INSERT INTO mdl_vigil_test (name, val, timecreated) VALUES ('$name', $i, UNIX_TIMESTAMP())");
    $id = $m->insert_id;
    check($r, 'errors', $id > 0, "raw $i: no insert id");
    check($r, 'stale', one($m, "SELECT val FROM mdl_vigil_test WHERE id = $id") == $i, "raw $i: inserted row not read back");
    $m->query("UPDATE mdl_vigil_test SET val = val + 1 WHERE id = $id");
    check($r, 'stale', one($m, "SELECT val FROM mdl_vigil_test WHERE id = $id") == $i + 1, "raw $i: update not read back");
}

function scenario_redirect(mysqli &$m, array $cfg, int $i, array &$r): void {
    $name = "redirect-$i-" . bin2hex(random_bytes(4));
    $m->query("INSERT INTO mdl_vigil_test (name, val, timecreated) VALUES ('$name', $i, UNIX_TIMESTAMP())");
    $m->close();
    $m = db_connect($cfg, $r); // the next request
    check($r, 'stale', one($m, "SELECT COUNT(*) FROM mdl_vigil_test WHERE name = '$name'") == 1, "redirect $i: row missing after redirect");
}

$main = db_connect($cfg, $report);
$main->query("CREATE TABLE IF NOT EXISTS mdl_vigil_test (id BIGINT NOT NULL AUTO_INCREMENT, name VARCHAR(100) NOT NULL, " .
    "val BIGINT NOT NULL, timecreated BIGINT NOT NULL, PRIMARY KEY (id), KEY name_ix (name))");
$locker = db_connect($cfg, $report);

$deadline = microtime(true) + $cfg['secs'];
$scenarios = ['lock', 'temp', 'trans', 'raw', 'redirect'];
for ($i = 0; microtime(true) < $deadline; $i++) {
    $s = $scenarios[$i % count($scenarios)];
    try {
        switch ($s) {
            case 'lock': scenario_lock($main, $locker, $i, $report); break;
            case 'temp': scenario_temp($main, $i, $report); break;
            case 'trans': scenario_trans($main, $i, $report); break;
            case 'raw': scenario_raw($main, $i, $report); break;
            case 'redirect': scenario_redirect($main, $cfg, $i, $report); break;
        }
        $report['ops'][$s] = ($report['ops'][$s] ?? 0) + 1;
    } catch (mysqli_sql_exception $e) {
        $report['errors'][] = "$s $i: " . $e->getCode() . ' ' . $e->getMessage();
        // Moodle does not reconnect after an error; neither do we, unless the
        // connection is gone (then the next scenario would fail anyway).
        try {
            $alive = $main->ping();
        } catch (Throwable $t) {
            $alive = false;
        }
        if (!$alive) {
            $main = db_connect($cfg, $report);
        }
    }
}

echo json_encode($report), "\n";
exit(count($report['errors']) + count($report['stale']) > 0 ? 1 : 0);
