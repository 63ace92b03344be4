package cli

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"vigil/internal/config"
	"vigil/internal/router"
)

func newTopCmd() *cobra.Command {
	var addr, cfgPath, sortKey string
	var n, width int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "top",
		Short: "Print the busiest statement digests of a running proxy",
		Long: "Print the statement digests (normalised statements) with the highest total time, " +
			"as served by the proxy's HTTP API at /api/v1/digests.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			base, err := proxyHTTPURL(addr, cfgPath)
			if err != nil {
				return err
			}
			client := &http.Client{Timeout: 5 * time.Second}
			limit := n
			if sortKey != "total" {
				limit = 0 // the proxy orders by total time: fetch all, sort here
			}
			digests, err := router.FetchDigests(cmd.Context(), client, base, limit)
			if err != nil {
				return err
			}
			if err := router.SortDigests(digests, sortKey); err != nil {
				return err
			}
			if n > 0 && len(digests) > n {
				digests = digests[:n]
			}
			if asJSON {
				return printJSON(cmd, router.DigestsResponse{Digests: digests})
			}
			return router.WriteTop(cmd.OutOrStdout(), digests, width)
		},
	}
	cmd.Flags().StringVar(&addr, "proxy-http", "", "proxy HTTP address host:port or URL (default: proxy.http_listen from --config)")
	cmd.Flags().StringVar(&cfgPath, "config", "vigil.yaml", "configuration file")
	cmd.Flags().IntVarP(&n, "n", "n", 20, "number of digests (0: all)")
	cmd.Flags().StringVar(&sortKey, "sort", "total", "order: "+strings.Join(router.SortKeys, ", "))
	cmd.Flags().IntVar(&width, "width", 100, "cut digest text to this many characters (0: no cut)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// proxyHTTPURL returns the proxy's HTTP base URL from the flag or the file.
func proxyHTTPURL(addr, cfgPath string) (string, error) {
	if addr == "" {
		cfg, err := config.Load(cfgPath)
		if err != nil {
			return "", err
		}
		if cfg.Proxy.HTTPListen == "" {
			return "", fmt.Errorf("%s: proxy.http_listen is not set; pass --proxy-http", cfgPath)
		}
		addr = cfg.Proxy.HTTPListen
	}
	if strings.Contains(addr, "://") {
		return addr, nil
	}
	addr = strings.Replace(addr, "0.0.0.0:", "127.0.0.1:", 1)
	return "http://" + addr, nil
}
