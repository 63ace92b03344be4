package topology

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// GTID is one MariaDB global transaction id: domain-server-sequence.
type GTID struct {
	Domain   uint32
	ServerID uint32
	Seq      uint64
}

// String formats g as MariaDB does: "0-1-42".
func (g GTID) String() string {
	return fmt.Sprintf("%d-%d-%d", g.Domain, g.ServerID, g.Seq)
}

// GTIDPos is a MariaDB GTID position (gtid_binlog_pos, gtid_slave_pos,
// gtid_current_pos, Gtid_IO_Pos): the last GTID of each replication domain.
// The zero value is the empty position. A GTIDPos is a value; do not mutate
// the map of one you did not build.
type GTIDPos map[uint32]GTID

// ParseGTIDPos parses a comma separated MariaDB position such as
// "0-1-100,1-2-7". Whitespace around elements is ignored; an empty string is
// the empty position. A domain listed twice is an error.
func ParseGTIDPos(s string) (GTIDPos, error) {
	pos := GTIDPos{}
	s = strings.TrimSpace(s)
	if s == "" {
		return pos, nil
	}
	for _, part := range strings.Split(s, ",") {
		g, err := parseGTID(strings.TrimSpace(part))
		if err != nil {
			return nil, err
		}
		if _, dup := pos[g.Domain]; dup {
			return nil, fmt.Errorf("gtid position %q: domain %d listed twice", s, g.Domain)
		}
		pos[g.Domain] = g
	}
	return pos, nil
}

func parseGTID(s string) (GTID, error) {
	f := strings.Split(s, "-")
	if len(f) != 3 {
		return GTID{}, fmt.Errorf("gtid %q: want domain-server-seq", s)
	}
	d, err1 := strconv.ParseUint(f[0], 10, 32)
	sid, err2 := strconv.ParseUint(f[1], 10, 32)
	seq, err3 := strconv.ParseUint(f[2], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return GTID{}, fmt.Errorf("gtid %q: want three unsigned numbers", s)
	}
	return GTID{Domain: uint32(d), ServerID: uint32(sid), Seq: seq}, nil
}

// String formats the position with domains in ascending order, as MariaDB
// prints it.
func (p GTIDPos) String() string {
	doms := make([]uint32, 0, len(p))
	for d := range p {
		doms = append(doms, d)
	}
	sort.Slice(doms, func(i, j int) bool { return doms[i] < doms[j] })
	parts := make([]string, len(doms))
	for i, d := range doms {
		parts[i] = p[d].String()
	}
	return strings.Join(parts, ",")
}

// Contains reports whether p has everything q has: in every domain of q, p
// has a sequence number at least as high. MariaDB sequence numbers grow
// monotonically per domain under gtid_strict_mode, which the sandbox and
// production configuration use.
func (p GTIDPos) Contains(q GTIDPos) bool {
	for d, g := range q {
		if g.Seq == 0 {
			continue
		}
		if p[d].Seq < g.Seq {
			return false
		}
	}
	return true
}

// Equal reports whether p and q name the same sequence in every domain.
func (p GTIDPos) Equal(q GTIDPos) bool {
	return p.Contains(q) && q.Contains(p)
}

// Compare orders positions for candidate choice: it returns +1 when p is
// ahead of q (contains it and is not equal), -1 when behind, and 0 when equal
// or when they diverge (neither contains the other).
func (p GTIDPos) Compare(q GTIDPos) int {
	pc, qc := p.Contains(q), q.Contains(p)
	switch {
	case pc && !qc:
		return 1
	case qc && !pc:
		return -1
	}
	return 0
}

// Total is the sum of sequence numbers over all domains: a rough
// "how far" used only to break ties between diverging positions.
func (p GTIDPos) Total() uint64 {
	var t uint64
	for _, g := range p {
		t += g.Seq
	}
	return t
}

// Extra returns the GTIDs of p that q does not contain: for each domain where
// p is ahead, p's last GTID. Used to report errant transactions.
func (p GTIDPos) Extra(q GTIDPos) []GTID {
	var out []GTID
	for d, g := range p {
		if g.Seq > q[d].Seq {
			out = append(out, g)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Domain < out[j].Domain })
	return out
}
