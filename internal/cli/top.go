package cli

import "github.com/spf13/cobra"

func newTopCmd() *cobra.Command {
	return &cobra.Command{Use: "top", Short: "top (not built yet)"}
}
