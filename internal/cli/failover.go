package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

func newFailoverCmd() *cobra.Command {
	var mf managerFlags
	var to string
	var force bool
	cmd := &cobra.Command{
		Use:   "failover --force",
		Short: "Replace the primary now, even if it answers (fences it; bypasses the anti-flap block)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !force {
				return errors.New("a manual failover fences the current primary: confirm with --force (or use vigil switchover)")
			}
			c, err := mf.client()
			if err != nil {
				return err
			}
			res, err := c.Failover(cmd.Context(), to)
			if err != nil {
				return err
			}
			return printJSON(cmd, res)
		},
	}
	mf.add(cmd)
	cmd.Flags().StringVar(&to, "to", "", "replica to promote (default: the best one)")
	cmd.Flags().BoolVar(&force, "force", false, "really fail over")
	return cmd
}
