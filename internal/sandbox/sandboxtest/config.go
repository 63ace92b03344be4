package sandboxtest

import (
	"os"
	"testing"

	"vigil/internal/config"
)

// WriteConfig writes cfg as YAML to path (0600, as it holds passwords),
// for tests that start vigil commands on a config file.
func WriteConfig(t testing.TB, path string, cfg *config.Config) {
	t.Helper()
	data, err := config.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
