package mysqlwire

import (
	"encoding/binary"
	"errors"
)

// MaxPayload is the largest payload of one packet; a payload of exactly this
// length is continued by the next packet.
const MaxPayload = 1<<24 - 1

// Command bytes (the first payload byte of a client command packet).
const (
	ComQuit             byte = 0x01
	ComInitDB           byte = 0x02
	ComQuery            byte = 0x03
	ComFieldList        byte = 0x04
	ComStatistics       byte = 0x09
	ComProcessKill      byte = 0x0c
	ComPing             byte = 0x0e
	ComChangeUser       byte = 0x11
	ComStmtPrepare      byte = 0x16
	ComStmtExecute      byte = 0x17
	ComStmtSendLongData byte = 0x18
	ComStmtClose        byte = 0x19
	ComStmtReset        byte = 0x1a
	ComSetOption        byte = 0x1b
	ComStmtFetch        byte = 0x1c
	ComResetConnection  byte = 0x1f
)

// Capability flags.
const (
	CapLongPassword     uint32 = 1 << 0
	CapFoundRows        uint32 = 1 << 1
	CapLongFlag         uint32 = 1 << 2
	CapConnectWithDB    uint32 = 1 << 3
	CapNoSchema         uint32 = 1 << 4
	CapCompress         uint32 = 1 << 5
	CapODBC             uint32 = 1 << 6
	CapLocalFiles       uint32 = 1 << 7
	CapIgnoreSpace      uint32 = 1 << 8
	CapProtocol41       uint32 = 1 << 9
	CapInteractive      uint32 = 1 << 10
	CapSSL              uint32 = 1 << 11
	CapIgnoreSigpipe    uint32 = 1 << 12
	CapTransactions     uint32 = 1 << 13
	CapReserved         uint32 = 1 << 14
	CapSecureConnection uint32 = 1 << 15
	CapMultiStatements  uint32 = 1 << 16
	CapMultiResults     uint32 = 1 << 17
	CapPSMultiResults   uint32 = 1 << 18
	CapPluginAuth       uint32 = 1 << 19
	CapConnectAttrs     uint32 = 1 << 20
	CapPluginAuthLenenc uint32 = 1 << 21
	CapExpiredPasswords uint32 = 1 << 22
	CapSessionTrack     uint32 = 1 << 23
	CapDeprecateEOF     uint32 = 1 << 24
)

// MariaDB extended capabilities (bits 32-63 of the capability set, carried
// in otherwise unused handshake bytes when CapLongPassword, which MariaDB
// calls CLIENT_MYSQL, is not set).
const (
	// ExtCacheMetadata (MARIADB_CLIENT_CACHE_METADATA, MariaDB 10.6+): a
	// column-count packet carries a metadata-follows byte, and the server
	// leaves out column definitions of a prepared statement's result that
	// the client already has.
	ExtCacheMetadata uint32 = 1 << 4
)

// ProxyExtCaps are the MariaDB extended capabilities Vigil relays.
const ProxyExtCaps = ExtCacheMetadata

// ProxyCaps are the capabilities Vigil implements on its front end; the
// handshake offers these intersected with the backend's.
const ProxyCaps = CapLongPassword | CapFoundRows | CapLongFlag | CapConnectWithDB |
	CapLocalFiles | CapIgnoreSpace | CapProtocol41 | CapInteractive |
	CapIgnoreSigpipe | CapTransactions | CapSecureConnection | CapMultiStatements |
	CapMultiResults | CapPSMultiResults | CapPluginAuth | CapConnectAttrs |
	CapPluginAuthLenenc | CapSessionTrack | CapDeprecateEOF

// Server status flags (in OK and EOF packets).
const (
	StatusInTrans            uint16 = 0x0001
	StatusAutocommit         uint16 = 0x0002
	StatusMoreResults        uint16 = 0x0008
	StatusCursorExists       uint16 = 0x0040
	StatusLastRowSent        uint16 = 0x0080
	StatusInTransReadOnly    uint16 = 0x2000
	StatusSessionStateChange uint16 = 0x4000
)

// First payload bytes of response packets.
const (
	iOK          byte = 0x00
	iLocalInfile byte = 0xfb
	iEOF         byte = 0xfe
	iERR         byte = 0xff
)

// ErrMalformed is wrapped by every error about a packet that cannot be parsed.
var ErrMalformed = errors.New("malformed packet")

// isTerminator reports whether a packet of the given length whose first
// payload byte is first ends a row or column-definition stream: an EOF packet,
// or with CLIENT_DEPRECATE_EOF an OK packet with the 0xfe header. A text row
// can start with 0xfe only as the prefix of a value of 16 MiB or more, whose
// packet is therefore MaxPayload long.
func isTerminator(first byte, length int) bool {
	return first == iEOF && length < MaxPayload
}

// readLenenc decodes a length-encoded integer at b[0:]. It returns the value,
// the number of bytes used, and whether the value is the NULL marker (0xfb).
func readLenenc(b []byte) (v uint64, n int, null bool, err error) {
	if len(b) == 0 {
		return 0, 0, false, ErrMalformed
	}
	switch c := b[0]; {
	case c < 0xfb:
		return uint64(c), 1, false, nil
	case c == 0xfb:
		return 0, 1, true, nil
	case c == 0xfc:
		if len(b) < 3 {
			return 0, 0, false, ErrMalformed
		}
		return uint64(binary.LittleEndian.Uint16(b[1:])), 3, false, nil
	case c == 0xfd:
		if len(b) < 4 {
			return 0, 0, false, ErrMalformed
		}
		return uint64(b[1]) | uint64(b[2])<<8 | uint64(b[3])<<16, 4, false, nil
	case c == 0xfe:
		if len(b) < 9 {
			return 0, 0, false, ErrMalformed
		}
		return binary.LittleEndian.Uint64(b[1:]), 9, false, nil
	default:
		return 0, 0, false, ErrMalformed
	}
}

// readLenencBytes decodes a length-encoded string at b[0:] and returns it
// (aliasing b) and the number of bytes used.
func readLenencBytes(b []byte) ([]byte, int, error) {
	v, n, _, err := readLenenc(b)
	if err != nil {
		return nil, 0, err
	}
	if v > uint64(len(b)-n) {
		return nil, 0, ErrMalformed
	}
	return b[n : n+int(v)], n + int(v), nil
}

// appendLenenc appends v as a length-encoded integer.
func appendLenenc(b []byte, v uint64) []byte {
	switch {
	case v < 0xfb:
		return append(b, byte(v))
	case v < 1<<16:
		return append(b, 0xfc, byte(v), byte(v>>8))
	case v < 1<<24:
		return append(b, 0xfd, byte(v), byte(v>>8), byte(v>>16))
	default:
		b = append(b, 0xfe)
		return binary.LittleEndian.AppendUint64(b, v)
	}
}

// appendLenencBytes appends s as a length-encoded string.
func appendLenencBytes(b, s []byte) []byte {
	b = appendLenenc(b, uint64(len(s)))
	return append(b, s...)
}

// readNul returns the NUL-terminated string at b[0:] (without the NUL) and
// the number of bytes used including the NUL.
func readNul(b []byte) ([]byte, int, error) {
	for i, c := range b {
		if c == 0 {
			return b[:i], i + 1, nil
		}
	}
	return nil, 0, ErrMalformed
}
