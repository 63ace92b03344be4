package failover

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunHooks(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	env := map[string]string{"OLD_PRIMARY": "db1", "NEW_PRIMARY": "db2"}
	err := RunHooks(context.Background(), []string{`echo "$VIGIL_OLD_PRIMARY>$VIGIL_NEW_PRIMARY" > ` + out}, env)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out)
	if strings.TrimSpace(string(got)) != "db1>db2" {
		t.Errorf("hook saw %q, want db1>db2", got)
	}
	err = RunHooks(context.Background(), []string{"echo nope >&2; exit 3", "touch " + out + ".never"}, env)
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("failing hook: got %v, want an error with its output", err)
	}
	if _, err := os.Stat(out + ".never"); err == nil {
		t.Errorf("a hook after a failing one ran; want the chain to stop")
	}
}
