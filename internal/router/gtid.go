package router

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Position is a GTID position: for MariaDB a list of domain-server-seq
// (gtid_current_pos, last_gtid), for MySQL a GTID set (uuid:1-5:7,...).
// The zero Position is empty and covered by every position.
type Position struct {
	mysql   bool
	entries []posEntry
}

// posEntry is one replication stream: a MariaDB domain or a MySQL source uuid.
type posEntry struct {
	key    string      // MariaDB domain id or MySQL source uuid
	server uint64      // MariaDB server id of the last event
	seq    uint64      // highest sequence number / transaction number
	ivals  [][2]uint64 // MySQL only: executed intervals
}

// ParsePosition parses a GTID position of the given flavor ("mariadb" or
// "mysql"). Whitespace and newlines (as in gtid_executed) are ignored.
func ParsePosition(flavor, s string) (Position, error) {
	p := Position{mysql: flavor == "mysql"}
	s = strings.Join(strings.Fields(s), "")
	if s == "" {
		return p, nil
	}
	for _, part := range strings.Split(s, ",") {
		var e posEntry
		var err error
		if p.mysql {
			e, err = parseMySQLEntry(part)
		} else {
			e, err = parseMariaEntry(part)
		}
		if err != nil {
			return Position{}, fmt.Errorf("gtid %q: %w", part, err)
		}
		p = p.merge1(e)
	}
	return p, nil
}

func parseMariaEntry(s string) (posEntry, error) {
	f := strings.Split(s, "-")
	if len(f) != 3 {
		return posEntry{}, errors.New("want domain-server-seq")
	}
	var n [3]uint64
	for i, x := range f {
		v, err := strconv.ParseUint(x, 10, 64)
		if err != nil {
			return posEntry{}, fmt.Errorf("bad number %q", x)
		}
		n[i] = v
	}
	if n[0] > 1<<32-1 || n[1] > 1<<32-1 {
		return posEntry{}, errors.New("domain or server id out of range")
	}
	return posEntry{key: f[0], server: n[1], seq: n[2]}, nil
}

func parseMySQLEntry(s string) (posEntry, error) {
	f := strings.Split(s, ":")
	if len(f) < 2 || len(f[0]) != 36 {
		return posEntry{}, errors.New("want uuid:interval[:interval...]")
	}
	e := posEntry{key: strings.ToLower(f[0])}
	for _, iv := range f[1:] {
		lo, hi, ok := strings.Cut(iv, "-")
		a, err := strconv.ParseUint(lo, 10, 64)
		if err != nil {
			return posEntry{}, fmt.Errorf("bad interval %q", iv)
		}
		b := a
		if ok {
			if b, err = strconv.ParseUint(hi, 10, 64); err != nil || b < a {
				return posEntry{}, fmt.Errorf("bad interval %q", iv)
			}
		}
		e.ivals = append(e.ivals, [2]uint64{a, b})
		e.seq = max(e.seq, b)
	}
	return e, nil
}

// IsZero reports whether p is empty.
func (p Position) IsZero() bool { return len(p.entries) == 0 }

// Covers reports whether p includes every transaction of need: for MariaDB,
// each of need's domains is present in p with a sequence number at least as
// high; for MySQL, each of need's highest transaction numbers lies in p.
func (p Position) Covers(need Position) bool {
	for _, n := range need.entries {
		if n.seq == 0 {
			continue
		}
		h, ok := p.find(n.key)
		if !ok || !h.contains(p.mysql, n.seq) {
			return false
		}
	}
	return true
}

func (e posEntry) contains(mysql bool, seq uint64) bool {
	if !mysql {
		return e.seq >= seq
	}
	for _, iv := range e.ivals {
		if seq >= iv[0] && seq <= iv[1] {
			return true
		}
	}
	return false
}

func (p Position) find(key string) (posEntry, bool) {
	for _, e := range p.entries {
		if e.key == key {
			return e, true
		}
	}
	return posEntry{}, false
}

// Merge returns the highest position per stream of p and q (for the global
// causal mode). For MySQL only the highest transaction number per source
// is kept: the merged position is used as a "need", never as a "have".
func (p Position) Merge(q Position) Position {
	out := Position{mysql: p.mysql || q.mysql, entries: append([]posEntry(nil), p.entries...)}
	for _, e := range q.entries {
		out = out.merge1(e)
	}
	return out
}

// merge1 adds one entry in place (p.entries must be owned by the caller).
func (p Position) merge1(e posEntry) Position {
	for i := range p.entries {
		if p.entries[i].key != e.key {
			continue
		}
		cur := &p.entries[i]
		if e.seq > cur.seq {
			cur.seq, cur.server = e.seq, e.server
		}
		cur.ivals = append(cur.ivals, e.ivals...)
		return p
	}
	p.entries = append(p.entries, e)
	return p
}

// String formats p as a wait target: "d-s-n,..." (MariaDB) or
// "uuid:n,..." (MySQL, the highest transaction per source).
func (p Position) String() string {
	var b strings.Builder
	for i, e := range p.entries {
		if i > 0 {
			b.WriteByte(',')
		}
		if p.mysql {
			fmt.Fprintf(&b, "%s:%d", e.key, e.seq)
		} else {
			fmt.Fprintf(&b, "%s-%d-%d", e.key, e.server, e.seq)
		}
	}
	return b.String()
}
