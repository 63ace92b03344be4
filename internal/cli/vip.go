package cli

import "github.com/spf13/cobra"

func newVIPCmd() *cobra.Command {
	return &cobra.Command{Use: "vip", Short: "vip role (not built yet)"}
}
