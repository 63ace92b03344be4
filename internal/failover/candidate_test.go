package failover

import (
	"errors"
	"testing"
	"time"

	"vigil/internal/topology"
)

func rs(name, recv, exec string) ReplicaState {
	r, _ := topology.ParseGTIDPos(recv)
	e, _ := topology.ParseGTIDPos(exec)
	return ReplicaState{Name: name, Received: r, Executed: e, LogBin: true, Lag: 0}
}

func TestChoose(t *testing.T) {
	broken := rs("db4", "0-1-200", "0-1-200")
	broken.SQLErrno, broken.SQLError = 1062, "duplicate key"
	lagging := rs("db5", "0-1-300", "0-1-10")
	lagging.Lag = time.Minute
	down := ReplicaState{Name: "db6", Err: "refused"}
	cases := []struct {
		name   string
		reps   []ReplicaState
		pref   map[string]string
		maxLag time.Duration
		want   string
		to     string
		err    bool
	}{
		{name: "most received wins over most executed", reps: []ReplicaState{rs("db2", "0-1-10", "0-1-10"), rs("db3", "0-1-12", "0-1-9")}, want: "db3"},
		{name: "executed breaks a tie", reps: []ReplicaState{rs("db2", "0-1-12", "0-1-10"), rs("db3", "0-1-12", "0-1-11")}, want: "db3"},
		{name: "prefer breaks a full tie", reps: []ReplicaState{rs("db2", "0-1-12", "0-1-12"), rs("db3", "0-1-12", "0-1-12")},
			pref: map[string]string{"db3": "prefer"}, want: "db3"},
		{name: "prefer does not beat data", reps: []ReplicaState{rs("db2", "0-1-13", "0-1-13"), rs("db3", "0-1-12", "0-1-12")},
			pref: map[string]string{"db3": "prefer"}, want: "db2"},
		{name: "never is excluded", reps: []ReplicaState{rs("db2", "0-1-13", "0-1-13"), rs("db3", "0-1-12", "0-1-12")},
			pref: map[string]string{"db2": "never"}, want: "db3"},
		{name: "broken, lagging and down are excluded", reps: []ReplicaState{broken, lagging, down, rs("db2", "0-1-5", "0-1-5")},
			maxLag: 10 * time.Second, want: "db2"},
		{name: "config order on equal", reps: []ReplicaState{rs("db2", "0-1-5", "0-1-5"), rs("db3", "0-1-5", "0-1-5")}, want: "db2"},
		{name: "operator choice", reps: []ReplicaState{rs("db2", "0-1-5", "0-1-5"), rs("db3", "0-1-4", "0-1-4")}, to: "db3", want: "db3"},
		{name: "operator choice ineligible", reps: []ReplicaState{rs("db2", "0-1-5", "0-1-5"), down}, to: "db6", err: true},
		{name: "nobody", reps: []ReplicaState{down}, err: true},
	}
	for _, c := range cases {
		got, err := Choose(c.reps, c.pref, c.maxLag, c.to)
		if (err != nil) != c.err {
			t.Errorf("%s: got error %v, want error %v", c.name, err, c.err)
			continue
		}
		if err == nil && got.Name != c.want {
			t.Errorf("%s: got %s (ranked %v, excluded %v), want %s", c.name, got.Name, got.Ranked, got.Excluded, c.want)
		}
	}
	if _, err := Choose([]ReplicaState{down}, nil, 0, ""); !errors.Is(err, ErrNoCandidate) {
		t.Errorf("no candidate: got %v, want ErrNoCandidate", err)
	}
}

func TestStateRoundTrip(t *testing.T) {
	path := t.TempDir() + "/state.json"
	st, err := LoadState(path)
	if err != nil || st.Epoch != 0 {
		t.Fatalf("missing file: got %+v, %v; want zero state", st, err)
	}
	st.Epoch, st.Primary, st.Detached["db1"] = 7, "db2", "0-1-5"
	if err := SaveState(path, st); err != nil {
		t.Fatal(err)
	}
	got, err := LoadState(path)
	if err != nil || got.Epoch != 7 || got.Primary != "db2" || got.Detached["db1"] != "0-1-5" {
		t.Fatalf("got %+v, %v; want epoch 7 primary db2 detached db1", got, err)
	}
}
