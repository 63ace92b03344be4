package cli

import (
	"encoding/json"

	"github.com/spf13/cobra"

	"vigil/internal/config"
	"vigil/internal/manager"
)

// managerFlags locate the manager: --manager URL, or the listen address
// from --config.
type managerFlags struct {
	url, config string
}

func (m *managerFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&m.url, "manager", "", "manager API URL (default: manager.listen from --config)")
	cmd.Flags().StringVar(&m.config, "config", "vigil.yaml", "configuration file")
}

func (m *managerFlags) client() (*manager.Client, error) {
	if m.url != "" {
		return manager.NewClient(m.url), nil
	}
	cfg, err := config.Load(m.config)
	if err != nil {
		return nil, err
	}
	return manager.NewClient(manager.ListenURL(cfg.Manager.Listen)), nil
}

func newStatusCmd() *cobra.Command {
	var mf managerFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the topology: roles, lag and health of every server",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := mf.client()
			if err != nil {
				return err
			}
			st, err := c.Status(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			return manager.WriteStatus(cmd.OutOrStdout(), st)
		},
	}
	mf.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printJSON(cmd *cobra.Command, v any) error {
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
