package router

import "testing"

func TestIndependent(t *testing.T) {
	for sql, want := range map[string]bool{
		"SELECT c FROM sbtest1 WHERE id = 7":            true,
		"select v from t where id in (1, 2) order by v": true,
		"SELECT 1": true,
		"SELECT c FROM t WHERE id = 7 FOR UPDATE":     false,
		"SELECT c FROM t LOCK IN SHARE MODE":          false,
		"SELECT @x":                                   false,
		"SELECT LAST_INSERT_ID()":                     false,
		"SELECT FOUND_ROWS()":                         false,
		"SELECT SQL_CALC_FOUND_ROWS c FROM t LIMIT 1": false,
		"SELECT GET_LOCK('a', 1)":                     false,
		"SELECT CONNECTION_ID()":                      false,
		"SELECT NEXTVAL(s)":                           false,
		"SELECT 1; SELECT 2":                          false,
		"SHOW WARNINGS":                               false,
		"SELECT @@warning_count":                      false,
		"INSERT INTO t VALUES (1)":                    false,
		"SELECT c INTO @v FROM t LIMIT 1":             false,
		"UPDATE t SET c = 1":                          false,
		"SET NAMES utf8mb4":                           false,
		"BEGIN":                                       false,
	} {
		if got := Classify([]byte(sql)).Independent(); got != want {
			t.Errorf("Independent(%q) = %v, want %v", sql, got, want)
		}
	}
}
