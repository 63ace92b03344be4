package cli

import "github.com/spf13/cobra"

func newManagerCmd() *cobra.Command {
	return &cobra.Command{Use: "manager", Short: "manager role (not built yet)"}
}
