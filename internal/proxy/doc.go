// Package proxy is Vigil's MySQL-protocol proxy: it accepts client
// connections, authenticates them itself (mysql_native_password against the
// configured users), and runs each statement on a backend chosen from the
// newest topology snapshot and, when a router is configured, by the
// read/write split policy of package router.
//
// # Shape
//
//   - Server (server.go): the listener, the set of live sessions, limits,
//     graceful Shutdown and Reload. Serve(l) runs until the listener closes.
//   - session (session*.go): one per client connection, on its own
//     goroutine. It owns up to two backend connections, one to the primary
//     and one to a replica, each borrowed from the pool for the life of the
//     session (returned reset with COM_CHANGE_USER when it ends), and keeps
//     the session commands (SET, USE...) to replay on a backend it starts
//     using.
//   - Responses are relayed raw by mysqlwire.Relay: rows and column
//     definitions are never decoded.
//   - loop (loop*.go, Config.DataPath "loop", the default): event loops on
//     threads of their own. Between commands a session's goroutine parks
//     and its loop watches the sockets; a COM_QUERY or EXECUTE that can run
//     on a connection the session holds, with an answer that fits a read
//     buffer, runs on the loop with the same code; anything else goes back
//     to the goroutine at the step it reached (loopBack).
//   - pipelines (pipeline.go, pipeio.go; Config.Pipelines, off by default):
//     a loop's shared backend connections on which independent reads of
//     different sessions go back to back, answers handed out in order.
//
// # Topology following
//
// Writes go to Snapshot.Primary of the newest snapshot of the
// topology.Source, and only after that backend connection answered
// read_only=OFF for the snapshot's epoch. While the snapshot names no
// primary (a failover runs), or the named primary is not reachable or still
// read-only, a statement that needs the primary waits up to
// Config.HoldTimeout for a newer snapshot. A session whose transaction,
// locks or temporary tables lived on a primary that is no longer the
// primary gets an error and is closed: nothing is silently replayed.
//
// # Failure behaviour
//
// A backend that fails mid-statement gives the client error 2013; the
// session continues on a new backend connection unless something pinned it
// (open transaction, locks, temporary tables, user variables), in which
// case the client connection is closed after the error, as a server crash
// would.
package proxy
