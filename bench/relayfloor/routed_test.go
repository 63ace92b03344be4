package main

import "testing"

// pkt frames payload as one MySQL packet.
func pkt(payload ...byte) []byte {
	n := len(payload)
	return append([]byte{byte(n), byte(n >> 8), byte(n >> 16), 0}, payload...)
}

func TestTrackFindsTheEndOfEachResponse(t *testing.T) {
	colDef := make([]byte, 20) // contents are not looked at
	row := []byte{3, 'a', 'b', 'c'}
	okPkt := func(hdr byte, status uint16) []byte {
		return pkt(hdr, 0, 0, byte(status), byte(status>>8), 0, 0)
	}
	eof := func(status uint16) []byte { return pkt(0xFE, 0, 0, byte(status), byte(status>>8)) }
	cat := func(ps ...[]byte) (b []byte) {
		for _, p := range ps {
			b = append(b, p...)
		}
		return b
	}
	cases := []struct {
		name    string
		deprEOF bool
		resp    []byte
		rows    uint64
		err     bool
	}{
		{"ok", false, okPkt(0x00, 2), 0, false},
		{"error", false, pkt(0xFF, 0x28, 0x04, '#'), 0, true},
		{"result set with EOFs", false, cat(pkt(1), pkt(colDef...), eof(2), pkt(row...), pkt(row...), eof(2)), 2, false},
		{"result set, deprecate EOF", true, cat(pkt(2), pkt(colDef...), pkt(colDef...), pkt(row...), okPkt(0xFE, 2)), 1, false},
		{"two results", true, cat(okPkt(0x00, 2|8), pkt(1), pkt(colDef...), pkt(row...), okPkt(0xFE, 2)), 1, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := &mysqlPair{deprEOF: c.deprEOF}
			var in []byte
			ends := 0
			// Feed one byte at a time: packets split across reads.
			for i := range c.resp {
				packets(&in, c.resp[i:i+1], func(pk []byte) {
					if ends > 0 {
						t.Fatalf("a packet after the end")
					}
					if p.track(pk) {
						ends++
					}
				})
			}
			if ends != 1 || len(in) != 0 {
				t.Fatalf("ends %d, %d bytes left", ends, len(in))
			}
			if p.res.Rows != c.rows || p.res.Err != c.err {
				t.Fatalf("rows %d err %v, want %d %v", p.res.Rows, p.res.Err, c.rows, c.err)
			}
		})
	}
}
