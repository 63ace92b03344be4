package sandbox

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"vigil/internal/config"
)

// stateFile is DIR/sandbox.json: what Open needs to find a cluster again.
// It holds passwords, so it is written with mode 0600.
const stateFile = "sandbox.json"

type state struct {
	Replicas     int                `json:"replicas"`
	SemiSync     bool               `json:"semisync"`
	TLS          bool               `json:"tls,omitempty"`
	Bootstrapped bool               `json:"bootstrapped"`
	Ports        []int              `json:"ports"`
	Database     string             `json:"database"`
	App          config.Credentials `json:"app"`
	Admin        config.Credentials `json:"admin"`
	Replication  config.Credentials `json:"replication"`
}

func readState(dir string) (*state, error) {
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, err
	}
	var s state
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, stateFile), err)
	}
	return &s, nil
}

func writeState(dir string, s *state) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, stateFile), data, 0o600)
}

// writeFileAtomic writes data to path through a temporary file and rename.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp, perm); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Exists reports whether dir holds a sandbox whose creation finished (Up
// then starts it as it is, whatever creation options it is given).
func Exists(dir string) bool {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	st, err := readState(abs)
	return err == nil && st.Bootstrapped
}
