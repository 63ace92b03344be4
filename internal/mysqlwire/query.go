package mysqlwire

import (
	"database/sql"
	"fmt"
)

// query runs a text-protocol statement, returns the decoded rows of the
// first result set and calls onOK (if not nil) with each OK packet. The OK
// passed to onOK aliases the read buffer.
func (c *ClientConn) query(q string, onOK func(OK)) ([][]sql.NullString, error) {
	cmd := make([]byte, 0, 1+len(q))
	cmd = append(cmd, ComQuery)
	cmd = append(cmd, q...)
	if err := c.WriteCommand(cmd); err != nil {
		return nil, err
	}
	var rows [][]sql.NullString
	first := true
	for {
		p, err := c.ReadPacket()
		if err != nil {
			return nil, err
		}
		if len(p) == 0 {
			return nil, fmt.Errorf("empty response: %w", ErrMalformed)
		}
		var status uint16
		switch p[0] {
		case iERR:
			e, err := ParseERR(p)
			if err != nil {
				return nil, err
			}
			return nil, e
		case iOK:
			ok, err := ParseOK(p, c.Caps)
			if err != nil {
				return nil, err
			}
			if onOK != nil {
				onOK(ok)
			}
			status = ok.Status
		case iLocalInfile:
			return nil, fmt.Errorf("LOCAL INFILE requested by an administrative query")
		default:
			rs, st, err := c.readTextRows(p)
			if err != nil {
				return nil, err
			}
			if first {
				rows = rs
			}
			first = false
			status = st
		}
		if status&StatusMoreResults == 0 {
			return rows, nil
		}
	}
}

// readTextRows reads a text result set whose column-count packet is p and
// returns its rows and the terminator's status flags.
func (c *ClientConn) readTextRows(p []byte) ([][]sql.NullString, uint16, error) {
	ncol, k, _, err := readLenenc(p)
	if err != nil {
		return nil, 0, err
	}
	if c.ExtCaps&ExtCacheMetadata != 0 && len(p) > k && p[k] == 0 {
		ncol = 0 // no column definitions follow
	}
	for range ncol {
		if _, err := c.ReadPacket(); err != nil {
			return nil, 0, err
		}
	}
	if c.Caps&CapDeprecateEOF == 0 {
		if _, err := c.ReadPacket(); err != nil {
			return nil, 0, err
		}
	}
	var rows [][]sql.NullString
	for {
		p, err := c.ReadPacket()
		if err != nil {
			return nil, 0, err
		}
		if len(p) > 0 && p[0] == iERR {
			e, err := ParseERR(p)
			if err != nil {
				return nil, 0, err
			}
			return nil, 0, e
		}
		if len(p) > 0 && isTerminator(p[0], len(p)) {
			st, err := terminatorStatus(p, c.Caps)
			return rows, st, err
		}
		row := make([]sql.NullString, 0, ncol)
		for range ncol {
			v, n, null, err := readLenenc(p)
			if err != nil {
				return nil, 0, err
			}
			if null {
				row = append(row, sql.NullString{})
				p = p[n:]
				continue
			}
			if v > uint64(len(p)-n) {
				return nil, 0, fmt.Errorf("row value: %w", ErrMalformed)
			}
			row = append(row, sql.NullString{String: string(p[n : n+int(v)]), Valid: true})
			p = p[n+int(v):]
		}
		rows = append(rows, row)
	}
}

// terminatorStatus returns the status flags of an EOF packet or of an
// OK-form terminator (CLIENT_DEPRECATE_EOF).
func terminatorStatus(p []byte, caps uint32) (uint16, error) {
	if caps&CapDeprecateEOF != 0 {
		ok, err := ParseOK(p, caps)
		return ok.Status, err
	}
	_, st, err := ParseEOF(p)
	return st, err
}
