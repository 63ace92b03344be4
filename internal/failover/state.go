package failover

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// State is what the engine persists so that a restarted manager never goes
// back in epochs and knows which servers it demoted. Written atomically
// (temp file, fsync, rename) before every publication of a new epoch.
type State struct {
	Epoch   uint64 `json:"epoch"`
	Primary string `json:"primary"`
	// SemiSync records that the cluster runs semi-sync replication.
	SemiSync bool `json:"semisync"`
	// Op is the operation in progress ("" when none); OpFrom its old primary.
	Op     string `json:"op,omitempty"`
	OpFrom string `json:"op_from,omitempty"`
	// LastFailover is when the last automatic or forced failover finished;
	// zero once acknowledged.
	LastFailover time.Time `json:"last_failover,omitzero"`
	// Detached are demoted primaries waiting to rejoin: name -> the new
	// primary's GTID position when it was promoted (the fork point).
	Detached map[string]string `json:"detached,omitempty"`
	// Quarantined are servers kept out: name -> reason.
	Quarantined map[string]string `json:"quarantined,omitempty"`
}

func (s *State) clone() State {
	c := *s
	c.Detached = cloneMap(s.Detached)
	c.Quarantined = cloneMap(s.Quarantined)
	return c
}

func cloneMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// LoadState reads path; a missing file is the zero state.
func LoadState(path string) (State, error) {
	st := State{}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return State{Detached: map[string]string{}, Quarantined: map[string]string{}}, nil
	}
	if err != nil {
		return st, fmt.Errorf("read state: %w", err)
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return st, fmt.Errorf("state file %s: %w", path, err)
	}
	if st.Detached == nil {
		st.Detached = map[string]string{}
	}
	if st.Quarantined == nil {
		st.Quarantined = map[string]string{}
	}
	return st, nil
}

// SaveState writes st to path atomically.
func SaveState(path string, st State) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".state-*")
	if err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	return nil
}
