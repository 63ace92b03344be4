package failover

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"vigil/internal/topology"
)

// ReplicaState is a fresh reading of one replica taken by the engine while
// failing over (after its IO thread was stopped).
type ReplicaState struct {
	Name string
	// Err is why the replica could not be read ("" when it could).
	Err string
	// Received is what the replica has received (Gtid_IO_Pos merged with
	// what it executed); Executed is gtid_current_pos.
	Received, Executed topology.GTIDPos
	// SQLErrno is the SQL thread's last error (0: none).
	SQLErrno int
	SQLError string
	// Lag is Seconds_Behind_Master (-1 unknown).
	Lag    time.Duration
	LogBin bool
}

// Choice is the chosen candidate and why the others were not.
type Choice struct {
	Name string
	// Ranked lists the eligible replicas, best first.
	Ranked []string
	// Excluded maps ineligible replicas to the reason.
	Excluded map[string]string
}

// ErrNoCandidate means no replica can be promoted.
var ErrNoCandidate = errors.New("no replica can be promoted")

// Choose picks the replica to promote: eligible replicas (reachable, SQL
// thread without error, binary log on, not marked "never", lag within
// maxLag when maxLag > 0) ranked by the most advanced received position,
// then the most advanced executed position, then preference ("prefer"
// first), then the order given. If want is not empty it must be eligible and
// is chosen. pref maps names to "prefer" or "never".
func Choose(reps []ReplicaState, pref map[string]string, maxLag time.Duration, want string) (Choice, error) {
	ch := Choice{Excluded: map[string]string{}}
	var ok []ReplicaState
	for _, r := range reps {
		if why := ineligible(r, pref[r.Name], maxLag); why != "" {
			ch.Excluded[r.Name] = why
			continue
		}
		ok = append(ok, r)
	}
	sort.SliceStable(ok, func(i, j int) bool { return better(ok[i], ok[j], pref) })
	for _, r := range ok {
		ch.Ranked = append(ch.Ranked, r.Name)
	}
	if want != "" {
		if why, bad := ch.Excluded[want]; bad {
			return ch, fmt.Errorf("%s cannot be promoted: %s", want, why)
		}
		for _, r := range ok {
			if r.Name == want {
				ch.Name = want
				return ch, nil
			}
		}
		return ch, fmt.Errorf("%s is not a replica of the cluster", want)
	}
	if len(ok) == 0 {
		return ch, fmt.Errorf("%w: %s", ErrNoCandidate, describe(ch.Excluded))
	}
	ch.Name = ok[0].Name
	return ch, nil
}

func ineligible(r ReplicaState, pref string, maxLag time.Duration) string {
	switch {
	case r.Err != "":
		return "unreachable: " + r.Err
	case pref == "never":
		return "candidate: never"
	case r.SQLErrno != 0:
		return fmt.Sprintf("SQL thread error %d: %s", r.SQLErrno, r.SQLError)
	case !r.LogBin:
		return "binary log is off"
	case maxLag > 0 && (r.Lag < 0 || r.Lag > maxLag):
		return fmt.Sprintf("lag %v beyond %v", r.Lag, maxLag)
	}
	return ""
}

// better reports whether a should be promoted rather than b.
func better(a, b ReplicaState, pref map[string]string) bool {
	if c := a.Received.Compare(b.Received); c != 0 {
		return c > 0
	}
	if ta, tb := a.Received.Total(), b.Received.Total(); ta != tb {
		return ta > tb
	}
	if c := a.Executed.Compare(b.Executed); c != 0 {
		return c > 0
	}
	if ta, tb := a.Executed.Total(), b.Executed.Total(); ta != tb {
		return ta > tb
	}
	return pref[a.Name] == "prefer" && pref[b.Name] != "prefer"
}

func describe(m map[string]string) string {
	if len(m) == 0 {
		return "there are no replicas"
	}
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + ": " + m[n]
	}
	return strings.Join(parts, "; ")
}

// MergePos returns the per-domain maximum of a and b.
func MergePos(a, b topology.GTIDPos) topology.GTIDPos {
	out := topology.GTIDPos{}
	for d, g := range a {
		out[d] = g
	}
	for d, g := range b {
		if g.Seq > out[d].Seq {
			out[d] = g
		}
	}
	return out
}
