package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newAckCmd() *cobra.Command {
	var mf managerFlags
	cmd := &cobra.Command{
		Use:   "ack",
		Short: "Acknowledge the last failover: allow automatic failover again before the block ends",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := mf.client()
			if err != nil {
				return err
			}
			if err := c.Ack(cmd.Context()); err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), "acknowledged: automatic failover allowed again")
			return err
		},
	}
	mf.add(cmd)
	return cmd
}
