package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"vigil/internal/sandbox"
)

// newSandboxCmd is `vigil sandbox`: a real local MariaDB cluster with a
// manager and a proxy (package sandbox does the work).
func newSandboxCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "sandbox",
		Short: "Run a real replicated MariaDB cluster with manager and proxy on this machine",
	}
	cmd.PersistentFlags().StringVar(&dir, "dir", "./vigil-sandbox", "sandbox directory")
	cmd.AddCommand(
		newSandboxUpCmd(&dir),
		newSandboxStatusCmd(&dir),
		&cobra.Command{Use: "down", Short: "Stop proxy, manager and servers cleanly (data kept)", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error { return sandboxDo(cmd, dir, "down", "") }},
		&cobra.Command{Use: "destroy", Short: "Stop everything and delete the sandbox directory", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error { return sandboxDo(cmd, dir, "destroy", "") }},
	)
	for _, action := range []string{"start", "stop", "kill"} {
		cmd.AddCommand(&cobra.Command{
			Use:   action + " NODE",
			Short: strings.ToUpper(action[:1]) + action[1:] + " one server (db1, db2, ...), the proxy or the manager" + map[string]string{"kill": " with SIGKILL"}[action],
			Args:  cobra.ExactArgs(1),
			RunE:  func(cmd *cobra.Command, args []string) error { return sandboxDo(cmd, dir, action, args[0]) },
		})
	}
	return cmd
}

func newSandboxUpCmd(dir *string) *cobra.Command {
	var o sandbox.StackOptions
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Create or start the sandbox and print its endpoint",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("find the vigil executable: %w", err)
			}
			o.Dir, o.Executable, o.Logger = *dir, exe, newLogger(false)
			if err := checkCreationFlags(o, cmd.Flags().Changed); err != nil {
				return err
			}
			c, cfg, err := sandbox.UpStack(cmd.Context(), o)
			if err != nil {
				return err
			}
			if o.ServersOnly {
				return c.WriteServers(cmd.OutOrStdout())
			}
			return c.WriteWelcome(cmd.OutOrStdout(), cfg)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Replicas, "replicas", 2, "number of replicas (servers are db1..dbN+1)")
	f.IntVar(&o.BasePort, "base-port", 3307, "db1's port; dbN listens on base-port+N-1 (0: free ports)")
	f.IntVar(&o.ProxyPort, "proxy-port", 6033, "the proxy's MySQL port (its HTTP port is +1, the manager's +2 when free)")
	f.StringVar(&o.AppUser, "app-user", "moodle", "application user")
	f.StringVar(&o.AppPassword, "app-password", "moodle", "application user's password")
	f.BoolVar(&o.SemiSync, "semisync", false, "semi-synchronous replication (AFTER_SYNC)")
	f.BoolVar(&o.ServersOnly, "servers-only", false, "start the MariaDB servers only (no manager, no proxy)")
	return cmd
}

func newSandboxStatusCmd(dir *string) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show each server, the manager and the proxy",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := sandbox.Open(sandbox.Options{Dir: *dir})
			if err != nil {
				return err
			}
			st := c.Status(cmd.Context())
			if !asJSON {
				return st.WriteText(cmd.OutOrStdout())
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(st)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (shape documented in the README)")
	return cmd
}

// sandboxDo runs one of down, destroy, start, stop, kill on an existing sandbox.
func sandboxDo(cmd *cobra.Command, dir, action, name string) error {
	c, err := sandbox.Open(sandbox.Options{Dir: dir})
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	role := name == sandbox.RoleManager || name == sandbox.RoleProxy
	if name != "" && !role && c.Node(name) == nil {
		return fmt.Errorf("%s: no such node (want db1..db%d, proxy or manager)", name, len(c.Nodes()))
	}
	switch {
	case action == "down":
		return c.DownStack(ctx)
	case action == "destroy":
		return c.DestroyStack()
	case action == "start" && role:
		return startSandboxRole(c, name)
	case action == "start":
		return c.Start(ctx, name)
	case action == "stop" && role:
		return c.StopRole(ctx, name)
	case action == "stop":
		return c.Stop(ctx, name)
	case action == "kill" && role:
		return c.KillRole(name)
	default:
		return c.Kill(name)
	}
}

// startSandboxRole starts this vigil binary as the sandbox's manager or proxy.
func startSandboxRole(c *sandbox.Cluster, role string) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the vigil executable: %w", err)
	}
	return c.StartRole(role, exe)
}
