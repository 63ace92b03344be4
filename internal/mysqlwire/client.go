package mysqlwire

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"
)

// ClientCaps are the capabilities Vigil always asks a server for.
const ClientCaps = CapLongPassword | CapLongFlag | CapProtocol41 | CapTransactions |
	CapSecureConnection | CapPluginAuth | CapPluginAuthLenenc | CapMultiResults |
	CapPSMultiResults | CapSessionTrack | CapDeprecateEOF | CapConnectAttrs

// DialConfig says how to open and log into a server connection.
type DialConfig struct {
	// Addr is host:port.
	Addr string
	// User is the MySQL user to log in as.
	User string
	// Password is the clear-text password; used when Stage1 is nil.
	Password string
	// Stage1 is SHA1(password), e.g. recovered from a client's login.
	Stage1 []byte
	// DB is the default schema ("" for none).
	DB string
	// Caps are the capabilities wanted; they are intersected with the
	// server's. Zero means ClientCaps.
	Caps uint32
	// ExtCaps are the MariaDB extended capabilities wanted (ExtCacheMetadata
	// ...); they are intersected with the server's.
	ExtCaps uint32
	// Charset is the connection collation id (0: 45, utf8mb4_general_ci).
	Charset byte
	// Attrs is a raw connect-attributes block to send (optional).
	Attrs []byte
	// Timeout bounds connecting and logging in (0: 10s).
	Timeout time.Duration
	// TLS, when set and not off, secures the connection (SSL request
	// after the greeting). nil: plain TCP on the raw I/O path.
	TLS *ClientTLS
}

// ClientConn is a logged-in connection to a server.
type ClientConn struct {
	*Conn
	// Greeting is what the server announced (version, thread id, caps).
	Greeting *Greeting
	// Caps are the negotiated capabilities.
	Caps uint32
	// ExtCaps are the negotiated MariaDB extended capabilities.
	ExtCaps uint32
}

// Dial connects to cfg.Addr, upgrades to TLS as cfg.TLS says, and logs in
// with mysql_native_password. A server refusal is returned as *SQLError, a
// TLS failure that retrying will not fix as an error wrapping ErrTLS.
func Dial(ctx context.Context, cfg DialConfig) (*ClientConn, error) {
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", cfg.Addr, err)
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	if !cfg.TLS.enabled() {
		nc = Direct(nc) // a TLS connection keeps the ordinary path
	}
	deadline, _ := ctx.Deadline()
	_ = nc.SetDeadline(deadline)
	c := NewClientConn(nc)
	cc, err := login(c, cfg)
	if err != nil {
		c.Close() // the TLS connection, once upgraded
		return nil, fmt.Errorf("log into %s as %s: %w", cfg.Addr, cfg.User, err)
	}
	_ = cc.SetDeadline(time.Time{})
	return cc, nil
}

func login(c *Conn, cfg DialConfig) (*ClientConn, error) {
	p, err := c.ReadPacket()
	if err != nil {
		return nil, err
	}
	g, err := ParseGreeting(p)
	if err != nil {
		return nil, err
	}
	want := cfg.Caps
	if want == 0 {
		want = ClientCaps
	}
	want |= CapProtocol41 | CapSecureConnection | CapPluginAuth
	caps := want & g.Caps
	if cfg.DB != "" {
		caps |= CapConnectWithDB & g.Caps
	} else {
		caps &^= CapConnectWithDB
	}
	if len(cfg.Attrs) == 0 {
		caps &^= CapConnectAttrs
	}
	ext := cfg.ExtCaps & g.ExtCaps
	if ext != 0 {
		caps &^= CapLongPassword // else the server ignores ext
	}
	stage1, charset := cfg.credentials()
	if err := c.startTLS(cfg.TLS, cfg.Addr, g, caps, ext, charset); err != nil {
		return nil, err
	}
	sent := caps
	if c.tls {
		sent |= CapSSL
	}
	resp := HandshakeResponse{
		Caps: sent, MaxPacket: MaxPayload, Charset: charset, User: cfg.User,
		AuthData: NativeToken(stage1, g.Salt), DB: cfg.DB, Plugin: NativePassword, Attrs: cfg.Attrs,
		ExtCaps: ext,
	}
	if err := c.WritePacket(resp.AppendHandshakeResponse(nil)); err != nil {
		return nil, err
	}
	if err := c.Flush(); err != nil {
		return nil, err
	}
	if err := finishAuth(c, stage1); err != nil {
		return nil, err
	}
	return &ClientConn{Conn: c, Greeting: g, Caps: caps, ExtCaps: ext}, nil
}

// finishAuth reads the server's verdict, answering auth switch requests to
// mysql_native_password.
func finishAuth(c *Conn, stage1 []byte) error {
	for range 3 {
		p, err := c.ReadPacket()
		if err != nil {
			return err
		}
		switch {
		case len(p) == 0:
			return fmt.Errorf("empty auth reply: %w", ErrMalformed)
		case p[0] == iOK:
			return nil
		case p[0] == iERR:
			e, err := ParseERR(p)
			if err != nil {
				return err
			}
			return e
		case p[0] == iEOF:
			plugin, salt, err := ParseAuthSwitch(p)
			if err != nil {
				return err
			}
			if plugin != NativePassword {
				return fmt.Errorf("server asks for auth plugin %q: only %s is supported towards servers", plugin, NativePassword)
			}
			if err := c.WritePacket(NativeToken(stage1, salt)); err != nil {
				return err
			}
			if err := c.Flush(); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unexpected auth reply 0x%02x: %w", p[0], ErrMalformed)
		}
	}
	return errors.New("too many auth round trips")
}

// WriteCommand starts a new command: it writes payload with sequence 0 and
// flushes.
func (c *Conn) WriteCommand(payload []byte) error {
	c.ResetSeq()
	if err := c.WritePacket(payload); err != nil {
		return err
	}
	return c.Flush()
}

// Exec runs a statement that returns no rows and returns its OK packet's
// counters (the Info and State fields are not kept). Result sets are read
// and dropped.
func (c *ClientConn) Exec(query string) (OK, error) {
	var ok OK
	_, err := c.query(query, func(o OK) {
		ok = OK{AffectedRows: o.AffectedRows, InsertID: o.InsertID, Status: o.Status, Warnings: o.Warnings}
	})
	return ok, err
}

// Query runs a statement with the text protocol and returns the rows of
// its first result set, decoded. It is meant for small administrative
// queries, not for the data path.
func (c *ClientConn) Query(query string) ([][]sql.NullString, error) {
	return c.query(query, nil)
}

// Command runs a one-packet-answer command (COM_PING, COM_RESET_CONNECTION,
// COM_INIT_DB...) and returns its OK packet or *SQLError.
func (c *ClientConn) Command(payload []byte) (OK, error) {
	if err := c.WriteCommand(payload); err != nil {
		return OK{}, err
	}
	p, err := c.ReadPacket()
	if err != nil {
		return OK{}, err
	}
	return c.okOrErr(p)
}

func (c *ClientConn) okOrErr(p []byte) (OK, error) {
	if len(p) > 0 && p[0] == iERR {
		e, err := ParseERR(p)
		if err != nil {
			return OK{}, err
		}
		return OK{}, e
	}
	return ParseOK(p, c.Caps)
}

// credentials returns the password's SHA1 stage (from Stage1, else
// Password; nil for no password) and the collation id (Charset, 45 when 0).
func (cfg DialConfig) credentials() (stage1 []byte, charset byte) {
	stage1 = cfg.Stage1
	if stage1 == nil && cfg.Password != "" {
		stage1 = Stage1(cfg.Password)
	}
	charset = cfg.Charset
	if charset == 0 {
		charset = 45
	}
	return stage1, charset
}

// ChangeUser resets the connection with COM_CHANGE_USER and logs in again
// as cfg.User with cfg.DB and cfg.Charset (cfg.Addr, Caps and Timeout are
// ignored). All session state of the previous user is dropped by the
// server; a pool uses this to hand a connection to another session.
func (c *ClientConn) ChangeUser(cfg DialConfig) error {
	stage1, charset := cfg.credentials()
	token := NativeToken(stage1, c.Greeting.Salt)
	b := make([]byte, 0, 64+len(cfg.User)+len(cfg.DB)+len(cfg.Attrs))
	b = append(b, ComChangeUser)
	b = append(b, cfg.User...)
	b = append(b, 0, byte(len(token)))
	b = append(b, token...)
	b = append(b, cfg.DB...)
	b = append(b, 0, charset, 0)
	b = append(b, NativePassword...)
	b = append(b, 0)
	if c.Caps&CapConnectAttrs != 0 {
		b = appendLenencBytes(b, cfg.Attrs)
	}
	if err := c.WriteCommand(b); err != nil {
		return err
	}
	return finishAuth(c.Conn, stage1)
}

// Prepare prepares query on the server (COM_STMT_PREPARE) and returns the
// server's statement id. The parameter and column definitions are read and
// dropped.
func (c *ClientConn) Prepare(query []byte) (uint32, error) {
	cmd := make([]byte, 0, 1+len(query))
	cmd = append(cmd, ComStmtPrepare)
	cmd = append(cmd, query...)
	if err := c.WriteCommand(cmd); err != nil {
		return 0, err
	}
	p, err := c.ReadPacket()
	if err != nil {
		return 0, err
	}
	if len(p) > 0 && p[0] == iERR {
		e, err := ParseERR(p)
		if err != nil {
			return 0, err
		}
		return 0, e
	}
	if len(p) < 12 || p[0] != iOK {
		return 0, fmt.Errorf("prepare answer: %w", ErrMalformed)
	}
	id := binary.LittleEndian.Uint32(p[1:])
	for _, n := range []uint16{binary.LittleEndian.Uint16(p[7:]), binary.LittleEndian.Uint16(p[5:])} {
		if n == 0 {
			continue
		}
		skip := int(n)
		if c.Caps&CapDeprecateEOF == 0 {
			skip++
		}
		for range skip {
			if _, err := c.ReadPacket(); err != nil {
				return 0, err
			}
		}
	}
	return id, nil
}
