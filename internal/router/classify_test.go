package router

import (
	"fmt"
	"strings"
	"testing"
)

// verdict is the routing-relevant summary of a classification.
type verdict string

const (
	vRead verdict = "read"    // FlagReadOnly: may go to a replica
	vPrim verdict = "primary" // must go to the primary
	vLast verdict = "last"    // read that must follow the previous statement
)

func verdictOf(st Statement) verdict {
	switch {
	case st.Has(FlagSameAsLast):
		return vLast
	case st.ReadOnly():
		return vRead
	}
	return vPrim
}

type classifyCase struct {
	sql   string
	kind  Kind
	v     verdict
	flags Flags // flags that must be set (in addition to the verdict)
}

var classifyCases = []classifyCase{
	// plain reads
	{"SELECT 1", KindSelect, vRead, 0},
	{"select * from mdl_user where id = 5", KindSelect, vRead, 0},
	{"  \n\tSELECT 1", KindSelect, vRead, 0},
	{"SELECT 1;", KindSelect, vRead, 0},
	{"SELECT 1 ;  ", KindSelect, vRead, 0},
	{"(SELECT 1) UNION (SELECT 2)", KindSelect, vRead, 0},
	{"((SELECT a FROM t))", KindSelect, vRead, 0},
	{"WITH x AS (SELECT 1) SELECT * FROM x", KindSelect, vRead, 0},
	{"WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM c WHERE n<5) SELECT * FROM c", KindSelect, vRead, 0},
	{"VALUES (1,2),(3,4)", KindSelect, vRead, 0},
	{"TABLE t1", KindSelect, vRead, 0},
	{"SELECT SLEEP(0)", KindSelect, vRead, 0},
	{"SELECT NOW(), UUID(), RAND()", KindSelect, vRead, 0},
	{"SELECT @@version, @@read_only", KindSelect, vRead, 0},
	{"SELECT @@session.sql_mode", KindSelect, vRead, 0},
	{"SELECT COUNT(*) FROM mdl_log WHERE timecreated > 1700000000", KindSelect, vRead, 0},
	{"SELECT SQL_CALC_FOUND_ROWS * FROM t LIMIT 10", KindSelect, vRead, FlagCalcFoundRows},
	{"SELECT * FROM t FOR SYSTEM_TIME AS OF '2020-01-01'", KindSelect, vRead, 0},
	{"SELECT update_time FROM t", KindSelect, vRead, 0},
	{"SELECT `update` FROM t", KindSelect, vRead, 0},
	{"SELECT `for` FROM `update`", KindSelect, vRead, 0},
	{"SELECT REPLACE(name, 'a', 'b') FROM t", KindSelect, vRead, 0},
	{"SELECT INSERT('abc', 1, 1, 'x')", KindSelect, vRead, 0},
	{"SELECT x FROM t WHERE a IN (SELECT b FROM u)", KindSelect, vRead, 0},
	{"SELECT 'it''s' FROM t", KindSelect, vRead, 0},
	{"SELECT \"GET_LOCK(\" FROM t", KindSelect, vRead, 0},
	{"SELECT 'GET_LOCK(''x'', 1)'", KindSelect, vRead, 0},
	{"SELECT 'a\\'GET_LOCK(' FROM t", KindSelect, vPrim, 0}, // ambiguous: see NO_BACKSLASH_ESCAPES below
	{"SELECT `GET_LOCK(` FROM t", KindSelect, vRead, 0},
	{"SELECT 1 -- GET_LOCK('x', 1)\n", KindSelect, vRead, 0},
	{"SELECT 1 # FOR UPDATE", KindSelect, vRead, 0},
	{"SELECT 1 /* FOR UPDATE */", KindSelect, vRead, 0},
	{"SELECT 1 /* ; DELETE FROM t */", KindSelect, vRead, 0},
	{"SELECT 'a;b' FROM t", KindSelect, vRead, 0},
	{"SELECT 1 -- ; DELETE FROM t", KindSelect, vRead, 0},
	{"SELECT 5--1", KindSelect, vRead, 0},
	{"SELECT x'4142', b'01', N'abc', 0x1F, 1.5e-3", KindSelect, vRead, 0},
	{"SELECT MASTER_GTID_WAIT('0-1-1', 1)", KindSelect, vRead, 0},
	{"SELECT * FROM t WHERE name LIKE '%for update%'", KindSelect, vRead, 0},
	{"SELECT * FROM t WHERE c = 'LOCK IN SHARE MODE'", KindSelect, vRead, 0},
	{"/* leading */ SELECT 1", KindSelect, vRead, 0},
	{"-- leading\nSELECT 1", KindSelect, vRead, 0},
	{"# leading\nSELECT 1", KindSelect, vRead, 0},
	{"/* multi\nline */\n\nSELECT 1", KindSelect, vRead, 0},
	{"SELECT 1 FROM dual", KindSelect, vRead, 0},
	{"SELECT JSON_EXTRACT(data, '$.a') FROM t", KindSelect, vRead, 0},
	{"SELECT ε FROM t", KindSelect, vRead, 0},
	{"SELECT 'ünïcödé' FROM t", KindSelect, vRead, 0},
	// SHOW, DESCRIBE, HELP
	{"SHOW TABLES", KindShow, vRead, 0},
	{"show columns from mdl_user", KindShow, vRead, 0},
	{"SHOW CREATE TABLE t", KindShow, vRead, 0},
	{"SHOW VARIABLES LIKE 'sql_mode'", KindShow, vRead, 0},
	{"SHOW INDEXES FROM t", KindShow, vRead, 0},
	{"SHOW DATABASES", KindShow, vRead, 0},
	{"SHOW WARNINGS", KindShow, vLast, 0},
	{"SHOW ERRORS LIMIT 1", KindShow, vLast, 0},
	{"SHOW COUNT(*) WARNINGS", KindShow, vLast, 0},
	{"SHOW MASTER STATUS", KindShow, vPrim, FlagSideEffect},
	{"SHOW BINLOG EVENTS", KindShow, vPrim, 0},
	{"SHOW BINARY LOGS", KindShow, vPrim, 0},
	{"SHOW PROCESSLIST", KindShow, vPrim, 0},
	{"SHOW FULL PROCESSLIST", KindShow, vPrim, 0},
	{"SHOW STATUS LIKE 'x'", KindShow, vPrim, 0},
	{"SHOW SESSION STATUS", KindShow, vPrim, 0},
	{"SHOW SLAVE STATUS", KindShow, vPrim, 0},
	{"SHOW ALL SLAVES STATUS", KindShow, vPrim, 0},
	{"SHOW PROFILES", KindShow, vPrim, 0},
	{"DESCRIBE t", KindDescribe, vRead, 0},
	{"DESC t", KindDescribe, vRead, 0},
	{"EXPLAIN SELECT * FROM t", KindDescribe, vRead, 0},
	{"EXPLAIN UPDATE t SET a=1", KindDescribe, vRead, 0},
	{"EXPLAIN FORMAT=JSON SELECT 1", KindDescribe, vRead, 0},
	{"EXPLAIN ANALYZE SELECT 1", KindOther, vPrim, 0},
	{"ANALYZE SELECT * FROM t", KindDescribe, vRead, 0},
	{"ANALYZE TABLE t", KindWrite, vPrim, 0},
	{"HELP 'contents'", KindHelp, vRead, 0},
	// locking reads
	{"SELECT * FROM t FOR UPDATE", KindSelect, vPrim, FlagLockingRead},
	{"select * from t where id=1 for update nowait", KindSelect, vPrim, FlagLockingRead},
	{"SELECT * FROM t FOR UPDATE SKIP LOCKED", KindSelect, vPrim, FlagLockingRead},
	{"SELECT * FROM t WHERE id = 1 FOR SHARE", KindSelect, vPrim, FlagLockingRead},
	{"SELECT * FROM t LOCK IN SHARE MODE", KindSelect, vPrim, FlagLockingRead},
	{"SELECT * FROM t\nFOR\n/* c */ UPDATE", KindSelect, vPrim, FlagLockingRead},
	{"(SELECT * FROM t FOR UPDATE)", KindSelect, vPrim, FlagLockingRead},
	{"SELECT * FROM t FOR UPDATE WAIT 5", KindSelect, vPrim, FlagLockingRead},
	// lock functions
	{"SELECT GET_LOCK('moodle_cron', 120)", KindSelect, vPrim, FlagGetLock},
	{"select get_lock('x', 0)", KindSelect, vPrim, FlagGetLock},
	{"SELECT GET_LOCK ('x', 0)", KindSelect, vPrim, FlagGetLock},
	{"SELECT /* c */ GET_LOCK('x', 0) AS locked", KindSelect, vPrim, FlagGetLock},
	{"SELECT RELEASE_LOCK('x')", KindSelect, vPrim, FlagReleaseLock},
	{"SELECT RELEASE_ALL_LOCKS()", KindSelect, vPrim, FlagReleaseAllLocks},
	{"SELECT IS_USED_LOCK('x')", KindSelect, vPrim, FlagLockFunc},
	{"SELECT IS_FREE_LOCK('x')", KindSelect, vPrim, FlagLockFunc},
	{"DO GET_LOCK('x', 1)", KindDo, vPrim, FlagGetLock},
	{"DO RELEASE_LOCK('x')", KindDo, vPrim, FlagReleaseLock},
	{"SELECT 1 FROM t WHERE GET_LOCK(CONCAT('a', id), 0) = 1", KindSelect, vPrim, FlagGetLock},
	// sequences and side effects
	{"SELECT NEXTVAL(s1)", KindSelect, vPrim, FlagSequence},
	{"SELECT LASTVAL(s1)", KindSelect, vPrim, FlagSequence},
	{"SELECT SETVAL(s1, 100)", KindSelect, vPrim, FlagSequence},
	{"SELECT NEXT VALUE FOR s1", KindSelect, vPrim, FlagSequence},
	{"SELECT PREVIOUS VALUE FOR s1", KindSelect, vPrim, FlagSequence},
	{"SELECT CONNECTION_ID()", KindSelect, vPrim, FlagSideEffect},
	{"SELECT * INTO OUTFILE '/tmp/x' FROM t", KindSelect, vPrim, FlagSideEffect},
	{"SELECT a INTO @a FROM t LIMIT 1", KindSelect, vPrim, FlagSideEffect | FlagUserVar},
	// user variables
	{"SELECT @x", KindSelect, vPrim, FlagUserVar},
	{"SELECT @x := 5", KindSelect, vPrim, FlagUserVar},
	{"SELECT * FROM t WHERE id = @id", KindSelect, vPrim, FlagUserVar},
	{"SELECT @`quoted var`", KindSelect, vPrim, FlagUserVar},
	{"SELECT @'q'", KindSelect, vPrim, FlagUserVar},
	{"SELECT '@x' FROM t", KindSelect, vRead, 0},
	{"SET @x = 1", KindSet, vPrim, FlagUserVar},
	{"SET @a := 1, @b := 2", KindSet, vPrim, FlagUserVar},
	{"set @x=(select max(id) from t)", KindSet, vPrim, FlagUserVar},
	// same as last / insert id
	{"SELECT LAST_INSERT_ID()", KindSelect, vPrim, FlagLastInsertID},
	{"select last_insert_id() as id", KindSelect, vPrim, FlagLastInsertID},
	{"SELECT @@identity", KindSelect, vPrim, FlagLastInsertID},
	{"SELECT @@last_insert_id", KindSelect, vPrim, FlagLastInsertID},
	{"SELECT @@session.last_insert_id", KindSelect, vPrim, FlagLastInsertID},
	{"SELECT FOUND_ROWS()", KindSelect, vLast, 0},
	{"SELECT ROW_COUNT()", KindSelect, vLast, 0},
	{"SELECT @@warning_count", KindSelect, vLast, 0},
	{"SELECT @@session.error_count", KindSelect, vLast, 0},
	// writes and DDL
	{"INSERT INTO t (a) VALUES (1)", KindWrite, vPrim, 0},
	{"insert ignore into t values (1)", KindWrite, vPrim, 0},
	{"INSERT INTO t SELECT * FROM u", KindWrite, vPrim, 0},
	{"INSERT INTO t VALUES (1) ON DUPLICATE KEY UPDATE a = 1", KindWrite, vPrim, 0},
	{"UPDATE t SET a = 1 WHERE id = 2", KindWrite, vPrim, 0},
	{"DELETE FROM t WHERE id = 2", KindWrite, vPrim, 0},
	{"DELETE FROM t RETURNING id", KindWrite, vPrim, 0},
	{"REPLACE INTO t VALUES (1)", KindWrite, vPrim, 0},
	{"LOAD DATA INFILE '/tmp/x' INTO TABLE t", KindWrite, vPrim, 0},
	{"CREATE TABLE t (id INT)", KindWrite, vPrim, 0},
	{"CREATE OR REPLACE TABLE t (id INT)", KindWrite, vPrim, 0},
	{"ALTER TABLE t ADD COLUMN b INT", KindWrite, vPrim, 0},
	{"DROP DATABASE d", KindWrite, vPrim, 0},
	{"DROP INDEX i ON t", KindWrite, vPrim, 0},
	{"RENAME TABLE a TO b", KindWrite, vPrim, 0},
	{"TRUNCATE TABLE t", KindWrite, vPrim, 0},
	{"TRUNCATE t", KindWrite, vPrim, 0},
	{"GRANT SELECT ON *.* TO u", KindWrite, vPrim, 0},
	{"REVOKE ALL ON *.* FROM u", KindWrite, vPrim, 0},
	{"OPTIMIZE TABLE t", KindWrite, vPrim, 0},
	{"REPAIR TABLE t", KindWrite, vPrim, 0},
	{"CHECK TABLE t", KindWrite, vPrim, 0},
	{"CHECKSUM TABLE t", KindWrite, vPrim, 0},
	{"FLUSH PRIVILEGES", KindWrite, vPrim, 0},
	{"KILL 5", KindWrite, vPrim, 0},
	{"KILL QUERY 5", KindWrite, vPrim, 0},
	{"PURGE BINARY LOGS BEFORE NOW()", KindWrite, vPrim, 0},
	{"CHANGE MASTER TO MASTER_HOST='x'", KindWrite, vPrim, 0},
	{"START SLAVE", KindWrite, vPrim, 0},
	{"STOP SLAVE", KindWrite, vPrim, 0},
	{"RESET MASTER", KindWrite, vPrim, 0},
	{"INSTALL SONAME 'x'", KindWrite, vPrim, 0},
	{"WITH x AS (SELECT 1) DELETE FROM t WHERE id IN (SELECT * FROM x)", KindWrite, vPrim, 0},
	{"WITH x AS (SELECT 1) UPDATE t SET a = 1", KindWrite, vPrim, 0},
	{"CALL p(1)", KindCall, vPrim, 0},
	{"DO 1", KindDo, vPrim, 0},
	{"DO SLEEP(1)", KindDo, vPrim, 0},
	{"UPDATE t SET a = 'SELECT 1'", KindWrite, vPrim, 0},
	{"/* SELECT */ UPDATE t SET a = 1", KindWrite, vPrim, 0},
	{"-- SELECT\nDELETE FROM t", KindWrite, vPrim, 0},
	{"# SELECT\nINSERT INTO t VALUES (1)", KindWrite, vPrim, 0},
	{"`SELECT` 1", KindOther, vPrim, 0},
	{"'SELECT 1'", KindOther, vPrim, 0},
	{"FOO BAR", KindOther, vPrim, 0},
	{"SELECTX 1", KindOther, vPrim, 0},
	{"", KindEmpty, vPrim, 0},
	{"   ", KindEmpty, vPrim, 0},
	{"/* only a comment */", KindEmpty, vPrim, 0},
	{"-- only", KindEmpty, vPrim, 0},
	{";", KindEmpty, vPrim, 0},
	{";;", KindEmpty, vPrim, 0},
	{"1", KindOther, vPrim, 0},
	{"(", KindEmpty, vPrim, 0},
	// transactions
	{"BEGIN", KindBegin, vPrim, 0},
	{"begin work", KindBegin, vPrim, 0},
	{"BEGIN NOT ATOMIC SELECT 1; END", KindOther, vPrim, FlagMulti},
	{"START TRANSACTION", KindBegin, vPrim, 0},
	{"START TRANSACTION READ ONLY", KindBegin, vPrim, FlagReadOnlyTx},
	{"START TRANSACTION WITH CONSISTENT SNAPSHOT", KindBegin, vPrim, 0},
	{"COMMIT", KindCommit, vPrim, 0},
	{"COMMIT WORK", KindCommit, vPrim, 0},
	{"ROLLBACK", KindRollback, vPrim, 0},
	{"ROLLBACK TO SAVEPOINT s1", KindRollback, vPrim, 0},
	{"SAVEPOINT s1", KindSavepoint, vPrim, 0},
	{"RELEASE SAVEPOINT s1", KindSavepoint, vPrim, 0},
	{"XA START 'x'", KindXA, vPrim, 0},
	{"XA COMMIT 'x'", KindXA, vPrim, 0},
	// table locks, handler, prepared statements
	{"LOCK TABLES t READ", KindLockTables, vPrim, 0},
	{"LOCK TABLE t WRITE, u READ", KindLockTables, vPrim, 0},
	{"UNLOCK TABLES", KindUnlockTables, vPrim, 0},
	{"FLUSH TABLES WITH READ LOCK", KindLockTables, vPrim, 0},
	{"FLUSH TABLES t1 WITH READ LOCK", KindLockTables, vPrim, 0},
	{"FLUSH TABLES", KindWrite, vPrim, 0},
	{"HANDLER t OPEN", KindHandler, vPrim, 0},
	{"HANDLER t READ FIRST", KindHandler, vPrim, 0},
	{"PREPARE s FROM 'SELECT 1'", KindPrepare, vPrim, 0},
	{"EXECUTE s USING @a", KindExecute, vPrim, FlagUserVar},
	{"EXECUTE IMMEDIATE 'SELECT 1'", KindExecute, vPrim, 0},
	{"DEALLOCATE PREPARE s", KindDeallocate, vPrim, 0},
	{"DROP PREPARE s", KindDeallocate, vPrim, 0},
	// temporary tables
	{"CREATE TEMPORARY TABLE tmp (id INT)", KindCreateTemp, vPrim, FlagTemporary},
	{"create temporary table if not exists `tmp` (id int)", KindCreateTemp, vPrim, FlagTemporary},
	{"CREATE OR REPLACE TEMPORARY TABLE tmp AS SELECT 1", KindCreateTemp, vPrim, FlagTemporary},
	{"CREATE TEMPORARY TABLE tmp LIKE t", KindCreateTemp, vPrim, FlagTemporary},
	{"DROP TEMPORARY TABLE tmp", KindDropTable, vPrim, FlagTemporary},
	{"DROP TEMPORARY TABLE IF EXISTS tmp", KindDropTable, vPrim, FlagTemporary},
	{"DROP TABLE tmp", KindDropTable, vPrim, 0},
	{"DROP TABLE IF EXISTS a, b", KindDropTable, vPrim, 0},
	// session settings
	{"SET NAMES utf8mb4", KindSet, vPrim, FlagSessionCmd},
	{"SET NAMES 'utf8mb4' COLLATE 'utf8mb4_unicode_ci'", KindSet, vPrim, FlagSessionCmd},
	{"SET CHARACTER SET utf8", KindSet, vPrim, FlagSessionCmd},
	{"SET CHARSET utf8", KindSet, vPrim, FlagSessionCmd},
	{"SET sql_mode = 'STRICT_ALL_TABLES'", KindSet, vPrim, FlagSessionCmd},
	{"SET SESSION sql_mode = ''", KindSet, vPrim, FlagSessionCmd},
	{"SET LOCAL sql_mode = ''", KindSet, vPrim, FlagSessionCmd},
	{"SET @@sql_mode = ''", KindSet, vPrim, FlagSessionCmd},
	{"SET @@session.time_zone = '+00:00'", KindSet, vPrim, FlagSessionCmd},
	{"SET time_zone = '+00:00'", KindSet, vPrim, FlagSessionCmd},
	{"SET autocommit = 0", KindSet, vPrim, FlagSessionCmd},
	{"SET autocommit=1", KindSet, vPrim, FlagSessionCmd},
	{"SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED", KindSet, vPrim, FlagSessionCmd},
	{"SET ROLE r1", KindSet, vPrim, FlagSessionCmd},
	{"SET sql_mode='', @x = 1", KindSet, vPrim, FlagSessionCmd | FlagUserVar},
	{"/*!40101 SET NAMES utf8 */", KindSet, vPrim, FlagSessionCmd},
	{"/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE */", KindSet, vPrim, FlagUserVar},
	{"/*M!100100 SET sql_mode='' */", KindSet, vPrim, FlagSessionCmd},
	{"USE moodle", KindUse, vPrim, FlagSessionCmd},
	{"use `my db`", KindUse, vPrim, FlagSessionCmd},
	{"SET GLOBAL read_only = 1", KindSet, vPrim, FlagGlobalSet},
	{"SET @@global.read_only = 1", KindSet, vPrim, FlagGlobalSet},
	{"SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", KindSet, vPrim, 0},
	{"SET PASSWORD = PASSWORD('x')", KindSet, vPrim, 0},
	{"SET DEFAULT ROLE r1 FOR u", KindSet, vPrim, 0},
	{"SET STATEMENT max_statement_time=5 FOR SELECT * FROM t", KindSelect, vRead, 0},
	{"SET STATEMENT max_statement_time=5 FOR UPDATE t SET a=1", KindWrite, vPrim, 0},
	{"SET STATEMENT sql_mode='' FOR SELECT 1 FOR UPDATE", KindSelect, vPrim, FlagLockingRead},
	// executable comments
	{"/*! SELECT 1 */", KindSelect, vRead, 0},
	{"SELECT 1 /*! FOR UPDATE */", KindSelect, vPrim, FlagLockingRead},
	{"SELECT /*!50000 GET_LOCK('x', 1) */", KindSelect, vPrim, FlagGetLock},
	{"SELECT 1 /*M!100000 FOR UPDATE */", KindSelect, vPrim, FlagLockingRead},
	{"/*!40000 ALTER TABLE t DISABLE KEYS */", KindWrite, vPrim, 0},
	// hints
	{"/* vigil:primary */ SELECT 1", KindSelect, vRead, FlagHintPrimary},
	{"SELECT /* vigil:primary */ 1", KindSelect, vRead, FlagHintPrimary},
	{"SELECT 1 /* VIGIL:PRIMARY */", KindSelect, vRead, FlagHintPrimary},
	{"/* app=x vigil:replica */ SELECT 1", KindSelect, vRead, FlagHintReplica},
	{"SELECT '/* vigil:primary */'", KindSelect, vRead, 0},
	{"-- vigil:primary\nSELECT 1", KindSelect, vRead, 0},
	// multi-statements
	{"SELECT 1; SELECT 2", KindSelect, vRead, FlagMulti},
	{"SELECT 1; DELETE FROM t", KindSelect, vPrim, FlagMulti},
	{"SET NAMES utf8; SELECT 1", KindSet, vPrim, FlagMulti | FlagSessionCmd},
	{"SELECT 1;;SELECT 2;", KindSelect, vRead, FlagMulti},
	{"INSERT INTO t VALUES (';'); SELECT 1", KindWrite, vPrim, FlagMulti},
	{"SELECT 1; CREATE TEMPORARY TABLE x (a INT)", KindSelect, vPrim, FlagMulti},
	// unterminated input never panics and never reads as a plain read when unsure
	{"SELECT 'unterminated", KindSelect, vRead, 0},
	{"SELECT `unterminated", KindSelect, vRead, 0},
	{"SELECT /* unterminated", KindSelect, vRead, 0},
	{"SELECT /*! unterminated", KindSelect, vRead, 0},
	{"SELECT 1 FOR", KindSelect, vRead, 0},
	{"SELECT @", KindSelect, vPrim, FlagUserVar},
	{"SELECT @@", KindSelect, vRead, 0},
	{"SELECT GET_LOCK(", KindSelect, vPrim, FlagGetLock},
	{"SELECT 'a\\", KindSelect, vRead, 0},
	// a backslash before a quote ends the string under NO_BACKSLASH_ESCAPES
	{"SELECT 'a\\' FOR UPDATE -- '", KindSelect, vPrim, 0},
	{"SELECT * FROM t WHERE a = 'it\\'s'", KindSelect, vRead, 0},
	{"SELECT 'a\\' , GET_LOCK('x', 1) -- '", KindSelect, vPrim, 0},
	{"SELECT \"a\\\" FOR UPDATE #\"", KindSelect, vPrim, 0},
}

func TestClassify(t *testing.T) {
	for _, c := range classifyCases {
		st := Classify([]byte(c.sql))
		if st.Kind != c.kind {
			t.Errorf("Classify(%q).Kind = %v, want %v", c.sql, st.Kind, c.kind)
		}
		if got := verdictOf(st); got != c.v {
			t.Errorf("Classify(%q) verdict = %s, want %s (flags %b)", c.sql, got, c.v, st.Flags)
		}
		if st.Flags&c.flags != c.flags {
			t.Errorf("Classify(%q).Flags = %b, want at least %b", c.sql, st.Flags, c.flags)
		}
	}
}

// TestClassifyCaseAndSpacing re-runs every case in lower case and with
// extra whitespace and comments between tokens: the verdict must not change.
func TestClassifyCaseAndSpacing(t *testing.T) {
	for _, c := range classifyCases {
		if strings.ContainsAny(c.sql, "'\"`#-") || strings.Contains(c.sql, "/*") {
			continue // variants below would change literals or comments
		}
		variants := []string{
			strings.ToLower(c.sql),
			strings.ToUpper(c.sql),
			strings.ReplaceAll(c.sql, " ", " /* x */ "),
			strings.ReplaceAll(c.sql, " ", "\n\t "),
			"/* lead */ " + c.sql,
		}
		for _, v := range variants {
			st := Classify([]byte(v))
			if got := verdictOf(st); got != c.v {
				t.Errorf("Classify(%q) verdict = %s, want %s (from %q)", v, got, c.v, c.sql)
			}
		}
	}
}

func ExampleClassify() {
	st := Classify([]byte("SELECT GET_LOCK('cron', 10)"))
	fmt.Println(st.Kind, st.ReadOnly(), st.Has(FlagGetLock))
	// Output: select false true
}
