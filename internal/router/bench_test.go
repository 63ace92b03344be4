package router

import (
	"testing"
	"time"

	"vigil/internal/topology"
)

var benchStatements = []struct{ name, sql string }{
	{"point_select", "SELECT c FROM sbtest1 WHERE id=5012"},
	{"range", "SELECT DISTINCT c FROM sbtest3 WHERE id BETWEEN 4988 AND 5087 ORDER BY c"},
	{"moodle_select", "SELECT id, username, firstname, lastname FROM mdl_user WHERE deleted = 0 AND suspended = 0 AND id IN (2, 5, 9, 12) ORDER BY lastname /* moodle */"},
	{"get_lock", "SELECT GET_LOCK('3f786850e387550fdab836ed7e6dc881de23001b', 120)"},
	{"insert", "INSERT INTO mdl_logstore_standard_log (eventname, component, action, target, objectid) VALUES ('\\\\core\\\\event\\\\user_loggedin', 'core', 'loggedin', 'user', 2)"},
	{"set_names", "SET NAMES 'utf8mb4' COLLATE 'utf8mb4_unicode_ci'"},
}

func BenchmarkClassify(b *testing.B) {
	for _, bs := range benchStatements {
		sql := []byte(bs.sql)
		b.Run(bs.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(sql)))
			for b.Loop() {
				Classify(sql)
			}
		})
	}
}

func BenchmarkNormalize(b *testing.B) {
	for _, bs := range benchStatements {
		sql := []byte(bs.sql)
		b.Run(bs.name, func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 512)
			for b.Loop() {
				buf, _ = normalizeInto(buf[:0], sql)
			}
		})
	}
}

// BenchmarkRouteObserve is the router's whole per-statement cost on the
// proxy's COM_QUERY path: RouteQuery (classification, digest, rules,
// replica pick) and Observe (state, statistics). The "funcs" variants
// have a stored function set (the proxy sets one when the primary has
// stored functions).
func BenchmarkRouteObserve(b *testing.B) {
	benchRouteObserve(b, func(s *Session, sql []byte, snap *topology.Snapshot) Decision {
		_, d := s.RouteQuery(sql, snap, time.Now())
		return d
	})
}

// BenchmarkRouteObserveSplit is BenchmarkRouteObserve with Classify and
// Route called apart, as for a prepared statement's first execution.
func BenchmarkRouteObserveSplit(b *testing.B) {
	benchRouteObserve(b, func(s *Session, sql []byte, snap *topology.Snapshot) Decision {
		return s.Route(Classify(sql), sql, snap)
	})
}

func benchRouteObserve(b *testing.B, route func(*Session, []byte, *topology.Snapshot) Decision) {
	benchRouteObservePrep(b, func(sql []byte) routeFunc {
		return func(s *Session, snap *topology.Snapshot) Decision { return route(s, sql, snap) }
	})
}

// routeFunc routes one statement prepared by a benchRouteObservePrep prep.
type routeFunc func(*Session, *topology.Snapshot) Decision

// benchRouteObservePrep is benchRouteObserve with per-statement work done
// once, outside the timed loop, by prep.
func benchRouteObservePrep(b *testing.B, prep func(sql []byte) routeFunc) {
	snap := testSnap()
	for _, funcs := range []bool{false, true} {
		r, err := New(Config{MaxReplicaLag: 5 * time.Second}, nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		suffix := ""
		if funcs {
			r.SetStoredFunctions([]string{"log_visit", "f"})
			suffix = "_funcs"
		}
		for _, bs := range benchStatements[:3] {
			route := prep([]byte(bs.sql))
			b.Run(bs.name+suffix, func(b *testing.B) {
				b.ReportAllocs()
				s := r.NewSession("u", "")
				for b.Loop() {
					d := route(s, snap)
					s.Observe(Result{Target: d.Target, Backend: d.Backend, Status: StatusAutocommit, StatusKnown: true, Duration: time.Microsecond})
				}
			})
		}
	}
}

// BenchmarkRouteObserveParallel is BenchmarkRouteObserve from many
// sessions at once (shared balancer and statistics table).
func BenchmarkRouteObserveParallel(b *testing.B) {
	r, err := New(Config{MaxReplicaLag: 5 * time.Second}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	snap := testSnap()
	sql := []byte(benchStatements[0].sql)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		s := r.NewSession("u", "")
		for pb.Next() {
			_, d := s.RouteQuery(sql, snap, time.Now())
			s.Observe(Result{Target: d.Target, Backend: d.Backend, Status: StatusAutocommit, StatusKnown: true, Duration: time.Microsecond})
		}
	})
}

// BenchmarkClassifyDigest compares the fused pass (classification, digest
// and stored function check from one lexing, as RouteQuery does) with the
// separate passes Classify + normalizeInto + callsStored.
func BenchmarkClassifyDigest(b *testing.B) {
	r, err := New(Config{}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	r.SetStoredFunctions([]string{"log_visit", "f"})
	funcs := r.funcs.Load()
	for _, bs := range benchStatements {
		sql := []byte(bs.sql)
		buf := make([]byte, 0, 512)
		b.Run("fused/"+bs.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				lx := digestSink{sql: sql, dst: buf[:0], funcs: funcs}
				classifyWith(sql, &lx)
				buf, _ = lx.digest()
				lx.callsStored()
			}
		})
		b.Run("separate/"+bs.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Classify(sql)
				buf, _ = normalizeInto(buf[:0], sql)
				r.callsStored(sql)
			}
		})
	}
}

// BenchmarkRouteObserveExecute is the router's per-statement cost on the
// proxy's COM_STMT_EXECUTE path: the statement was classified at
// COM_STMT_PREPARE, and each execute routes its unchanged text: with
// Route (lexing it again) and with RoutePrepared.
func BenchmarkRouteObserveExecute(b *testing.B) {
	b.Run("Route", func(b *testing.B) {
		benchRouteObservePrep(b, func(sql []byte) routeFunc {
			st := Classify(sql)
			return func(s *Session, snap *topology.Snapshot) Decision {
				return s.Route(st, sql, snap)
			}
		})
	})
	b.Run("RoutePrepared", func(b *testing.B) {
		benchRouteObservePrep(b, func(sql []byte) routeFunc {
			p := Prepare(sql)
			return func(s *Session, snap *topology.Snapshot) Decision {
				return s.RoutePrepared(&p, 0, snap, time.Now())
			}
		})
	})
}
