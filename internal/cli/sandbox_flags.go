package cli

import (
	"fmt"
	"strings"

	"vigil/internal/sandbox"
)

// checkCreationFlags fails when the sandbox in o.Dir already exists and a
// creation flag given on the command line (changed reports which) asks for
// something else than it has: `up` would start it as it is, silently
// ignoring the flag.
func checkCreationFlags(o sandbox.StackOptions, changed func(flag string) bool) error {
	if !sandbox.Exists(o.Dir) {
		return nil
	}
	c, err := sandbox.Open(sandbox.Options{Dir: o.Dir})
	if err != nil {
		return nil // Up reports it
	}
	nodes := c.Nodes()
	var bad []string
	if changed("replicas") && len(nodes)-1 != o.Replicas {
		bad = append(bad, fmt.Sprintf("--replicas %d (it has %d)", o.Replicas, len(nodes)-1))
	}
	if changed("base-port") && o.BasePort != 0 && len(nodes) > 0 && nodes[0].Port != o.BasePort {
		bad = append(bad, fmt.Sprintf("--base-port %d (db1 listens on %d)", o.BasePort, nodes[0].Port))
	}
	if changed("semisync") && c.SemiSync() != o.SemiSync {
		bad = append(bad, fmt.Sprintf("--semisync=%v (it has %v)", o.SemiSync, c.SemiSync()))
	}
	if changed("app-user") && c.App().User != o.AppUser {
		bad = append(bad, fmt.Sprintf("--app-user %s (it has %s)", o.AppUser, c.App().User))
	}
	if changed("app-password") && c.App().Password != o.AppPassword {
		bad = append(bad, "--app-password (it has another)")
	}
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("%s already holds a sandbox, which `up` starts as it was created; it does not match %s: "+
		"drop those flags, or run `vigil sandbox destroy --dir %s` first to create it anew", o.Dir, strings.Join(bad, ", "), o.Dir)
}
