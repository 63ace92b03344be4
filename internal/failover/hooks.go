package failover

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"time"
)

// HookTimeout bounds one hook command.
const HookTimeout = 10 * time.Second

// RunHooks runs each command with `sh -c` in order, with the facts in env
// added to the environment as VIGIL_<KEY>=value. It stops at the first
// command that fails and returns its error with the command's output.
func RunHooks(ctx context.Context, cmds []string, env map[string]string) error {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	vars := os.Environ()
	for _, k := range keys {
		vars = append(vars, "VIGIL_"+k+"="+env[k])
	}
	for _, c := range cmds {
		hctx, cancel := context.WithTimeout(ctx, HookTimeout)
		cmd := exec.CommandContext(hctx, "sh", "-c", c)
		cmd.Env = vars
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			return fmt.Errorf("hook %q: %w: %s", c, err, truncate(string(out), 400))
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
