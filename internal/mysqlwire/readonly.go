package mysqlwire

import "bytes"

// NextIsErr reports whether the next packet c reads is an ERR packet,
// reading (not consuming) its first bytes: a cheap test before
// TakeReadOnlyRefusal.
func (c *Conn) NextIsErr() bool {
	h, err := c.br.Peek(5) // an answer's first packet is never empty
	return err == nil && h[4] == 0xff
}

// TakeReadOnlyRefusal reads the first packet of the answer to the command
// just sent on c. When it is the server refusing the statement because it
// runs read-only (ERR 1290 naming the read-only option: nothing of the
// statement ran), it consumes the packet and returns true, so the caller
// can run the statement elsewhere; otherwise the packet stays for the
// relay. It reports false, consuming nothing, when the packet cannot be
// read (the relay meets that error again).
func (c *Conn) TakeReadOnlyRefusal() bool {
	if !c.NextIsErr() {
		return false
	}
	h, _ := c.br.Peek(4)
	n := int(h[0]) | int(h[1])<<8 | int(h[2])<<16
	if n < 9 || n > 1024 || c.br.Size() < 4+n {
		return false
	}
	p, err := c.br.Peek(4 + n)
	if err != nil || !isReadOnlyRefusal(p[4:]) {
		return false
	}
	_, _ = c.br.Discard(4 + n)
	return true
}

// isReadOnlyRefusal reports whether ERR packet payload p is error 1290
// about --read-only (MariaDB) or --super-read-only (MySQL), as opposed to
// 1290 for other options (--secure-file-priv, --skip-grant-tables).
func isReadOnlyRefusal(p []byte) bool {
	if len(p) < 9 || p[0] != 0xff || uint16(p[1])|uint16(p[2])<<8 != ErOptionPreventsStmt {
		return false
	}
	return bytes.Contains(p[3:], []byte("read-only")) || bytes.Contains(p[3:], []byte("read_only"))
}
