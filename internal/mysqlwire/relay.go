package mysqlwire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Response is the shape of a command's response, which tells the relay how
// to find its end.
type Response int

// Response shapes.
const (
	// RespResult: OK, ERR, LOCAL INFILE request, or result sets (COM_QUERY,
	// COM_STMT_EXECUTE), repeated while SERVER_MORE_RESULTS_EXISTS is set.
	RespResult Response = iota
	// RespPrepare: COM_STMT_PREPARE's OK with parameter and column definitions.
	RespPrepare
	// RespRows: rows up to a terminator (COM_STMT_FETCH, COM_FIELD_LIST).
	RespRows
	// RespOne: a single packet (COM_PING, COM_INIT_DB, COM_STATISTICS...).
	RespOne
)

// Errors wrapped by Relay to say which side failed.
var (
	ErrServerIO = errors.New("server connection failed")
	ErrClientIO = errors.New("client connection failed")
)

// Summary describes a relayed response.
type Summary struct {
	// Status is the status flags of the last OK or EOF packet.
	Status uint16
	// HaveStatus reports whether Status was seen.
	HaveStatus   bool
	AffectedRows uint64
	InsertID     uint64
	Warnings     uint16
	// Err is the server's error, when the response ended with an ERR packet.
	Err *SQLError
	// StmtID, Columns and Params come from a COM_STMT_PREPARE answer.
	StmtID  uint32
	Columns uint16
	Params  uint16
	// Sent reports whether any packet was written to the client (a failed
	// statement can be retried elsewhere only if nothing was sent).
	Sent bool
}

// Relay streams command responses from a server connection to a client
// connection as raw packets. Only headers, the first byte of each packet and
// OK/ERR/EOF packets are decoded; rows and column definitions are copied by
// length. Memory is bounded by the two connections' buffers; a slow client
// slows the server read (backpressure through TCP).
//
// When the server connection negotiated CLIENT_SESSION_TRACK and the client
// did not, OK packets are re-encoded without the session state block, so
// that Vigil sees state changes (e.g. last_gtid) that the client never asked
// for.
type Relay struct {
	Server     *Conn // a NewClientConn connection
	Client     *Conn // a NewServerConn connection
	ServerCaps uint32
	ClientCaps uint32
	// Track, if set, is called for every session state change in the
	// server's OK packets. Its argument aliases the read buffer.
	Track func(StateChange)
	// StmtID, if not zero, replaces the statement id of a COM_STMT_PREPARE
	// answer on its way to the client (the proxy numbers statements itself;
	// Summary.StmtID keeps the server's).
	StmtID uint32
	// CacheMetadata: both connections negotiated ExtCacheMetadata, so a
	// column-count packet carries a metadata-follows byte.
	CacheMetadata bool
	scratch       []byte
	sum           Summary
}

// Relay copies the response to the command just sent to the server and
// returns what it learned. The client buffer is flushed before return.
// Errors wrap ErrServerIO or ErrClientIO (I/O) or ErrMalformed.
func (r *Relay) Relay(kind Response) (Summary, error) {
	r.sum = Summary{}
	var err error
	switch kind {
	case RespResult:
		err = r.results()
	case RespPrepare:
		err = r.prepare()
	case RespRows:
		_, err = r.rows()
	case RespOne:
		err = r.one()
	}
	if ferr := r.Client.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("%w: %w", ErrClientIO, ferr)
	}
	return r.sum, err
}

// peek returns the length of the next packet and as much of its payload as
// the read buffer holds (all of it for packets under 32 KiB). It flushes the
// client before blocking on the server.
func (r *Relay) peek() (int, []byte, error) {
	br := r.Server.br
	if br.Buffered() < 4 {
		if err := r.flushClient(); err != nil {
			return 0, nil, err
		}
	}
	h, err := br.Peek(4)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %w", ErrServerIO, err)
	}
	n := int(h[0]) | int(h[1])<<8 | int(h[2])<<16
	want := min(4+n, br.Size())
	if br.Buffered() < want {
		if err := r.flushClient(); err != nil {
			return 0, nil, err
		}
	}
	p, err := br.Peek(want)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %w", ErrServerIO, err)
	}
	return n, p[4:], nil
}

func (r *Relay) flushClient() error {
	if r.Client.bw == nil || r.Client.bw.Buffered() == 0 {
		return nil
	}
	if err := r.Client.bw.Flush(); err != nil {
		return fmt.Errorf("%w: %w", ErrClientIO, err)
	}
	return nil
}

// copyRaw forwards n bytes from the server's reader to the client's writer.
func (r *Relay) copyRaw(n int) error {
	br, w := r.Server.br, r.Client.writer()
	r.sum.Sent = true
	for n > 0 {
		if br.Buffered() == 0 {
			if err := r.flushClient(); err != nil {
				return err
			}
			if _, err := br.Peek(1); err != nil {
				return fmt.Errorf("%w: %w", ErrServerIO, err)
			}
		}
		k := min(n, br.Buffered())
		b, _ := br.Peek(k)
		if _, err := w.Write(b); err != nil {
			return fmt.Errorf("%w: %w", ErrClientIO, err)
		}
		_, _ = br.Discard(k)
		n -= k
	}
	return nil
}

// forward copies one logical packet (with its continuations) whose first
// fragment has payload length n.
func (r *Relay) forward(n int) error {
	for {
		seq, err := r.Server.br.Peek(4)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrServerIO, err)
		}
		r.Client.seq = seq[3] + 1
		if err := r.copyRaw(4 + n); err != nil {
			return err
		}
		if n < MaxPayload {
			return nil
		}
		if n, _, err = r.peek(); err != nil {
			return err
		}
	}
}

// next forwards the next packet without looking at it.
func (r *Relay) next() error {
	n, _, err := r.peek()
	if err != nil {
		return err
	}
	return r.forward(n)
}

func (r *Relay) results() error {
	for {
		n, p, err := r.peek()
		if err != nil {
			return err
		}
		var more bool
		switch {
		case len(p) == 0:
			return fmt.Errorf("empty response packet: %w", ErrMalformed)
		case p[0] == iERR:
			return r.err(n, p)
		case p[0] == iOK:
			more, err = r.ok(n, p, iOK)
		case p[0] == iLocalInfile:
			err = r.localInfile(n)
			more = true // the server's OK/ERR follows
		default:
			more, err = r.resultSet(n, p)
		}
		if err != nil || !more {
			return err
		}
	}
}

// resultSet relays one result set whose column-count packet is next and
// reports whether more results follow.
func (r *Relay) resultSet(n int, p []byte) (bool, error) {
	ncol, k, _, err := readLenenc(p)
	if err != nil || ncol == 0 || ncol > 1<<16 || (r.CacheMetadata && len(p) <= k) {
		return false, fmt.Errorf("column count: %w", ErrMalformed)
	}
	if r.CacheMetadata && p[k] == 0 {
		ncol = 0 // the client has this statement's column definitions
	}
	if err := r.forward(n); err != nil {
		return false, err
	}
	for range ncol {
		if err := r.next(); err != nil {
			return false, err
		}
	}
	if r.ServerCaps&CapDeprecateEOF == 0 {
		n, p, err := r.peek()
		if err != nil {
			return false, err
		}
		st, err := r.status(n, p)
		if err != nil {
			return false, err
		}
		if err := r.forward(n); err != nil {
			return false, err
		}
		if st&StatusCursorExists != 0 {
			return st&StatusMoreResults != 0, nil
		}
	}
	return r.rows()
}

// rows relays rows up to and including the terminator (or an ERR) and
// reports whether more results follow.
func (r *Relay) rows() (bool, error) {
	for {
		n, p, err := r.peek()
		if err != nil {
			return false, err
		}
		switch {
		case len(p) == 0:
			err = r.forward(n)
		case p[0] == iERR && n < MaxPayload:
			return false, r.err(n, p)
		case isTerminator(p[0], n):
			if r.ServerCaps&CapDeprecateEOF != 0 {
				return r.ok(n, p, iEOF)
			}
			st, err := r.status(n, p)
			if err != nil {
				return false, err
			}
			return st&StatusMoreResults != 0, r.forward(n)
		default:
			err = r.forward(n)
		}
		if err != nil {
			return false, err
		}
	}
}

// status decodes an EOF packet's flags into the summary.
func (r *Relay) status(n int, p []byte) (uint16, error) {
	if len(p) < n {
		return 0, fmt.Errorf("EOF packet: %w", ErrMalformed)
	}
	w, st, err := ParseEOF(p[:n])
	if err != nil {
		return 0, err
	}
	r.sum.Status, r.sum.HaveStatus, r.sum.Warnings = st, true, w
	return st, nil
}

func (r *Relay) err(n int, p []byte) error {
	if len(p) >= n {
		if e, err := ParseERR(p[:n]); err == nil {
			r.sum.Err = e
		}
	}
	return r.forward(n)
}

// ok handles an OK packet (header hdr: 0x00, or 0xfe as a terminator),
// rewriting it for a client without session tracking, and reports whether
// more results follow.
func (r *Relay) ok(n int, p []byte, hdr byte) (bool, error) {
	if len(p) < n {
		return false, fmt.Errorf("OK packet over %d bytes: %w", len(p), ErrMalformed)
	}
	ok, err := ParseOK(p[:n], r.ServerCaps)
	if err != nil {
		return false, err
	}
	r.sum.Status, r.sum.HaveStatus = ok.Status, true
	r.sum.AffectedRows, r.sum.InsertID, r.sum.Warnings = ok.AffectedRows, ok.InsertID, ok.Warnings
	if r.Track != nil && len(ok.State) > 0 {
		if err := EachStateChange(ok.State, r.Track); err != nil {
			return false, err
		}
	}
	more := ok.Status&StatusMoreResults != 0
	strip := r.ServerCaps&CapSessionTrack != 0 && r.ClientCaps&CapSessionTrack == 0
	if !strip || (len(ok.Info) == 0 && ok.Status&StatusSessionStateChange == 0) {
		return more, r.forward(n)
	}
	out := ok.AppendOK(r.scratch[:0], hdr, r.ClientCaps)
	r.scratch = out
	h, _ := r.Server.br.Peek(4)
	hdr4 := [4]byte{byte(len(out)), byte(len(out) >> 8), byte(len(out) >> 16), h[3]}
	r.Client.seq = h[3] + 1
	w := r.Client.writer()
	r.sum.Sent = true
	if _, err := w.Write(hdr4[:]); err != nil {
		return false, fmt.Errorf("%w: %w", ErrClientIO, err)
	}
	if _, err := w.Write(out); err != nil {
		return false, fmt.Errorf("%w: %w", ErrClientIO, err)
	}
	_, _ = r.Server.br.Discard(4 + n)
	return more, nil
}

func (r *Relay) one() error {
	n, p, err := r.peek()
	if err != nil {
		return err
	}
	switch {
	case len(p) > 0 && p[0] == iERR:
		return r.err(n, p)
	case len(p) > 0 && p[0] == iOK && n < 4096:
		_, err := r.ok(n, p, iOK)
		return err
	default:
		return r.forward(n)
	}
}

func (r *Relay) prepare() error {
	n, p, err := r.peek()
	if err != nil {
		return err
	}
	if len(p) > 0 && p[0] == iERR {
		return r.err(n, p)
	}
	if len(p) < 12 || n < 12 || p[0] != iOK {
		return fmt.Errorf("prepare answer: %w", ErrMalformed)
	}
	r.sum.StmtID = binary.LittleEndian.Uint32(p[1:])
	r.sum.Columns = binary.LittleEndian.Uint16(p[5:])
	r.sum.Params = binary.LittleEndian.Uint16(p[7:])
	r.sum.Warnings = binary.LittleEndian.Uint16(p[10:])
	if r.StmtID != 0 {
		// p aliases the read buffer, which forward copies from next.
		binary.LittleEndian.PutUint32(p[1:], r.StmtID)
	}
	if err := r.forward(n); err != nil {
		return err
	}
	for _, count := range []uint16{r.sum.Params, r.sum.Columns} {
		if count == 0 {
			continue
		}
		for range count {
			if err := r.next(); err != nil {
				return err
			}
		}
		if r.ServerCaps&CapDeprecateEOF == 0 {
			if err := r.next(); err != nil {
				return err
			}
		}
	}
	return nil
}

// localInfile forwards the server's LOCAL INFILE request, then the client's
// file packets up to the empty one.
func (r *Relay) localInfile(n int) error {
	if err := r.forward(n); err != nil {
		return err
	}
	if err := r.flushClient(); err != nil {
		return err
	}
	nc, w := r.Client.br, r.Server.bw
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(nc, hdr[:]); err != nil {
			return fmt.Errorf("%w: %w", ErrClientIO, err)
		}
		size := int64(hdr[0]) | int64(hdr[1])<<8 | int64(hdr[2])<<16
		if _, err := w.Write(hdr[:]); err != nil {
			return fmt.Errorf("%w: %w", ErrServerIO, err)
		}
		if _, err := io.CopyN(w, nc, size); err != nil {
			return fmt.Errorf("%w: %w", ErrClientIO, err)
		}
		if size == 0 {
			break
		}
	}
	r.Client.seq = hdr[3] + 1
	if err := w.Flush(); err != nil {
		return fmt.Errorf("%w: %w", ErrServerIO, err)
	}
	return nil
}
