// Package mysqlwire is Vigil's MySQL/MariaDB client/server protocol layer:
// packet framing (including 16 MiB continuation packets), the protocol-10
// handshake seen from both sides, mysql_native_password authentication,
// OK/ERR/EOF packets, and a streaming relay of command responses that
// decodes only packet headers and terminators, never rows.
//
// Everything a proxy needs to sit between a client and a server lives here;
// nothing here knows about topology, routing or pools. MySQL errors travel
// as one typed error, *SQLError.
//
// Conn is not safe for concurrent use: a session goroutine owns it.
package mysqlwire
