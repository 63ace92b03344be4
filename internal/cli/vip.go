package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"vigil/internal/config"
	"vigil/internal/vip"
)

// vipOptions are the flags of `vigil vip`.
type vipOptions struct {
	path    string
	verbose bool
	flags   config.VIP
}

// newVIPCmd is `vigil vip`: the VRRP speaker (package vip does the work).
// Every flag is also a key of the config file's vip section; flags win.
func newVIPCmd() *cobra.Command {
	var o vipOptions
	cmd := &cobra.Command{
		Use:   "vip",
		Short: "Hold a virtual IP on the healthy proxy host (VRRPv3, keepalived-compatible)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sec, err := vipSection(o.path, o.flags, cmd.Flags())
			if err != nil {
				return err
			}
			return runVIP(cmd.Context(), sec, o.verbose)
		},
	}
	o.bind(cmd.Flags())
	return cmd
}

func (o *vipOptions) bind(fl *pflag.FlagSet) {
	f := &o.flags
	fl.StringVar(&o.path, "config", "", "configuration file (its vip section); flags override it")
	fl.BoolVarP(&o.verbose, "verbose", "v", false, "debug logging")
	fl.StringVar(&f.Interface, "interface", "", "interface for the virtual address and VRRP")
	fl.IntVar(&f.VRID, "vrid", 0, "virtual router id, 1..255")
	fl.IntVar(&f.Priority, "priority", 100, "priority, 1..255 (higher wins)")
	fl.StringArrayVar(&f.Addresses, "vip", nil, "virtual address ADDR/PREFIX (repeatable)")
	fl.DurationVar(&f.AdvertInterval, "advert-interval", 100*time.Millisecond, "advert interval (whole centiseconds)")
	fl.BoolVar(&f.NoPreempt, "nopreempt", false, "do not take over from a live lower-priority master")
	fl.StringArrayVar(&f.UnicastPeers, "unicast-peer", nil, "unicast peer address (repeatable; default multicast 224.0.0.18)")
	fl.StringVar(&f.Check, "check", "", "local proxy health check: tcp:HOST:PORT or mysql:HOST:PORT")
	fl.DurationVar(&f.CheckInterval, "check-interval", 200*time.Millisecond, "health check period")
	fl.DurationVar(&f.CheckTimeout, "check-timeout", time.Second, "health check timeout")
	fl.IntVar(&f.CheckFall, "check-fall", 3, "failures in a row that fail the check")
	fl.IntVar(&f.CheckRise, "check-rise", 2, "successes in a row that pass the check")
	fl.IntVar(&f.CheckWeight, "check-weight", 0, "priority lowered while the check fails (0: go to FAULT)")
	fl.StringVar(&f.Notify, "notify", "", "command run with MASTER, BACKUP or FAULT appended")
	fl.StringVar(&f.HTTPListen, "http-listen", "", "serve /metrics on HOST:PORT")
	fl.IntVar(&f.DownAdverts, "down-adverts", 3, "adverts missed before takeover")
	fl.DurationVar(&f.GARPRepeat, "garp-repeat", time.Second, "delay of the second gratuitous ARP burst")
	fl.DurationVar(&f.GARPRefresh, "garp-refresh", 10*time.Second, "gratuitous ARP period while master")
}

// vipSection merges the file's vip section with the flags that were set.
func vipSection(path string, flags config.VIP, set *pflag.FlagSet) (config.VIP, error) {
	var sec config.VIP
	if path != "" {
		cfg, err := config.Load(path)
		if err != nil {
			return sec, err
		}
		sec = cfg.VIP
	}
	over := map[string]func(){
		"interface": func() { sec.Interface = flags.Interface }, "vrid": func() { sec.VRID = flags.VRID },
		"priority": func() { sec.Priority = flags.Priority }, "vip": func() { sec.Addresses = flags.Addresses },
		"advert-interval": func() { sec.AdvertInterval = flags.AdvertInterval },
		"nopreempt":       func() { sec.NoPreempt = flags.NoPreempt },
		"unicast-peer":    func() { sec.UnicastPeers = flags.UnicastPeers }, "check": func() { sec.Check = flags.Check },
		"check-interval": func() { sec.CheckInterval = flags.CheckInterval },
		"check-timeout":  func() { sec.CheckTimeout = flags.CheckTimeout },
		"check-fall":     func() { sec.CheckFall = flags.CheckFall }, "check-rise": func() { sec.CheckRise = flags.CheckRise },
		"check-weight": func() { sec.CheckWeight = flags.CheckWeight }, "notify": func() { sec.Notify = flags.Notify },
		"http-listen": func() { sec.HTTPListen = flags.HTTPListen }, "down-adverts": func() { sec.DownAdverts = flags.DownAdverts },
		"garp-repeat": func() { sec.GARPRepeat = flags.GARPRepeat }, "garp-refresh": func() { sec.GARPRefresh = flags.GARPRefresh },
	}
	for name, apply := range over {
		if set.Changed(name) || (path == "" && set.Lookup(name) != nil) {
			apply()
		}
	}
	if err := sec.Validate(); err != nil {
		return sec, fmt.Errorf("vip: %w", err)
	}
	return sec, nil
}

func vipConfig(sec config.VIP) (vip.Config, error) {
	c := vip.Config{
		Interface: sec.Interface, VRID: sec.VRID, Priority: sec.Priority, AdvertInterval: sec.AdvertInterval,
		NoPreempt: sec.NoPreempt, Check: sec.Check, CheckInterval: sec.CheckInterval, CheckTimeout: sec.CheckTimeout,
		CheckFall: sec.CheckFall, CheckRise: sec.CheckRise, CheckWeight: sec.CheckWeight, Notify: sec.Notify,
		DownAdverts: sec.DownAdverts, GARPRepeat: sec.GARPRepeat, GARPRefresh: sec.GARPRefresh,
	}
	if c.Priority == 0 {
		c.Priority = 100
	}
	for _, a := range sec.Addresses {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			return c, fmt.Errorf("vip %q: %w", a, err)
		}
		c.Addresses = append(c.Addresses, p)
	}
	for _, a := range sec.UnicastPeers {
		p, err := netip.ParseAddr(a)
		if err != nil {
			return c, fmt.Errorf("unicast peer %q: %w", a, err)
		}
		c.UnicastPeers = append(c.UnicastPeers, p)
	}
	return c, nil
}

func runVIP(ctx context.Context, sec config.VIP, verbose bool) error {
	cfg, err := vipConfig(sec)
	if err != nil {
		return err
	}
	log := newLogger(verbose).With("role", "vip")
	reg := prometheus.NewRegistry()
	speaker, err := vip.New(cfg, log, reg)
	if err != nil {
		return fmt.Errorf("vip: %w", err)
	}
	if sec.HTTPListen != "" {
		ln, err := net.Listen("tcp", sec.HTTPListen)
		if err != nil {
			return fmt.Errorf("vip: metrics listener: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("metrics server stopped", "err", err)
			}
		}()
		defer srv.Close()
	}
	return speaker.Run(ctx)
}
