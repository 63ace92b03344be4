package mysqlwire

import (
	"encoding/binary"
	"fmt"
)

// Session state change types (OK packet, CLIENT_SESSION_TRACK).
const (
	TrackSystemVariables byte = 0
	TrackSchema          byte = 1
	TrackStateChange     byte = 2
	TrackGTIDs           byte = 3
)

// OK is a decoded OK packet (or the OK-form terminator of a result set).
// Its byte slices alias the packet they were parsed from.
type OK struct {
	AffectedRows uint64
	InsertID     uint64
	Status       uint16
	Warnings     uint16
	// Info is the human-readable message ("Rows matched: ...").
	Info []byte
	// State is the raw session state change block (present only when the
	// packet was sent with CLIENT_SESSION_TRACK and Status has
	// StatusSessionStateChange).
	State []byte
}

// ParseOK decodes an OK packet payload (first byte 0x00 or 0xfe) sent to a
// connection with the given capabilities.
func ParseOK(p []byte, caps uint32) (OK, error) {
	var ok OK
	if len(p) < 1 || (p[0] != iOK && p[0] != iEOF) {
		return ok, fmt.Errorf("OK packet: %w", ErrMalformed)
	}
	i := 1
	var n int
	var err error
	if ok.AffectedRows, n, _, err = readLenenc(p[i:]); err != nil {
		return ok, fmt.Errorf("OK packet: %w", err)
	}
	i += n
	if ok.InsertID, n, _, err = readLenenc(p[i:]); err != nil {
		return ok, fmt.Errorf("OK packet: %w", err)
	}
	i += n
	if len(p) < i+4 {
		return ok, fmt.Errorf("OK packet: %w", ErrMalformed)
	}
	ok.Status = binary.LittleEndian.Uint16(p[i:])
	ok.Warnings = binary.LittleEndian.Uint16(p[i+2:])
	i += 4
	if i == len(p) {
		return ok, nil
	}
	if caps&CapSessionTrack == 0 {
		// The protocol documents string<EOF>, but servers (and libmysql,
		// mysqlnd) use a length-encoded string.
		if info, n, err := readLenencBytes(p[i:]); err == nil && i+n == len(p) {
			ok.Info = info
		} else {
			ok.Info = p[i:]
		}
		return ok, nil
	}
	if ok.Info, n, err = readLenencBytes(p[i:]); err != nil {
		return ok, fmt.Errorf("OK packet info: %w", err)
	}
	i += n
	if ok.Status&StatusSessionStateChange != 0 && i < len(p) {
		if ok.State, _, err = readLenencBytes(p[i:]); err != nil {
			return ok, fmt.Errorf("OK packet session state: %w", err)
		}
	}
	return ok, nil
}

// AppendOK appends the payload of an OK packet with header byte hdr (0x00,
// or 0xfe for a DEPRECATE_EOF terminator), encoded for a connection with
// caps. Without CapSessionTrack the state block and its status flag are
// dropped.
func (ok *OK) AppendOK(b []byte, hdr byte, caps uint32) []byte {
	b = append(b, hdr)
	b = appendLenenc(b, ok.AffectedRows)
	b = appendLenenc(b, ok.InsertID)
	status := ok.Status
	if caps&CapSessionTrack == 0 {
		status &^= StatusSessionStateChange
	}
	b = binary.LittleEndian.AppendUint16(b, status)
	b = binary.LittleEndian.AppendUint16(b, ok.Warnings)
	if caps&CapSessionTrack == 0 {
		if len(ok.Info) == 0 {
			return b
		}
		return appendLenencBytes(b, ok.Info)
	}
	if len(ok.Info) > 0 || (status&StatusSessionStateChange != 0 && len(ok.State) > 0) {
		b = appendLenencBytes(b, ok.Info)
	}
	if status&StatusSessionStateChange != 0 && len(ok.State) > 0 {
		b = appendLenencBytes(b, ok.State)
	}
	return b
}

// StateChange is one entry of an OK packet's session state block.
type StateChange struct {
	Type byte
	// Name is the variable name (TrackSystemVariables) or empty.
	Name []byte
	// Value is the variable value, the schema name, "1"/"0" for
	// TrackStateChange, or the raw data of other types.
	Value []byte
}

// EachStateChange calls fn for every entry of a session state block (OK.State)
// without allocating. It stops at the first malformed entry and returns the
// error.
func EachStateChange(state []byte, fn func(StateChange)) error {
	for len(state) > 0 {
		typ := state[0]
		data, n, err := readLenencBytes(state[1:])
		if err != nil {
			return fmt.Errorf("session state entry: %w", err)
		}
		state = state[1+n:]
		sc := StateChange{Type: typ}
		switch typ {
		case TrackSystemVariables:
			name, m, err := readLenencBytes(data)
			if err != nil {
				return fmt.Errorf("session state variable: %w", err)
			}
			val, _, err := readLenencBytes(data[m:])
			if err != nil {
				return fmt.Errorf("session state variable %s: %w", name, err)
			}
			sc.Name, sc.Value = name, val
		case TrackSchema, TrackStateChange:
			val, _, err := readLenencBytes(data)
			if err != nil {
				return fmt.Errorf("session state: %w", err)
			}
			sc.Value = val
		default:
			sc.Value = data
		}
		fn(sc)
	}
	return nil
}

// ParseEOF decodes a classic EOF packet payload (0xfe, warnings, status).
func ParseEOF(p []byte) (warnings, status uint16, err error) {
	if len(p) < 5 || p[0] != iEOF {
		return 0, 0, fmt.Errorf("EOF packet: %w", ErrMalformed)
	}
	return binary.LittleEndian.Uint16(p[1:]), binary.LittleEndian.Uint16(p[3:]), nil
}

// AppendEOF appends a classic EOF packet payload.
func AppendEOF(b []byte, warnings, status uint16) []byte {
	b = append(b, iEOF)
	b = binary.LittleEndian.AppendUint16(b, warnings)
	return binary.LittleEndian.AppendUint16(b, status)
}
