package mysqlwire

import (
	"encoding/binary"
	"fmt"
)

// Greeting is the server's initial handshake packet (protocol version 10).
type Greeting struct {
	ServerVersion string
	ConnID        uint32
	Salt          []byte // 20 bytes
	Caps          uint32
	Charset       byte
	Status        uint16
	Plugin        string
	// ExtCaps are MariaDB extended capabilities (ExtCacheMetadata...),
	// present only when Caps lacks CapLongPassword.
	ExtCaps uint32
}

// AppendGreeting appends the greeting payload. ExtCaps are written only
// when Caps lacks CapLongPassword (a MariaDB server).
func (g *Greeting) AppendGreeting(b []byte) []byte {
	b = append(b, 10)
	b = append(b, g.ServerVersion...)
	b = append(b, 0)
	b = binary.LittleEndian.AppendUint32(b, g.ConnID)
	b = append(b, g.Salt[:8]...)
	b = append(b, 0)
	b = binary.LittleEndian.AppendUint16(b, uint16(g.Caps))
	b = append(b, g.Charset)
	b = binary.LittleEndian.AppendUint16(b, g.Status)
	b = binary.LittleEndian.AppendUint16(b, uint16(g.Caps>>16))
	b = append(b, byte(len(g.Salt)+1))
	b = append(b, make([]byte, 6)...)
	b = binary.LittleEndian.AppendUint32(b, extCaps(g.Caps, g.ExtCaps))
	b = append(b, g.Salt[8:]...)
	b = append(b, 0)
	b = append(b, g.Plugin...)
	return append(b, 0)
}

// ParseGreeting decodes a server's initial handshake packet. An ERR packet
// (e.g. "too many connections") is returned as *SQLError.
func ParseGreeting(p []byte) (*Greeting, error) {
	if len(p) > 0 && p[0] == iERR {
		e, err := ParseERR(p)
		if err != nil {
			return nil, err
		}
		return nil, e
	}
	if len(p) < 1 || p[0] != 10 {
		return nil, fmt.Errorf("greeting: protocol version not 10: %w", ErrMalformed)
	}
	g := &Greeting{}
	ver, n, err := readNul(p[1:])
	if err != nil {
		return nil, fmt.Errorf("greeting version: %w", err)
	}
	g.ServerVersion = string(ver)
	i := 1 + n
	if len(p) < i+4+8+1+2 {
		return nil, fmt.Errorf("greeting: %w", ErrMalformed)
	}
	g.ConnID = binary.LittleEndian.Uint32(p[i:])
	salt := append([]byte(nil), p[i+4:i+12]...)
	i += 13
	g.Caps = uint32(binary.LittleEndian.Uint16(p[i:]))
	i += 2
	if len(p) < i+1+2+2+1+10 {
		g.Salt = salt
		return g, nil
	}
	g.Charset = p[i]
	g.Status = binary.LittleEndian.Uint16(p[i+1:])
	g.Caps |= uint32(binary.LittleEndian.Uint16(p[i+3:])) << 16
	saltLen := int(p[i+5])
	g.ExtCaps = extCaps(g.Caps, binary.LittleEndian.Uint32(p[i+12:]))
	i += 6 + 10
	if g.Caps&CapSecureConnection != 0 {
		n := max(13, saltLen-8)
		if len(p) < i+n {
			return nil, fmt.Errorf("greeting salt: %w", ErrMalformed)
		}
		part := p[i : i+n]
		if part[len(part)-1] == 0 {
			part = part[:len(part)-1]
		}
		salt = append(salt, part...)
		i += n
	}
	g.Salt = salt
	if g.Caps&CapPluginAuth != 0 && i < len(p) {
		name, _, err := readNul(p[i:])
		if err != nil {
			name = p[i:]
		}
		g.Plugin = string(name)
	}
	return g, nil
}

// HandshakeResponse is the client's answer to the greeting.
type HandshakeResponse struct {
	Caps       uint32
	MaxPacket  uint32
	Charset    byte
	User       string
	AuthData   []byte
	DB         string
	Plugin     string
	Attrs      []byte // raw connect attributes block (without its length)
	SSLRequest bool   // the packet was a short SSL request
	ExtCaps    uint32 // MariaDB extended capabilities (see Greeting.ExtCaps)
}

// ParseHandshakeResponse decodes a protocol-4.1 handshake response.
func ParseHandshakeResponse(p []byte) (*HandshakeResponse, error) {
	if len(p) < 32 {
		return nil, fmt.Errorf("handshake response: %w", ErrMalformed)
	}
	r := &HandshakeResponse{
		Caps:      binary.LittleEndian.Uint32(p),
		MaxPacket: binary.LittleEndian.Uint32(p[4:]),
		Charset:   p[8],
	}
	r.ExtCaps = extCaps(r.Caps, binary.LittleEndian.Uint32(p[28:]))
	if r.Caps&CapProtocol41 == 0 {
		return nil, fmt.Errorf("handshake response: pre-4.1 protocol not supported: %w", ErrMalformed)
	}
	if len(p) == 32 && r.Caps&CapSSL != 0 {
		r.SSLRequest = true
		return r, nil
	}
	i := 32
	user, n, err := readNul(p[i:])
	if err != nil {
		return nil, fmt.Errorf("handshake response user: %w", err)
	}
	r.User = string(user)
	i += n
	switch {
	case r.Caps&CapPluginAuthLenenc != 0:
		r.AuthData, n, err = readLenencBytes(p[i:])
	case r.Caps&CapSecureConnection != 0:
		if i >= len(p) || i+1+int(p[i]) > len(p) {
			err = ErrMalformed
		} else {
			r.AuthData, n = p[i+1:i+1+int(p[i])], 1+int(p[i])
		}
	default:
		r.AuthData, n, err = readNul(p[i:])
	}
	if err != nil {
		return nil, fmt.Errorf("handshake response auth data: %w", err)
	}
	r.AuthData = append([]byte(nil), r.AuthData...)
	i += n
	return r, r.parseTail(p[i:])
}

func (r *HandshakeResponse) parseTail(p []byte) error {
	if r.Caps&CapConnectWithDB != 0 && len(p) > 0 {
		db, n, err := readNul(p)
		if err != nil {
			return fmt.Errorf("handshake response db: %w", err)
		}
		r.DB = string(db)
		p = p[n:]
	}
	if r.Caps&CapPluginAuth != 0 && len(p) > 0 {
		name, n, err := readNul(p)
		if err != nil {
			name, n = p, len(p)
		}
		r.Plugin = string(name)
		p = p[n:]
	}
	if r.Caps&CapConnectAttrs != 0 && len(p) > 0 {
		attrs, _, err := readLenencBytes(p)
		if err != nil {
			return fmt.Errorf("handshake response attrs: %w", err)
		}
		r.Attrs = append([]byte(nil), attrs...)
	}
	return nil
}

// AppendHandshakeResponse appends the payload of r (protocol 4.1 form).
func (r *HandshakeResponse) AppendHandshakeResponse(b []byte) []byte {
	b = r.appendFixed(b)
	b = append(b, r.User...)
	b = append(b, 0)
	switch {
	case r.Caps&CapPluginAuthLenenc != 0:
		b = appendLenencBytes(b, r.AuthData)
	default:
		b = append(b, byte(len(r.AuthData)))
		b = append(b, r.AuthData...)
	}
	if r.Caps&CapConnectWithDB != 0 {
		b = append(b, r.DB...)
		b = append(b, 0)
	}
	if r.Caps&CapPluginAuth != 0 {
		b = append(b, r.Plugin...)
		b = append(b, 0)
	}
	if r.Caps&CapConnectAttrs != 0 {
		b = appendLenencBytes(b, r.Attrs)
	}
	return b
}

// AppendAuthSwitch appends an auth switch request asking the client to
// answer with plugin over salt.
func AppendAuthSwitch(b []byte, plugin string, salt []byte) []byte {
	b = append(b, iEOF)
	b = append(b, plugin...)
	b = append(b, 0)
	b = append(b, salt...)
	return append(b, 0)
}

// ParseAuthSwitch decodes an auth switch request (first byte 0xfe).
func ParseAuthSwitch(p []byte) (plugin string, salt []byte, err error) {
	if len(p) < 2 || p[0] != iEOF {
		return "", nil, fmt.Errorf("auth switch: %w", ErrMalformed)
	}
	name, n, err := readNul(p[1:])
	if err != nil {
		return "", nil, fmt.Errorf("auth switch plugin: %w", err)
	}
	salt = p[1+n:]
	if len(salt) > 0 && salt[len(salt)-1] == 0 {
		salt = salt[:len(salt)-1]
	}
	return string(name), append([]byte(nil), salt...), nil
}

// ChangeUser is a decoded COM_CHANGE_USER packet.
type ChangeUser struct {
	User     string
	AuthData []byte
	DB       string
	Charset  uint16
	Plugin   string
	Attrs    []byte
}

// ParseChangeUser decodes COM_CHANGE_USER for a client with caps.
func ParseChangeUser(p []byte, caps uint32) (*ChangeUser, error) {
	if len(p) < 2 || p[0] != ComChangeUser {
		return nil, fmt.Errorf("change user: %w", ErrMalformed)
	}
	cu := &ChangeUser{}
	user, n, err := readNul(p[1:])
	if err != nil {
		return nil, fmt.Errorf("change user name: %w", err)
	}
	cu.User = string(user)
	i := 1 + n
	if caps&CapSecureConnection != 0 {
		if i >= len(p) || i+1+int(p[i]) > len(p) {
			return nil, fmt.Errorf("change user auth: %w", ErrMalformed)
		}
		cu.AuthData = append([]byte(nil), p[i+1:i+1+int(p[i])]...)
		i += 1 + int(p[i])
	} else {
		a, n, err := readNul(p[i:])
		if err != nil {
			return nil, fmt.Errorf("change user auth: %w", err)
		}
		cu.AuthData = append([]byte(nil), a...)
		i += n
	}
	db, n, err := readNul(p[i:])
	if err != nil {
		return nil, fmt.Errorf("change user db: %w", err)
	}
	cu.DB = string(db)
	i += n
	if len(p) >= i+2 {
		cu.Charset = binary.LittleEndian.Uint16(p[i:])
		i += 2
	}
	if caps&CapPluginAuth != 0 && i < len(p) {
		name, n, err := readNul(p[i:])
		if err != nil {
			name, n = p[i:], len(p)-i
		}
		cu.Plugin = string(name)
		i += n
	}
	if caps&CapConnectAttrs != 0 && i < len(p) {
		if attrs, _, err := readLenencBytes(p[i:]); err == nil {
			cu.Attrs = append([]byte(nil), attrs...)
		}
	}
	return cu, nil
}

// appendFixed appends the response's fixed 32-byte start, which is also a
// whole SSL request: capabilities, maximum packet, collation, filler and
// the MariaDB extended capabilities.
func (r *HandshakeResponse) appendFixed(b []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, r.Caps)
	b = binary.LittleEndian.AppendUint32(b, r.MaxPacket)
	b = append(b, r.Charset)
	b = append(b, make([]byte, 19)...)
	return binary.LittleEndian.AppendUint32(b, extCaps(r.Caps, r.ExtCaps))
}

// extCaps is ext when caps lacks CapLongPassword (CLIENT_MYSQL): MariaDB
// peers read the extended capabilities only then.
func extCaps(caps, ext uint32) uint32 {
	if caps&CapLongPassword != 0 {
		return 0
	}
	return ext
}
