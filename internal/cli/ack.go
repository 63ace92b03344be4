package cli

import "github.com/spf13/cobra"

func newAckCmd() *cobra.Command {
	return &cobra.Command{Use: "ack", Short: "ack (not built yet)"}
}
