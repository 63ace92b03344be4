package cli

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestVIPFlagsOverrideConfigFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.yaml")
	doc := "vip:\n  interface: eth0\n  vrid: 51\n  priority: 150\n  addresses: [10.0.0.100/24]\n  advert_interval: 1s\n"
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	var o vipOptions
	fs := pflag.NewFlagSet("vip", pflag.ContinueOnError)
	o.bind(fs)
	if err := fs.Parse([]string{"--config", path, "--priority", "90", "--unicast-peer", "10.0.0.12"}); err != nil {
		t.Fatal(err)
	}
	sec, err := vipSection(o.path, o.flags, fs)
	if err != nil {
		t.Fatal(err)
	}
	if sec.Priority != 90 || sec.VRID != 51 || sec.AdvertInterval != time.Second || len(sec.UnicastPeers) != 1 {
		t.Fatalf("got %+v, want priority 90 from the flag, vrid 51 and 1s from the file, one peer", sec)
	}
	c, err := vipConfig(sec)
	if err != nil || c.Addresses[0].String() != "10.0.0.100/24" || c.UnicastPeers[0].String() != "10.0.0.12" {
		t.Fatalf("vipConfig = %+v, %v", c, err)
	}
}
