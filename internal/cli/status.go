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
	var events int
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
			if err := manager.WriteStatus(cmd.OutOrStdout(), st); err != nil || events <= 0 {
				return err
			}
			evs, err := c.Events(cmd.Context(), 0)
			if err != nil {
				return err
			}
			return manager.WriteEvents(cmd.OutOrStdout(), evs[max(0, len(evs)-events):])
		},
	}
	mf.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().IntVar(&events, "events", 0, "also print the last N manager events")
	return cmd
}

func printJSON(cmd *cobra.Command, v any) error {
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
