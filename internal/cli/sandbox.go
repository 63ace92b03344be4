package cli

import "github.com/spf13/cobra"

func newSandboxCmd() *cobra.Command {
	return &cobra.Command{Use: "sandbox", Short: "sandbox role (not built yet)"}
}
