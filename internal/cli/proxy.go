package cli

import "github.com/spf13/cobra"

func newProxyCmd() *cobra.Command {
	return &cobra.Command{Use: "proxy", Short: "proxy role (not built yet)"}
}
