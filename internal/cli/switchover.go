package cli

import "github.com/spf13/cobra"

func newSwitchoverCmd() *cobra.Command {
	return &cobra.Command{Use: "switchover", Short: "switchover (not built yet)"}
}
