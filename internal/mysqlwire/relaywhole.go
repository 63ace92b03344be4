package mysqlwire

import "fmt"

// RelayWhole relays an answer to COM_QUERY or COM_STMT_EXECUTE that
// ScanResult found whole in the first n bytes of the server's read buffer.
// When no OK packet in it carries session state or an info string (the
// common case: then there is nothing to track or to strip), the bytes go to
// the client as they are, in one write and without a copy through the
// client's buffer, and the summary comes from the OK, EOF and ERR packets
// that ScanResult's walk passes; otherwise it is Relay(RespResult).
func (r *Relay) RelayWhole(n int) (Summary, error) {
	b, err := r.Server.br.Peek(n)
	if err != nil || (r.Client.bw != nil && r.Client.bw.Buffered() > 0) {
		return r.Relay(RespResult)
	}
	w := wholeSummary{plain: true}
	if res, m := scanResult(b, r.ServerCaps, r.CacheMetadata, &w); res != ScanComplete || m != n || !w.plain {
		return r.Relay(RespResult)
	}
	w.sum.Sent = true
	r.Client.seq = lastSeq(b) + 1
	_, err = r.Client.nc.Write(b)
	_, _ = r.Server.br.Discard(n)
	if err != nil {
		return w.sum, fmt.Errorf("%w: %w", ErrClientIO, err)
	}
	return w.sum, nil
}

// wholeSummary collects what Relay would learn from an answer's OK, EOF
// and ERR packets; plain is cleared by an OK packet that Relay would have to
// re-encode or report to Track. Its methods do nothing on a nil receiver
// (ScanResult's own walk).
type wholeSummary struct {
	sum   Summary
	plain bool
}

func (w *wholeSummary) ok(p []byte, serverCaps uint32) {
	if w == nil {
		return
	}
	ok, err := ParseOK(p, serverCaps)
	if err != nil || ok.Status&StatusSessionStateChange != 0 || len(ok.Info) > 0 || len(ok.State) > 0 {
		w.plain = false
		return
	}
	w.sum.Status, w.sum.HaveStatus = ok.Status, true
	w.sum.AffectedRows, w.sum.InsertID, w.sum.Warnings = ok.AffectedRows, ok.InsertID, ok.Warnings
}

func (w *wholeSummary) eof(p []byte) {
	if w == nil {
		return
	}
	warnings, st, err := ParseEOF(p)
	if err != nil {
		w.plain = false
		return
	}
	w.sum.Status, w.sum.HaveStatus, w.sum.Warnings = st, true, warnings
}

func (w *wholeSummary) err(p []byte) {
	if w == nil {
		return
	}
	if e, err := ParseERR(p); err == nil {
		w.sum.Err = e
	}
}

// lastSeq returns the sequence number of the last packet in b, which holds
// whole packets.
func lastSeq(b []byte) byte {
	var seq byte
	for i := 0; i+4 <= len(b); {
		n := int(b[i]) | int(b[i+1])<<8 | int(b[i+2])<<16
		seq = b[i+3]
		i += 4 + n
	}
	return seq
}
