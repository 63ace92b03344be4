package mysqlwire

import (
	"encoding/binary"
	"fmt"
)

// SQLError is a MySQL error as carried by an ERR packet: the error number,
// the five-character SQLSTATE and the message. Every MySQL error that Vigil
// produces or relays is one of these.
type SQLError struct {
	Number  uint16
	State   string
	Message string
}

// Error implements error in the mysql client's format.
func (e *SQLError) Error() string {
	return fmt.Sprintf("ERROR %d (%s): %s", e.Number, e.State, e.Message)
}

// Errorf builds an SQLError with a formatted message.
func Errorf(number uint16, state, format string, args ...any) *SQLError {
	return &SQLError{Number: number, State: state, Message: fmt.Sprintf(format, args...)}
}

// Well-known error numbers used by the proxy.
const (
	ErUnknownComError      uint16 = 1047
	ErAccessDenied         uint16 = 1045
	ErConCount             uint16 = 1040
	ErTooManyUserConns     uint16 = 1203
	ErNoSuchThread         uint16 = 1094
	ErQueryInterrupted     uint16 = 1317
	ErOptionPreventsStmt   uint16 = 1290
	ErLockWaitTimeout      uint16 = 1205
	ErNetPacketTooLarge    uint16 = 1153
	ErNetReadError         uint16 = 1158
	ErHandshake            uint16 = 1043
	CrServerLost           uint16 = 2013
	CrServerGone           uint16 = 2006
	CrConnHostError        uint16 = 2003
	CrSSLConnectionError   uint16 = 2026
	ErConnectionKilled     uint16 = 1927
	ErUnknownError         uint16 = 1105
	ErNotSupportedAuthMode uint16 = 1251
)

// AppendERR appends the payload of an ERR packet for e (protocol 4.1 form).
func (e *SQLError) AppendERR(b []byte) []byte {
	b = append(b, iERR)
	b = binary.LittleEndian.AppendUint16(b, e.Number)
	state := e.State
	if len(state) != 5 {
		state = "HY000"
	}
	b = append(b, '#')
	b = append(b, state...)
	return append(b, e.Message...)
}

// ParseERR decodes an ERR packet payload (protocol 4.1 form, with or without
// the SQLSTATE marker).
func ParseERR(p []byte) (*SQLError, error) {
	if len(p) < 3 || p[0] != iERR {
		return nil, fmt.Errorf("ERR packet: %w", ErrMalformed)
	}
	e := &SQLError{Number: binary.LittleEndian.Uint16(p[1:]), State: "HY000"}
	rest := p[3:]
	if len(rest) >= 6 && rest[0] == '#' {
		e.State = string(rest[1:6])
		rest = rest[6:]
	}
	e.Message = string(rest)
	return e, nil
}
