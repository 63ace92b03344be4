package cli

import "github.com/spf13/cobra"

func newFailoverCmd() *cobra.Command {
	return &cobra.Command{Use: "failover", Short: "failover (not built yet)"}
}
