package mysqlwire

import "encoding/binary"

// ResultScan is what ScanResult found in a buffer.
type ResultScan int

const (
	ScanIncomplete ResultScan = iota // more bytes are needed
	ScanComplete                     // the buffer starts with a whole RespResult response
	ScanStream                       // Relay must handle it while reading: LOCAL INFILE request, a packet of MaxPayload or more, or a malformed packet
)

// ScanResult reports whether b starts with a whole response of shape RespResult (as Relay.Relay(RespResult)
// would read it with the given serverCaps and CacheMetadata setting), and if so how many bytes it spans.
//
// It follows Relay.results packet by packet, decoding only headers, first
// payload bytes, column counts and the status flags of OK and EOF packets, so
// that an event loop can tell cheaply (no allocation) when a buffered response
// can be relayed in one go. The length is 0 unless the result is ScanComplete;
// bytes after the response are ignored. A packet is examined only once it is
// whole in b, except that a header announcing MaxPayload or more is
// ScanStream at once. ScanComplete does not promise that Relay succeeds: it
// still rejects, for instance, an OK packet whose info or session state block
// is malformed, or a packet larger than its read buffer.
func ScanResult(b []byte, serverCaps uint32, cacheMetadata bool) (ResultScan, int) {
	return scanResult(b, serverCaps, cacheMetadata, nil)
}

// scanResult is ScanResult; w, if not nil, is shown every OK, EOF and ERR
// packet that ends a result or result set (see RelayWhole).
func scanResult(b []byte, serverCaps uint32, cacheMetadata bool, w *wholeSummary) (ResultScan, int) {
	i := 0
	for {
		p, end, r := scanPacket(b, i)
		if r != ScanComplete {
			return r, 0
		}
		var more bool
		switch {
		case len(p) == 0:
			return ScanStream, 0
		case p[0] == iERR:
			w.err(p)
			return ScanComplete, end
		case p[0] == iOK:
			st, ok := scanOKStatus(p)
			if !ok {
				return ScanStream, 0
			}
			w.ok(p, serverCaps)
			more, i = st&StatusMoreResults != 0, end
		case p[0] == iLocalInfile:
			return ScanStream, 0
		default:
			if r, i, more = scanResultSet(b, end, p, serverCaps, cacheMetadata, w); r != ScanComplete {
				return r, 0
			}
		}
		if !more {
			return ScanComplete, i
		}
	}
}

// scanResultSet follows one result set whose column-count payload is p and
// whose column definitions start at b[i:]. With ScanComplete it returns where
// the result set ends and whether more results follow.
func scanResultSet(b []byte, i int, p []byte, serverCaps uint32, cacheMetadata bool, w *wholeSummary) (ResultScan, int, bool) {
	ncol, k, _, err := readLenenc(p)
	if err != nil || ncol == 0 || ncol > 1<<16 || (cacheMetadata && len(p) <= k) {
		return ScanStream, 0, false
	}
	if cacheMetadata && p[k] == 0 {
		ncol = 0 // the client has this statement's column definitions
	}
	for range ncol {
		_, end, r := scanPacket(b, i)
		if r != ScanComplete {
			return r, 0, false
		}
		i = end
	}
	deprecateEOF := serverCaps&CapDeprecateEOF != 0
	if !deprecateEOF {
		p, end, r := scanPacket(b, i)
		if r != ScanComplete {
			return r, 0, false
		}
		st, ok := scanEOFStatus(p)
		if !ok {
			return ScanStream, 0, false
		}
		w.eof(p)
		i = end
		if st&StatusCursorExists != 0 {
			return ScanComplete, i, st&StatusMoreResults != 0
		}
	}
	for {
		p, end, r := scanPacket(b, i)
		if r != ScanComplete {
			return r, 0, false
		}
		i = end
		switch {
		case len(p) == 0: // a row
		case p[0] == iERR: // scanPacket let through only packets under MaxPayload
			w.err(p)
			return ScanComplete, i, false
		case isTerminator(p[0], len(p)):
			var st uint16
			var ok bool
			if deprecateEOF {
				st, ok = scanOKStatus(p)
			} else {
				st, ok = scanEOFStatus(p)
			}
			if !ok {
				return ScanStream, 0, false
			}
			if deprecateEOF {
				w.ok(p, serverCaps)
			} else {
				w.eof(p)
			}
			return ScanComplete, i, st&StatusMoreResults != 0
		}
	}
}

// scanPacket returns the payload of the packet at b[i:] and where the packet
// ends, with ScanComplete; ScanIncomplete if b does not hold it all, or
// ScanStream if its header announces MaxPayload or more (a continued packet).
func scanPacket(b []byte, i int) ([]byte, int, ResultScan) {
	if len(b)-i < 4 {
		return nil, 0, ScanIncomplete
	}
	n := int(b[i]) | int(b[i+1])<<8 | int(b[i+2])<<16
	if n >= MaxPayload {
		return nil, 0, ScanStream
	}
	end := i + 4 + n
	if end > len(b) {
		return nil, 0, ScanIncomplete
	}
	return b[i+4 : end], end, ScanComplete
}

// scanOKStatus returns the status flags of an OK payload (first byte 0x00 or
// 0xfe), with ParseOK's checks up to the warnings count.
func scanOKStatus(p []byte) (uint16, bool) {
	i := 1
	for range 2 { // affected rows, insert id
		_, k, _, err := readLenenc(p[i:])
		if err != nil {
			return 0, false
		}
		i += k
	}
	if len(p) < i+4 {
		return 0, false
	}
	return binary.LittleEndian.Uint16(p[i:]), true
}

// scanEOFStatus returns the status flags of an EOF payload, with ParseEOF's
// checks.
func scanEOFStatus(p []byte) (uint16, bool) {
	if len(p) < 5 || p[0] != iEOF {
		return 0, false
	}
	return binary.LittleEndian.Uint16(p[3:]), true
}
