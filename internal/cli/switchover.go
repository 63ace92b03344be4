package cli

import "github.com/spf13/cobra"

func newSwitchoverCmd() *cobra.Command {
	var mf managerFlags
	var to string
	cmd := &cobra.Command{
		Use:   "switchover",
		Short: "Hand the primary role to a replica without losing writes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := mf.client()
			if err != nil {
				return err
			}
			res, err := c.Switchover(cmd.Context(), to)
			if err != nil {
				return err
			}
			return printJSON(cmd, res)
		},
	}
	mf.add(cmd)
	cmd.Flags().StringVar(&to, "to", "", "replica to promote (default: the best one)")
	return cmd
}
